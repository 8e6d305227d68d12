{# A rate or ratio: NULL, not 0 and not an error, when the denominator is 0 or NULL. #}
{% macro safe_divide(numerator, denominator) -%}
  ({{ numerator }})::double / nullif({{ denominator }}, 0)
{%- endmacro %}


{# Timestamp (timestamptz) of epoch milliseconds; exact to the millisecond. #}
{% macro epoch_ms_to_timestamptz(column) -%}
  make_timestamptz({{ column }}::bigint * 1000)
{%- endmacro %}


{# The UTC hour of day (0-23) of a timestamptz, whatever the session's TimeZone. #}
{% macro utc_hour(column) -%}
  hour(timezone('UTC', {{ column }}))
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
