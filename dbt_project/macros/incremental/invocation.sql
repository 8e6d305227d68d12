{#
  Once per dbt invocation (on-run-start): the bookkeeping tables of the incremental models
  and a snapshot of the lake's file list.

  bidlake_state.lake_files      every data file of the lake now, with its partition. Models
                                of this invocation treat exactly these files as "the lake"
                                when they decide what changed, so one build is consistent
                                even while ingest keeps adding files.
  bidlake_state.consumed        which lake files / upstream partition writes each incremental
                                model has already folded in (its ledger).
  bidlake_state.partition_writes the partitions each incremental model wrote, and in which
                                invocation: downstream models and publish() read it.
  bidlake_state.test_window     the lake hours with files no successful invocation has seen
                                (every hour on a first build or --full-refresh): tests of
                                staging models only look there, so an hourly build does not
                                re-test the history (bidlake_end_invocation moves the mark).
  bidlake_state.partition_spec  each incremental model's partition expressions (publish()
                                snapshots its tables partition by partition).
  bidlake_state.invocation      this invocation's id.

  Cost: one glob of the lake (a few ms per thousand files).
#}
{% macro bidlake_begin_invocation() %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set tracker = bidlake_lake_source() -%}
  {%- set event_types = tracker['tables'] -%}
  create schema if not exists bidlake_state;

  create table if not exists bidlake_state.consumed (
      model varchar not null,
      input varchar not null,
      item varchar not null,
      part_date date,
      part_hour integer,
      consumed_at timestamptz
  );

  create table if not exists bidlake_state.partition_writes (
      model varchar not null,
      part_date date not null,
      part_hour integer,
      invocation_id varchar not null,
      written_at timestamptz
  );

  create table if not exists bidlake_state.partition_spec (
      model varchar primary key,
      date_expr varchar not null,
      hour_expr varchar
  );

  create or replace table bidlake_state.invocation as
  select
      '{{ invocation_id }}' as invocation_id,
      {{ 'true' if flags.FULL_REFRESH else 'false' }} as is_full_refresh,
      now() as started_at;

  create or replace table bidlake_state.lake_files as
  with listed as (
      select
          file,
          regexp_extract(
              file,
              '/([a-z_]+)/event_date=([0-9]{4}-[0-9]{2}-[0-9]{2})/event_hour=([0-9]{2})/[^/]+$',
              ['event_type', 'event_date', 'event_hour']
          ) as part
      from glob('{{ tracker["lake_root"] }}/*/event_date=*/event_hour=*/[!._]*.parquet')
  )
  select
      file,
      part.event_type as event_type,
      part.event_date::date as event_date,
      part.event_hour::integer as event_hour
  from listed
  where part.event_type in ({{ "'" ~ event_types | join("', '") ~ "'" }});

  create table if not exists bidlake_state.lake_files_tested as
  select * from bidlake_state.lake_files where false;

  create or replace table bidlake_state.test_window as
  select distinct
      'lake:' || f.event_type as input,
      f.event_date as part_date,
      f.event_hour as part_hour
  from bidlake_state.lake_files as f
  where
      {{ 'true' if flags.FULL_REFRESH else 'false' }}
      or not exists (
          select 1 from bidlake_state.lake_files_tested as t where t.file = f.file
      );
{% endmacro %}


{#
  Once per invocation, at the end (on-run-end): when every node succeeded, the lake files
  of this invocation's snapshot count as tested, so the next build's staging tests only
  look at hours with files added since. After a failure nothing moves: the next build
  tests those hours again.
#}
{% macro bidlake_end_invocation(results) %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set failed = results | selectattr('status', 'in', ['error', 'fail', 'runtime error']) | list -%}
  {%- if failed | length == 0 and adapter.get_relation(target.database, 'bidlake_state', 'lake_files') is not none -%}
  create or replace table bidlake_state.lake_files_tested as
  select * from bidlake_state.lake_files;
  {%- endif -%}
{% endmacro %}


{# The tracker source as declared in _tracker__sources.yml: its lake root and table names.
   The lake path is declared there once; this reads it back from the graph. #}
{% macro bidlake_lake_source() %}
  {%- set tables = [] -%}
  {%- set ns = namespace(root=none) -%}
  {%- for node in graph.sources.values() if node.source_name == 'tracker' -%}
    {%- do tables.append(node.name) -%}
    {%- set ns.root = node.source_meta.get('lake_root') or node.meta.get('lake_root') -%}
  {%- endfor -%}
  {%- if ns.root is none -%}
    {{ exceptions.raise_compiler_error("source 'tracker' declares no meta.lake_root in _tracker__sources.yml") }}
  {%- endif -%}
  {{ return({'lake_root': ns.root, 'tables': tables | sort}) }}
{% endmacro %}
