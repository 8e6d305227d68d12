{#
  Sets of hours for incremental models, as sorted lists of epoch hours (hours since
  1970-01-01 UTC). Rendered into SQL as constants, so DuckDB prunes hive partitions of the
  lake (staging views) and row groups of tables by them.
  `none` instead of a list means every hour, with no filter at all: what the Spark target
  uses, which rebuilds everything every run and keeps no lake snapshot to list hours from.
  The filters below render `true` for it, bidlake_for_each_batch one unfiltered batch.
#}

{% macro bidlake_hours_union(a, b) %}
  {{ return((a + b) | unique | sort) }}
{% endmacro %}


{# Every hour h + d for h in hours and lo <= d <= hi. #}
{% macro bidlake_hours_shift(hours, lo, hi) %}
  {%- set out = [] -%}
  {%- for h in hours -%}
    {%- for d in range(lo, hi + 1) -%}{%- do out.append(h + d) -%}{%- endfor -%}
  {%- endfor -%}
  {{ return(out | unique | sort) }}
{% endmacro %}


{# The UTC day (epoch days) of each hour. #}
{% macro bidlake_hours_days(hours) %}
  {%- if hours is none -%}{{ return(none) }}{%- endif -%}
  {%- set out = [] -%}
  {%- for h in hours -%}{%- do out.append(h // 24) -%}{%- endfor -%}
  {{ return(out | unique | sort) }}
{% endmacro %}


{% macro bidlake_epoch_day_literal(day) -%}
  date '{{ (modules.datetime.date(1970, 1, 1) + modules.datetime.timedelta(days=day)).isoformat() }}'
{%- endmacro %}


{#
  A predicate selecting rows whose (date_col, hour_col) is one of `hours`, grouped by day:
  (date_col = date 'D' and hour_col in (0, 1)) or ... ; `false` for no hours.
  DuckDB evaluates it on the partition values of each lake file, reading only those files.
#}
{% macro bidlake_hours_filter(date_col, hour_col, hours) -%}
  {%- if hours is none -%}
    true
  {%- elif hours | length == 0 -%}
    false
  {%- else -%}
    {%- set by_day = {} -%}
    {%- for h in hours -%}
      {%- do by_day.setdefault(h // 24, []).append(h % 24) -%}
    {%- endfor -%}
    (
    {%- for day in by_day | sort %}
        {{ 'or ' if not loop.first }}({{ date_col }} = {{ bidlake_epoch_day_literal(day) }} and {{ hour_col }} in ({{ by_day[day] | join(', ') }}))
    {%- endfor %}
    )
  {%- endif -%}
{%- endmacro %}


{# Rows whose date_col is one of the epoch days `days`; `false` for none. #}
{% macro bidlake_days_filter(date_col, days) -%}
  {%- if days is none -%}
    true
  {%- elif days | length == 0 -%}
    false
  {%- else -%}
    {{ date_col }} in ({% for day in days %}{{ bidlake_epoch_day_literal(day) }}{{ ', ' if not loop.last }}{% endfor %})
  {%- endif -%}
{%- endmacro %}


{# Timestamp literal of the start of an epoch hour, UTC. #}
{% macro bidlake_epoch_hour_literal(hour) -%}
  {{ return(adapter.dispatch('bidlake_epoch_hour_literal', 'bidlake')(hour)) }}
{%- endmacro %}

{% macro default__bidlake_epoch_hour_literal(hour) -%}
  to_timestamp({{ hour * 3600 }})
{%- endmacro %}

{% macro spark__bidlake_epoch_hour_literal(hour) -%}
  timestamp_seconds({{ hour * 3600 }})
{%- endmacro %}


{# A constant time range covering `hours`, on a timestamptz column: DuckDB skips the row
   groups of a table whose min/max lie outside it (the exact hours filter alone, an OR of
   terms, does not). #}
{% macro bidlake_hours_range(ts_col, hours) -%}
  {%- if hours is none -%}
    true
  {%- elif hours | length == 0 -%}
    false
  {%- else -%}
    {{ ts_col }} >= {{ bidlake_epoch_hour_literal(hours[0]) }} and {{ ts_col }} < {{ bidlake_epoch_hour_literal(hours[-1] + 1) }}
  {%- endif -%}
{%- endmacro %}


{#
  Hours split into batches of consecutive hours, at most `size` hours each.
  Why batches: DuckDB de-duplicates and joins an hour of bid requests (1.8 M rows at
  500/s) in a fraction of a second, but one query over a day of them costs ten times the
  sum of its hours - hash tables outgrow the CPU caches, and wide rows spill. So heavy
  models run their query once per batch and union the results (bidlake_for_each_batch):
  a full build is then the union of the hourly builds it replaces.
#}
{% macro bidlake_hour_batches(hours, size=none) %}
  {%- set size = size or var('batch_hours', 1) | int -%}
  {%- set batches = [] -%}
  {%- set current = [] -%}
  {%- for h in hours -%}
    {%- if current | length > 0 and (h != current[-1] + 1 or current | length >= size) -%}
      {%- do batches.append(current[:]) -%}
      {%- do current.clear() -%}
    {%- endif -%}
    {%- do current.append(h) -%}
  {%- endfor -%}
  {%- if current | length > 0 -%}{%- do batches.append(current[:]) -%}{%- endif -%}
  {{ return(batches) }}
{% endmacro %}


{#
  `{% call(batch) bidlake_for_each_batch(hours) %} select ... {{ batch }} ... {% endcall %}`
  renders the block once per batch of `hours` and joins the results with UNION ALL; with
  no hours at all, renders it once for an empty batch (so the query still has its columns
  and types, and returns nothing); with hours `none` (every hour), once for batch `none`.
#}
{% macro bidlake_for_each_batch(hours) -%}
  {%- set batches = [none] if hours is none else bidlake_hour_batches(hours) -%}
  {%- if batches | length == 0 -%}
    {{ caller([]) }}
  {%- else -%}
    {%- for batch in batches %}
    {{ '(' }}{{ caller(batch) }}{{ ')' }}
    {%- if not loop.last %}
    union all
    {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
{%- endmacro %}


{# Every hour present in the lake snapshot for these event types (a full build's hours);
   on Spark `none` (every hour): one query over the lake beats a union of hourly ones there. #}
{% macro bidlake_lake_hours(event_types) %}
  {{ return(adapter.dispatch('bidlake_lake_hours', 'bidlake')(event_types)) }}
{% endmacro %}

{% macro spark__bidlake_lake_hours(event_types) %}
  {{ return(none) }}
{% endmacro %}

{% macro default__bidlake_lake_hours(event_types) %}
  {#- No snapshot table when nothing ran on-run-start (parsing, sqlfluff's lint target). -#}
  {%- if not execute or adapter.get_relation(target.database, 'bidlake_state', 'lake_files') is none -%}
    {{ return([]) }}
  {%- endif -%}
  {%- set query -%}
    select distinct (epoch(event_date)::bigint // 3600 + event_hour)::bigint
    from bidlake_state.lake_files
    where event_type in ('{{ event_types | join("', '") }}')
    order by 1
  {%- endset -%}
  {{ return(run_query(query).columns[0].values() | map('int') | list) }}
{% endmacro %}
