{#
  Tests that look only at what this invocation brought in, so an hourly build does not
  re-test the whole history (a unique test over every bid request ever is minutes, not
  seconds, after a few weeks). A test opts in with a `where` config:

      where: "__window__|lake:bid_request|request_date|request_hour"
      where: "__window__|model:int_publisher_hourly|report_date|report_hour"

  lake:<event type>  the lake hours this invocation brings in (bidlake_state.test_window)
  model:<model>      the partitions that model wrote in this invocation
  A first build or --full-refresh covers everything, so CI tests every row; so does every
  build on Spark (no ledger there: bidlake_window_hours is `none`, every hour).
  The window is resolved when the test runs (dbt's documented get_where_subquery hook), into
  constants, so DuckDB prunes lake files and row groups by it.
#}
{% macro get_where_subquery(relation) -%}
  {%- set where = config.get('where', '') -%}
  {%- if where and where.startswith('__window__|') -%}
    {%- set parts = where.split('|') -%}
    {%- set input, date_col = parts[1], parts[2] -%}
    {%- set hour_col = parts[3] if parts | length > 3 else none -%}
    {%- if input.startswith('lake:') and hour_col -%}
      {#- A staging view de-duplicates as it reads: read it hour batch by hour batch
          (bidlake_hour_batches), as the models do. -#}
      {%- set hours = bidlake_window_hours(input) -%}
      {%- set batched -%}
        {% call(batch) bidlake_for_each_batch(hours) %}
        select * from {{ relation }} where {{ bidlake_hours_filter(date_col, hour_col, batch) }}
        {% endcall %}
      {%- endset -%}
      {%- do return('(' ~ batched ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- set filter = bidlake_window_filter(input, date_col, hour_col) -%}
    {%- do return('(select * from ' ~ relation ~ ' where ' ~ filter ~ ') dbt_subquery') -%}
  {%- elif where -%}
    {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
  {%- else -%}
    {%- do return(relation) -%}
  {%- endif -%}
{%- endmacro %}


{# Epoch hours of the window of one input (see above); `none` (every hour) on Spark, which
   rebuilds and so tests everything every run. #}
{% macro bidlake_window_hours(input) %}
  {{ return(adapter.dispatch('bidlake_window_hours', 'bidlake')(input)) }}
{% endmacro %}

{% macro spark__bidlake_window_hours(input) %}
  {{ return(none) }}
{% endmacro %}

{% macro default__bidlake_window_hours(input) %}
  {%- if not execute -%}{{ return([]) }}{%- endif -%}
  {%- set kind, name = input.split(':', 1) -%}
  {%- if kind == 'lake' -%}
    {%- set query -%}
      select distinct (epoch(part_date)::bigint // 3600 + part_hour)::bigint
      from bidlake_state.test_window where input = '{{ input }}' order by 1
    {%- endset -%}
  {%- else -%}
    {%- set query -%}
      select distinct (epoch(w.part_date)::bigint // 3600 + coalesce(w.part_hour, 0))::bigint
      from bidlake_state.partition_writes as w
      inner join bidlake_state.invocation as i on w.invocation_id = i.invocation_id
      where w.model = '{{ name }}' order by 1
    {%- endset -%}
  {%- endif -%}
  {{ return(run_query(query).columns[0].values() | map('int') | list) }}
{% endmacro %}


{% macro bidlake_window_filter(input, date_col, hour_col=none) -%}
  {%- set hours = bidlake_window_hours(input) -%}
  {%- if hour_col -%}
    {{ bidlake_hours_filter(date_col, hour_col, hours) }}
  {%- else -%}
    {{ bidlake_days_filter(date_col, bidlake_hours_days(hours)) }}
  {%- endif -%}
{%- endmacro %}
