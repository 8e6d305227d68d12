"""Every dbt model as a Dagster asset (dagster-dbt), and the reporting export.

One `@dbt_assets` definition covers the whole project — one step, one `dbt build` per
run — and one translator decides keys, groups and partitions:

- a dbt *source* gets the key its YAML declares (`meta.dagster.asset_key`, read by
  dagster-dbt): the tracker tables over the lake declare `raw/<event_type>`, the key of
  the raw asset ingest produces, so lineage runs landing → raw → staging → marts → models;
  the campaign book declares its own key and is an external asset here (nothing in
  Dagster produces it);
- a *model* gets dagster-dbt's default key, its custom schema then its name
  (`staging/stg_tracker__impressions`, `reporting/rpt_campaign_daily`);
- its *group* is the model's custom schema when dbt_project.yml sets one per folder —
  literally the rule dbt uses to place it — else its layer folder (`staging`,
  `intermediate`) or, under `marts/`, its area (`reporting`, `features`);
- it is *partitioned by day* only if it is incremental (see below).

Which models are partitioned. A daily partition means "materializing 2026-01-05 (re)builds
that day": true of the incremental models — each keeps a ledger of the lake hours it has
folded in (dbt_project/macros/incremental/) and rebuilds exactly the hours that changed,
plus the window `rebuild_from`/`rebuild_to` a partitioned run passes. It is not true of
the rest: the staging views store nothing (a view is always the whole lake), the campaign
book is a small dimension with no time in it, and the whole-history tables
(`int_conversions_attributed`, `ftr_cvr_training`, `rpt_campaign_daily`, `rpt_pacing`)
are rebuilt in full by every build. Those are unpartitioned assets: one materialization
per build, whatever the day. They stay in the same `@dbt_assets` (dagster-dbt gives
each model the translator's partitions, and Dagster allows a subsettable multi-asset to
mix them) because the project is built to be run as ONE dbt invocation: the lake-file
snapshot, the ledgers and the windows the tests look at are all per invocation
(dbt_project/macros/incremental/invocation.sql, macros/test_window.sql), and a test such
as `assert_training_rows_one_per_event` reads models of both kinds. Two selections would
mean two invocations, and tests that silently check less.

dbt tests become asset checks on the models they test (dagster-dbt's default), so a failing
`unique` or `assert_clicks_le_impressions` shows on the asset in the UI.

A run over one day or a range of days is one `dbt build` with `--vars {rebuild_from,
rebuild_to}` (ISO-8601 UTC, end exclusive): the incremental models (re)build that window,
plus whatever new lake files their ledger sees; the unpartitioned models are rebuilt as
always. A run of unpartitioned models alone passes no window. The whole step (dbt build,
then publishing the read-only catalog) holds the warehouse pool and the home's build lock:
one writer of the DuckDB file (see `orchestration.pools`).

`exports/reporting_postgres` copies the published `rpt_*` marts to PostgreSQL
(`warehouse.export`) when `BIDLAKE_REPORTING_URL` is set at run start; without it
the step records nothing rather than pretend.
"""

import json
import os
from collections.abc import Iterator, Mapping
from datetime import UTC
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    TimeWindow,
    asset,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from orchestration import pools
from orchestration.partitions import DAILY
from orchestration.resources import PlatformResource
from orchestration.warehouse.build_lock import build_lock

# Inputs that are configuration, not data the platform produces (the campaign book).
REFERENCE_GROUP = "reference"


class BidlakeTranslator(DagsterDbtTranslator):
    """Groups and partitions for the dbt project (keys: dagster-dbt's defaults, which read a
    source's `meta.dagster.asset_key`); see the module docstring for the rules."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        schema = (dbt_resource_props.get("config") or {}).get("schema")
        if schema:
            return str(schema)
        return folder_group(dbt_resource_props.get("fqn") or [])

    def get_partitions_def(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> PartitionsDefinition | None:
        return DAILY if is_incremental(dbt_resource_props) else None


def is_incremental(props: Mapping[str, Any]) -> bool:
    """Whether a dbt model is built incrementally by time window (and so partitioned by day)."""
    return (
        props.get("resource_type") == "model"
        and (props.get("config") or {}).get("materialized") == "incremental"
    )


def folder_group(fqn: list[str]) -> str | None:
    """`[project, "staging", src, model]` → staging; `[project, "marts", "reporting", m]` →
    reporting; a model at the top of `models/` has no group (Dagster's default)."""
    folders = fqn[1:-1]
    if not folders:
        return None
    if folders[0] == "marts" and len(folders) > 1:
        return folders[1]
    return folders[0]


def dbt_window_vars(window: TimeWindow) -> dict[str, str]:
    """The dbt vars that make a build (re)build a partition window: ISO-8601 UTC, start
    inclusive, end exclusive. The dbt project calls them `rebuild_from`/`rebuild_to`
    (dbt_project/macros/incremental/ledger.sql): every incremental model treats those hours
    as changed, whatever its ledger says, and also picks up any other new lake files as
    usual — which is what materializing a day's partition means."""
    return {
        "rebuild_from": window.start.astimezone(UTC).isoformat(),
        "rebuild_to": window.end.astimezone(UTC).isoformat(),
    }


TRANSLATOR = BidlakeTranslator()


def build_dbt_assets(dbt_project: DbtProject) -> AssetsDefinition:
    """The `@dbt_assets` definition for `dbt_project` (its manifest must be prepared)."""

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        dagster_dbt_translator=TRANSLATOR,
        name="warehouse_dbt_models",
        # No partitions_def here: the translator gives the incremental models theirs.
        backfill_policy=BackfillPolicy.single_run(),
        pool=pools.WAREHOUSE,
    )
    def warehouse_dbt_models(
        context: AssetExecutionContext, dbt: DbtCliResource, platform: PlatformResource
    ) -> Iterator[Any]:
        """dbt build of the selected models for the partition window, then catalog publication.

        Grain: one run = one `dbt build` over the window of the selected day(s); the
        unpartitioned models are rebuilt whole in the same invocation.
        Inputs: the raw lake (Parquet, read through the sources), previous model state.
        Cost: dbt start-up and parse (seconds) plus the incremental work of the window —
        about a day's worth per day, not the whole history — plus the small whole-history
        tables. Holds the warehouse pool.
        """
        from warehouse import project
        from warehouse.build import environ_overrides, resolve_target, spark_tables, target_adapter
        from warehouse.publish import publish_locked

        home = platform.home
        args = ["build"]
        # A run that selects incremental models has a day (or a range); one of only the
        # unpartitioned models has none, and builds them as a plain `dbt build` does.
        if context.assets_def.partitions_def is not None and context.has_partition_key_range:
            args += ["--vars", json.dumps(dbt_window_vars(context.partition_time_window))]
        target = resolve_target(platform.target)  # the setting, else BIDLAKE_DBT_TARGET
        args += ["--target", target]
        if os.environ.get("DBT_WARN_ERROR", "").lower() in ("1", "true", "yes"):
            args.append("--warn-error")  # as `bidlake build` does in CI
        # The home's build lock, beside the pool (see orchestration.pools): it is what keeps
        # the DuckDB file to one writer, and what publication expects its caller to hold.
        env = {
            **project.dbt_env(home),  # absolute paths for profile and sources
            "BIDLAKE_DBT_TARGET": target,
            "SPARK_LOCAL_IP": "127.0.0.1",
        }
        with build_lock(home, context.log.info):
            with environ_overrides(env):
                invocation = dbt.cli(
                    args, context=context, target_path=project.dbt_target_dir(home)
                )
            yield from invocation.stream()
            if target_adapter(target) != "duckdb":
                # A Spark build writes Parquet tables for Spark readers; the read-only
                # DuckDB catalog is published from DuckDB builds only (docs/scaling.md).
                context.log.info(f"built on {target}: {sorted(spark_tables(home))}")
                return
            # Only after a fully successful build: `stream()` raised above if a model or an
            # error-severity test failed, and analysts keep the last good catalog.
            publication = publish_locked(home)
        written = sum(r.rows_written for r in publication.relations)
        context.log.info(
            f"published catalog {publication.publication_id}: {len(publication.relations)} "
            f"relations, {written:,} rows written in {publication.elapsed_s:.1f} s"
        )

    return warehouse_dbt_models


def external_source_specs(manifest_path: Path, produced: set[AssetKey]) -> list[AssetSpec]:
    """The dbt sources no Dagster asset produces (the campaign book), as external assets, so
    the graph names and groups them instead of leaving them in "default"."""
    manifest = json.loads(manifest_path.read_text())
    specs = []
    for props in manifest.get("sources", {}).values():
        key = TRANSLATOR.get_asset_key(props)
        if key in produced:
            continue  # a raw lake table: produced by ingest
        specs.append(
            AssetSpec(
                key,
                group_name=REFERENCE_GROUP,
                description=props.get("description") or f"dbt source {props['name']}",
            )
        )
    return specs


REPORTING_EXPORT_KEY = AssetKey(["exports", "reporting_postgres"])


def build_reporting_export(dbt_models: AssetsDefinition) -> AssetsDefinition:
    """The reporting export, downstream of every `rpt_*` model of `dbt_models`."""
    marts = [k for k in dbt_models.keys if k.path[-1].startswith("rpt_")]

    @asset(
        key=REPORTING_EXPORT_KEY,
        deps=marts,
        group_name="exports",
        kinds={"postgres"},
        output_required=False,
        description="The reporting marts copied to PostgreSQL (BIDLAKE_REPORTING_URL), whole "
        "tables in one transaction; not materialized while no database is configured.",
    )
    def reporting_export(
        context: AssetExecutionContext, platform: PlatformResource
    ) -> Iterator[MaterializeResult]:
        """Copy the published reporting marts to PostgreSQL.

        Grain: the whole set of `rpt_*` tables of the current publication, per run.
        Inputs: the read-only catalog (never the build database). Cost: COPY at about
        200k rows/s; the marts are aggregates (thousands of rows a day), so seconds.
        """
        from warehouse.export import export_reporting

        url = platform.reporting
        if not url:
            context.log.info(
                "no reporting database configured (BIDLAKE_REPORTING_URL): nothing exported"
            )
            return
        report = export_reporting(url, home=platform.home)
        yield MaterializeResult(
            metadata={
                "database": report.url,  # password hidden
                "schema": report.schema,
                "publication": report.publication_id,
                "rows": report.rows,
                "tables": MetadataValue.json({t.name: t.rows for t in report.tables}),
                "seconds": round(report.elapsed_s, 2),
            }
        )

    return reporting_export
