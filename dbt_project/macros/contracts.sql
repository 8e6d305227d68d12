{#
  Model contracts (the feature marts) declare their column types once, in DuckDB's names
  (varchar, varchar[], timestamp with time zone), which tests hold equal to the event
  contract and ml/features.py. dbt checks a contract by casting NULL to each declared type
  and comparing the result with the model's columns; Spark knows none of those three
  names, so on Spark the declared types are translated first (bidlake_type). This
  overrides dbt's own dispatch of get_empty_schema_sql for Spark only; DuckDB keeps dbt's.
#}
{% macro spark__get_empty_schema_sql(columns) %}
  {%- set translated = {} -%}
  {%- for name, column in columns.items() -%}
    {%- if column.get('data_type') -%}
      {%- do translated.update({name: dict(column, data_type=bidlake_type(column['data_type']))}) -%}
    {%- else -%}
      {%- do translated.update({name: column}) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(dbt.default__get_empty_schema_sql(translated)) }}
{% endmacro %}
