{#
  The ledger of an incremental model: what it has already folded in.

  An incremental model declares, in its config, meta.incremental:
    partition_by: [<date expression>, <hour expression>]   (hour omitted for daily tables)
    inputs:       lake: [event types it reads from the lake, through staging]
                  models: [incremental models it reads]
  Its *input items* are the lake files of those event types (bidlake_state.lake_files) and
  the partition writes of those models (bidlake_state.partition_writes). An item the model
  has not consumed yet marks its hour as changed: a new hour, a late file landing in an old
  hour, a compacted file replacing small ones, or an upstream partition rewritten. The
  model recomputes the partitions those hours touch (its SQL says how hours map), replaces
  them (strategy replace_partitions), and the post-hook records the items as consumed -
  in the same transaction as the data, so a failed build consumes nothing.
  No fixed lookback: an event that arrives a week late still gets its hour rebuilt.
#}

{% macro bidlake_incremental_meta() %}
  {{ return((config.get('meta') or {}).get('incremental')) }}
{% endmacro %}


{# SQL of the items available for one input: (item, part_date, part_hour). #}
{% macro bidlake_available_items(input) %}
  {%- set kind, name = input.split(':', 1) -%}
  {%- if kind == 'lake' -%}
    select file as item, event_date as part_date, event_hour as part_hour
    from bidlake_state.lake_files where event_type = '{{ name }}'
  {%- elif kind == 'model' -%}
    select
        part_date::varchar || '|' || coalesce(part_hour::varchar, '*') || '|' || invocation_id as item,
        part_date,
        part_hour
    from bidlake_state.partition_writes where model = '{{ name }}'
  {%- else -%}
    {{ exceptions.raise_compiler_error("unknown incremental input " ~ input) }}
  {%- endif -%}
{% endmacro %}


{% macro bidlake_inputs(meta) %}
  {%- set inputs = [] -%}
  {%- for name in meta.get('inputs', {}).get('lake', []) -%}{%- do inputs.append('lake:' ~ name) -%}{%- endfor -%}
  {%- for name in meta.get('inputs', {}).get('models', []) -%}{%- do inputs.append('model:' ~ name) -%}{%- endfor -%}
  {{ return(inputs) }}
{% endmacro %}


{#
  Changed hours per input, as epoch hours (hours since 1970-01-01 UTC), for the current
  model: {'bid': [475200, 475201], 'model:int_x': [...]} with lake inputs keyed by their
  event type and model inputs by their name. Call only when is_incremental().
#}
{% macro bidlake_changed_hours() %}
  {%- set meta = bidlake_incremental_meta() -%}
  {%- set changed = {} -%}
  {%- if not execute -%}{{ return(changed) }}{%- endif -%}
  {%- set forced = bidlake_rebuild_hours() -%}
  {%- for input in bidlake_inputs(meta) -%}
    {%- set query -%}
      select distinct (epoch(a.part_date)::bigint // 3600 + coalesce(a.part_hour, 0))::bigint as epoch_hour
      from ({{ bidlake_available_items(input) }}) as a
      where not exists (
          select 1 from bidlake_state.consumed as c
          where c.model = '{{ this.identifier }}' and c.input = '{{ input }}' and c.item = a.item
      )
      order by 1
    {%- endset -%}
    {%- set hours = run_query(query).columns[0].values() | map('int') | list -%}
    {%- do changed.update({input.split(':', 1)[1]: (hours + forced) | unique | sort}) -%}
  {%- endfor -%}
  {{ return(changed) }}
{% endmacro %}


{# Pre-hook (inside the model's transaction): a full build starts a fresh ledger. #}
{% macro bidlake_incremental_pre_hook() %}
  {{ return(adapter.dispatch('bidlake_incremental_pre_hook', 'bidlake')()) }}
{% endmacro %}

{#
  Spark keeps no ledger: its plain Parquet tables have neither DELETE nor transactions, so
  the ledger could not commit with the data, and dbt_project.yml makes every incremental
  model a full rebuild there (docs/scaling.md, "dbt on Spark").
#}
{% macro spark__bidlake_incremental_pre_hook() %}
  {{ return('') }}
{% endmacro %}

{% macro spark__bidlake_incremental_post_hook() %}
  {{ return('') }}
{% endmacro %}

{% macro default__bidlake_incremental_pre_hook() %}
  {%- set meta = bidlake_incremental_meta() -%}
  {%- if meta is none or not execute or is_incremental() -%}{{ return('') }}{%- endif -%}
  delete from bidlake_state.consumed where model = '{{ this.identifier }}';
  delete from bidlake_state.partition_writes where model = '{{ this.identifier }}';
{% endmacro %}


{#
  Post-hook (inside the model's transaction): after a full build, log every partition as
  written now (an incremental run's strategy logged its own); then record every available
  input item as consumed, and forget items that no longer exist (compacted-away files,
  superseded partition writes).
#}
{% macro bidlake_incremental_post_hook() %}
  {{ return(adapter.dispatch('bidlake_incremental_post_hook', 'bidlake')()) }}
{% endmacro %}

{% macro default__bidlake_incremental_post_hook() %}
  {%- set meta = bidlake_incremental_meta() -%}
  {%- if meta is none or not execute -%}{{ return('') }}{%- endif -%}
  {%- set parts = meta['partition_by'] -%}
  insert or replace into bidlake_state.partition_spec values (
      '{{ this.identifier }}',
      {{ bidlake_sql_string(parts[0]) }},
      {{ bidlake_sql_string(parts[1]) if parts | length > 1 else 'null' }}
  );
  insert into bidlake_state.partition_writes
  select distinct
      '{{ this.identifier }}',
      {{ parts[0] }},
      {{ parts[1] if parts | length > 1 else 'null::integer' }},
      '{{ invocation_id }}',
      now()
  from {{ this }}
  where not exists (
      select 1 from bidlake_state.partition_writes where model = '{{ this.identifier }}'
  );
  {% for input in bidlake_inputs(meta) %}
  delete from bidlake_state.consumed as c
  where
      c.model = '{{ this.identifier }}' and c.input = '{{ input }}'
      and c.item not in (select a.item from ({{ bidlake_available_items(input) }}) as a);
  insert into bidlake_state.consumed
  select '{{ this.identifier }}', '{{ input }}', a.item, a.part_date, a.part_hour, now()
  from ({{ bidlake_available_items(input) }}) as a
  where not exists (
      select 1 from bidlake_state.consumed as c
      where c.model = '{{ this.identifier }}' and c.input = '{{ input }}' and c.item = a.item
  );
  {% endfor %}
{% endmacro %}


{#
  Hours to rebuild whatever the ledger says - a deliberate backfill or repair, e.g. after a
  fix to a model's logic: `--vars '{rebuild_from: "2024-06-01T00:00:00Z", rebuild_to:
  "2024-06-02T00:00:00Z"}'` (UTC, end exclusive). Every input of every incremental model
  then counts those hours as changed. Costs what rebuilding those hours costs.
#}
{% macro bidlake_rebuild_hours() %}
  {%- set start, end = var('rebuild_from', none), var('rebuild_to', none) -%}
  {%- if start is none or end is none -%}{{ return([]) }}{%- endif -%}
  {%- set query -%}
    select (epoch(h)::bigint // 3600)::bigint
    from range(
        date_trunc('hour', '{{ start }}'::timestamptz),
        '{{ end }}'::timestamptz,
        interval 1 hour
    ) as hours (h)
  {%- endset -%}
  {{ return(run_query(query).columns[0].values() | map('int') | list) }}
{% endmacro %}
