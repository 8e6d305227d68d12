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
  On Spark: spark__bidlake_begin_invocation below (no ledger; the sources are made there).
#}
{% macro bidlake_begin_invocation() %}
  {{ return(adapter.dispatch('bidlake_begin_invocation', 'bidlake')()) }}
{% endmacro %}

{% macro default__bidlake_begin_invocation() %}
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
  {{ return(adapter.dispatch('bidlake_end_invocation', 'bidlake')(results)) }}
{% endmacro %}

{# Spark keeps no test window: every build tests everything it rebuilt, i.e. everything. #}
{% macro spark__bidlake_end_invocation(results) %}
  {{ return('') }}
{% endmacro %}

{% macro default__bidlake_end_invocation(results) %}
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


{#
  On Spark, once per invocation (on-run-start): the schemas, the lake snapshot and the
  sources, which dbt-spark reads as tables of the metastore (`source()` renders
  <source>.<table>), so they are made here as views over the same files DuckDB reads:

  bidlake_state.lake_files  every data file of the lake now (as on DuckDB, from a listing of
                            the lake root: Spark's binaryFile source, which reads no content
                            when only the path is asked for). Staging reads it to tell an
                            event type with no file yet (bidlake_lake_has_files).
  tracker.<event type>      a view over `parquet.`<lake root>/<event type>``: Spark discovers
                            the Hive partitions event_date (date) and event_hour (int) from
                            the folder names, skips files starting with "." or "_", merges
                            the files' schemas (spark.sql.parquet.mergeSchema in the profile:
                            DuckDB's union_by_name) and lists the folder again at every
                            query. Dropped while the event type has no file.
  campaign_book.campaigns   a view over the book's history export (JSON lines), one row per
                            line parsed with from_json and the same columns and types as
                            DuckDB's read_json is given (meta.external_location): nothing
                            inferred, so an all-NULL column keeps its type.

  Views, not tables: nothing is copied, and every query sees the lake as it is then, as on
  DuckDB. Spark runs one statement per call, hence run_query per statement.
#}
{% macro spark__bidlake_begin_invocation() %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set tracker = bidlake_lake_source() -%}
  {%- set root = tracker['lake_root'] -%}
  {%- set event_types = tracker['tables'] -%}
  {%- do run_query('create database if not exists bidlake_state') -%}
  {%- for schema in bidlake_source_schemas() -%}
    {%- do run_query('create database if not exists ' ~ schema) -%}
  {%- endfor -%}

  {%- do run_query(
      "create or replace temporary view bidlake_lake_listing using binaryFile options ("
      ~ "path '" ~ root ~ "', recursiveFileLookup 'true', pathGlobFilter '*.parquet')"
  ) -%}
  {%- do run_query('drop table if exists bidlake_state.lake_files') -%}
  {%- set pattern = '/([a-z_]+)/event_date=([0-9]{4}-[0-9]{2}-[0-9]{2})/event_hour=([0-9]{2})/[^/]+$' -%}
  {%- set create_lake_files -%}
    create table bidlake_state.lake_files using parquet as
    select file, event_type, event_date, event_hour
    from (
        select
            path as file,
            regexp_extract(path, '{{ pattern }}', 1) as event_type,
            cast(regexp_extract(path, '{{ pattern }}', 2) as date) as event_date,
            cast(regexp_extract(path, '{{ pattern }}', 3) as int) as event_hour
        from bidlake_lake_listing
    ) as listed
    where event_type in ({{ "'" ~ event_types | join("', '") ~ "'" }})
  {%- endset -%}
  {%- do run_query(create_lake_files) -%}
  {%- do run_query('drop view if exists bidlake_lake_listing') -%}

  {%- set present = run_query('select distinct event_type from bidlake_state.lake_files').columns[0].values() -%}
  {%- for event_type in event_types -%}
    {%- set relation = bidlake_source_relation('tracker', event_type) -%}
    {%- if event_type in present -%}
      {%- do run_query(
          'create or replace view ' ~ relation ~ ' as select * from parquet.`'
          ~ root ~ '/' ~ event_type ~ '`'
      ) -%}
    {%- else -%}
      {%- do run_query('drop view if exists ' ~ relation) -%}
    {%- endif -%}
  {%- endfor -%}

  {%- set book = bidlake_source_relation('campaign_book', 'campaigns') -%}
  {%- set book_path = bidlake_source_meta('campaign_book', 'history_path') | trim -%}
  {#- The columns and types DuckDB's read_json is given (external_location), in Spark's
      names: one declaration of the export's columns. -#}
  {%- set declared = modules.re.findall(
      "'([a-z_]+)': '([A-Za-z ]+)'", bidlake_source_meta('campaign_book', 'external_location')
  ) -%}
  {%- if declared | length == 0 -%}
    {{ exceptions.raise_compiler_error("campaign_book: no typed columns in meta.external_location") }}
  {%- endif -%}
  {%- set fields = [] -%}
  {%- for name, data_type in declared -%}
    {%- do fields.append(name ~ ' ' ~ bidlake_type(data_type)) -%}
  {%- endfor -%}
  {%- set create_book -%}
    create or replace view {{ book }} as
    select line.*
    from (
        select from_json(value, '{{ fields | join(", ") }}') as line
        from text.`{{ book_path }}`
        where trim(value) != ''
    ) as parsed
  {%- endset -%}
  {%- do run_query(create_book) -%}
  {{ return('') }}
{% endmacro %}


{# The schemas of the project's sources (tracker, campaign_book), from the graph. #}
{% macro bidlake_source_schemas() %}
  {{ return(graph.sources.values() | map(attribute='schema') | unique | sort | list) }}
{% endmacro %}


{# The relation of a source table, as source() renders it, from the graph (hooks have no
   source()). #}
{% macro bidlake_source_relation(source_name, table_name) %}
  {%- set node = graph.sources.values()
      | selectattr('source_name', 'equalto', source_name)
      | selectattr('name', 'equalto', table_name) | first -%}
  {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.identifier)) }}
{% endmacro %}


{# A key of a source's meta (as declared at the source level in its _sources.yml). #}
{% macro bidlake_source_meta(source_name, key) %}
  {%- for node in graph.sources.values() if node.source_name == source_name -%}
    {%- set value = node.source_meta.get(key) or node.meta.get(key) -%}
    {%- if value -%}{{ return(value) }}{%- endif -%}
  {%- endfor -%}
  {{ exceptions.raise_compiler_error("source '" ~ source_name ~ "' declares no meta." ~ key) }}
{% endmacro %}
