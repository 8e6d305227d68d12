{# The `source` CTE of every tracker staging model: the lake folder of `event_type`
   (source('tracker', event_type)), or, before its first file has landed, an empty
   relation of the same columns and types (macros/lake_source.sql).
   Kept out of lake_source.sql on purpose: sqlfluff's jinja templater resolves a macro
   called from the same file to that file's definition, so the lint override of
   bidlake_lake_has_files (.sqlfluff) reaches only callers in other files. #}
{% macro bidlake_staging_source(event_type) -%}
    {% if bidlake_lake_has_files(event_type) %}
        select * from {{ source('tracker', event_type) }}
    {% else %}
        -- Nothing has landed yet: the same columns, no rows (macros/lake_source.sql).
        {{ bidlake_empty_source('tracker', event_type) }}
    {% endif %}
{%- endmacro %}
