{#
  Incremental strategy `replace_partitions` (the insert_overwrite of Spark and BigQuery,
  which dbt-duckdb does not ship): every partition present in the new batch is deleted
  from the target and replaced by the batch's rows for it. So the batch must hold the
  *complete* contents of each partition it touches - the models recompute whole hours.
  The written partitions are logged in bidlake_state.partition_writes for downstream
  models and for publish().

  Partitions are meta.incremental.partition_by: [<date expression>, <hour expression>]
  (or just the date for daily tables), evaluated on the model's columns.
#}
{% macro get_incremental_replace_partitions_sql(arg_dict) %}
  {%- set target = arg_dict['target_relation'] -%}
  {%- set source = arg_dict['temp_relation'] -%}
  {%- set meta = bidlake_incremental_meta() -%}
  {%- if meta is none or not meta.get('partition_by') -%}
    {{ exceptions.raise_compiler_error(this.identifier ~ ": replace_partitions needs meta.incremental.partition_by") }}
  {%- endif -%}
  {%- set parts = meta['partition_by'] -%}
  {%- set date_expr = parts[0] -%}
  {%- set hour_expr = parts[1] if parts | length > 1 else 'null::integer' -%}
  {%- set cols = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
  {#- A constant date range lets DuckDB skip row groups of the target by their zonemaps. -#}
  {%- set bounds = run_query('select min(' ~ date_expr ~ ')::varchar, max(' ~ date_expr ~ ')::varchar from ' ~ source) -%}
  {%- set lo, hi = bounds.rows[0][0], bounds.rows[0][1] -%}
  {%- if lo is none -%}
    {#- An empty batch: nothing changed. -#}
    select 1 where false
  {%- else -%}
  create or replace temporary table bidlake_batch_partitions as
  select distinct {{ date_expr }} as part_date, {{ hour_expr }} as part_hour from {{ source }};

  delete from {{ target }}
  where
      {{ date_expr }} between date '{{ lo }}' and date '{{ hi }}'
      and exists (
          select 1 from bidlake_batch_partitions as p
          where p.part_date = {{ date_expr }} and p.part_hour is not distinct from {{ hour_expr }}
      );

  insert into {{ target }} ({{ cols }})
  select {{ cols }} from {{ source }};

  delete from bidlake_state.partition_writes as w
  where
      w.model = '{{ this.identifier }}'
      and exists (
          select 1 from bidlake_batch_partitions as p
          where p.part_date = w.part_date and p.part_hour is not distinct from w.part_hour
      );

  insert into bidlake_state.partition_writes
  select '{{ this.identifier }}', part_date, part_hour, '{{ invocation_id }}', now()
  from bidlake_batch_partitions;

  drop table bidlake_batch_partitions
  {%- endif -%}
{% endmacro %}
