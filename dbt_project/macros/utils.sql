{# A rate or ratio: NULL, not 0 and not an error, when the denominator is 0 or NULL. #}
{% macro safe_divide(numerator, denominator) -%}
  ({{ numerator }})::double / nullif({{ denominator }}, 0)
{%- endmacro %}


{#
  Dialect differences go through adapter.dispatch('<name>', 'bidlake'): default__<name> is
  DuckDB's SQL (the embedded default), spark__<name> Spark SQL's (the `spark` target,
  docs/scaling.md). Models call the plain name and never test the adapter themselves.
  A dispatching macro a model calls while linting also needs a line in .sqlfluff (the lint
  templater has no `adapter`): it renders the default there.
#}

{# Timestamp (timestamptz) of epoch milliseconds; exact to the millisecond. #}
{% macro epoch_ms_to_timestamptz(column) -%}
  {{ return(adapter.dispatch('epoch_ms_to_timestamptz', 'bidlake')(column)) }}
{%- endmacro %}

{% macro default__epoch_ms_to_timestamptz(column) -%}
  make_timestamptz({{ column }}::bigint * 1000)
{%- endmacro %}

{# Spark's timestamp is an instant (shown in the session time zone), like timestamptz. #}
{% macro spark__epoch_ms_to_timestamptz(column) -%}
  timestamp_millis({{ column }})
{%- endmacro %}


{# The UTC hour of day (0-23) of a timestamptz, whatever the session's TimeZone. #}
{% macro utc_hour(column) -%}
  {{ return(adapter.dispatch('utc_hour', 'bidlake')(column)) }}
{%- endmacro %}

{% macro default__utc_hour(column) -%}
  hour(timezone('UTC', {{ column }}))
{%- endmacro %}

{% macro spark__utc_hour(column) -%}
  hour(convert_timezone('UTC', {{ column }}))
{%- endmacro %}


{# The start of hour `hour_col` (0-23) of the UTC day `date_col`, as a timestamptz. #}
{% macro bidlake_hour_start(date_col, hour_col) -%}
  {{ return(adapter.dispatch('bidlake_hour_start', 'bidlake')(date_col, hour_col)) }}
{%- endmacro %}

{% macro default__bidlake_hour_start(date_col, hour_col) -%}
  timezone('UTC', {{ date_col }} + to_hours({{ hour_col }}))
{%- endmacro %}

{# Epoch seconds, so the session's time zone plays no part. #}
{% macro spark__bidlake_hour_start(date_col, hour_col) -%}
  timestamp_seconds(cast(unix_date({{ date_col }}) as bigint) * 86400 + {{ hour_col }} * 3600)
{%- endmacro %}


{# Integer division of integers (both non-negative here): DuckDB's //, Spark's div. #}
{% macro bidlake_int_div(numerator, denominator) -%}
  {{ return(adapter.dispatch('bidlake_int_div', 'bidlake')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__bidlake_int_div(numerator, denominator) -%}
  ({{ numerator }}) // ({{ denominator }})
{%- endmacro %}

{% macro spark__bidlake_int_div(numerator, denominator) -%}
  ({{ numerator }}) div ({{ denominator }})
{%- endmacro %}


{# The SQL type of a column type as the project writes it (DuckDB's names, as in the
   sources' and contracts' data_type): varchar, bigint, varchar[], timestamp with time zone. #}
{% macro bidlake_type(data_type) -%}
  {{ return(adapter.dispatch('bidlake_type', 'bidlake')(data_type)) }}
{%- endmacro %}

{% macro default__bidlake_type(data_type) -%}
  {{ return(data_type) }}
{%- endmacro %}

{% macro spark__bidlake_type(data_type) -%}
  {%- set t = data_type | trim | lower -%}
  {%- if t.endswith('[]') -%}
    {{ return('array<' ~ spark__bidlake_type(t[:-2]) ~ '>') }}
  {%- endif -%}
  {%- set names = {
      'varchar': 'string', 'text': 'string', 'json': 'string',
      'timestamp with time zone': 'timestamp', 'timestamptz': 'timestamp',
  } -%}
  {{ return(names.get(t, t)) }}
{%- endmacro %}


{# A query turning the `columns` of `relation` (a table, CTE or parenthesised query) into
   rows: `name` holds the column's name, `value` its value; the other columns are kept and
   NULL values are dropped (both dialects' default). #}
{% macro bidlake_unpivot(relation, columns, name, value) -%}
  {{ return(adapter.dispatch('bidlake_unpivot', 'bidlake')(relation, columns, name, value)) }}
{%- endmacro %}

{% macro default__bidlake_unpivot(relation, columns, name, value) -%}
  unpivot {{ relation }} on {{ columns | join(', ') }} into name {{ name }} value {{ value }}
{%- endmacro %}

{% macro spark__bidlake_unpivot(relation, columns, name, value) -%}
  select * from {{ relation }} unpivot ({{ value }} for {{ name }} in ({{ columns | join(', ') }}))
{%- endmacro %}


{#
  The incremental strategy of the hour-partitioned models. DuckDB: replace_partitions, the
  ledger-driven strategy of macros/incremental/. Spark: no ledger (it needs DELETE and
  transactions, which plain Parquet tables lack), so dbt_project.yml sets full_refresh
  there and every run rebuilds these models whole; dbt-spark still validates the strategy
  name, and insert_overwrite is the one a ledger on Delta/Iceberg tables would use.
#}
{% macro bidlake_incremental_strategy() -%}
  {{ return(adapter.dispatch('bidlake_incremental_strategy', 'bidlake')()) }}
{%- endmacro %}

{% macro default__bidlake_incremental_strategy() -%}
  {{ return('replace_partitions') }}
{%- endmacro %}

{% macro spark__bidlake_incremental_strategy() -%}
  {{ return('insert_overwrite') }}
{%- endmacro %}


{# Spend of impressions, in micros: clearing prices are CPM, so spend = price / 1000.
   Summed in integer micros first and divided once, so no rounding accumulates. #}
{% macro spend_micros(clearing_price_micros_sum) -%}
  round(({{ clearing_price_micros_sum }}) / 1000)::bigint
{%- endmacro %}


{# Custom schema names are used as-is (staging, intermediate, reporting, features), the
   same folder -> schema rule the Dagster translator uses for asset groups. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
  {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}


{# The same expression as a string, for configs (partition_by). #}
{% macro bidlake_utc_hour_sql(column) -%}
  {{ return("hour(timezone('UTC', " ~ column ~ "))") }}
{%- endmacro %}


{# A SQL string literal of `text`. #}
{% macro bidlake_sql_string(text) -%}
  '{{ text | replace("'", "''") }}'
{%- endmacro %}
