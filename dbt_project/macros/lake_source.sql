{#
  A lake folder with no file yet (no conversion has happened, or a brand-new lake) has no
  Parquet for read_parquet to open, and DuckDB refuses an empty glob. Staging models then
  read an empty relation of the same columns and types instead, built from the data_type
  of each column in _tracker__sources.yml (the contract's types; a test keeps them equal),
  in the target's dialect (bidlake_type).
  While parsing, there is no lake to ask: the source is assumed present, so dbt records
  the dependency on it.
#}
{% macro bidlake_lake_has_files(event_type) %}
  {%- if not execute or adapter.get_relation(target.database, 'bidlake_state', 'lake_files') is none -%}
    {{ return(true) }}
  {%- endif -%}
  {%- set query -%}
    select count(*) from bidlake_state.lake_files where event_type = '{{ event_type }}'
  {%- endset -%}
  {{ return(run_query(query).columns[0].values()[0] > 0) }}
{% endmacro %}


{% macro bidlake_empty_source(source_name, table_name) -%}
  {%- set node = graph.sources.values()
      | selectattr('source_name', 'equalto', source_name)
      | selectattr('name', 'equalto', table_name) | first -%}
  select
  {%- for column in node.columns.values() %}
      null::{{ bidlake_type(column.data_type) }} as {{ column.name }},
  {%- endfor %}
      null::date as event_date,
      null::integer as event_hour
  where false
{%- endmacro %}
