"""Every dbt model as a Dagster asset (dagster-dbt), and the reporting export.

`exports/reporting_postgres` copies the published `rpt_*` marts to PostgreSQL
(`warehouse.export`) when `BIDLAKE_REPORTING_URL` is set at run start; without it
the step records nothing rather than pretend.

One `@dbt_assets` definition covers the whole project; one translator decides keys and
groups:

- a dbt *source* over the raw lake is the raw asset Dagster's ingest produces, key
  `raw/<event_type>` (so lineage runs landing → raw → staging → marts → models);
- a *model* gets dagster-dbt's default key, its custom schema then its name
  (`staging/stg_tracker__impressions`, `reporting/rpt_campaign_daily`);
- its *group* is the model's custom schema when dbt_project.yml sets one per folder —
  literally the rule dbt uses to place it — else its layer folder (`staging`,
  `intermediate`) or, under `marts/`, its area (`reporting`, `features`).

dbt tests become asset checks on the models they test (dagster-dbt's default), so a failing
`unique` or `assert_clicks_le_impressions` shows on the asset in the UI.

The models are partitioned by day. A run over one day or a range of days is one
`dbt build` with `--vars {rebuild_from, rebuild_to}` (ISO-8601 UTC, end exclusive): the
incremental models (re)build that window, plus whatever new lake files their ledger
sees. The whole step (dbt build, then publishing the read-only catalog) holds the
warehouse pool and the home's build lock: one writer of the DuckDB file (see
`orchestration.pools`).
"""

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from bidlake.paths import Home
from contract.events import EVENT_TYPES
from orchestration import pools
from orchestration.assets.lake import RAW_GROUP, raw_key
from orchestration.partitions import DAILY, dbt_window_vars
from orchestration.resources import PlatformResource

# Inputs that are configuration, not data the platform produces (the campaign book).
REFERENCE_GROUP = "reference"


class BidlakeTranslator(DagsterDbtTranslator):
    """Keys and groups for the dbt project; see the module docstring for the rules."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            event_type = _source_event_type(dbt_resource_props)
            if event_type is not None:
                return raw_key(event_type)
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return RAW_GROUP
        schema = (dbt_resource_props.get("config") or {}).get("schema")
        if schema:
            return str(schema)
        return folder_group(dbt_resource_props.get("fqn") or [])


def folder_group(fqn: list[str]) -> str | None:
    """`[project, "staging", src, model]` → staging; `[project, "marts", "reporting", m]` →
    reporting; a model at the top of `models/` has no group (Dagster's default)."""
    folders = fqn[1:-1]
    if not folders:
        return None
    if folders[0] == "marts" and len(folders) > 1:
        return folders[1]
    return folders[0]


def _source_event_type(props: Mapping[str, Any]) -> str | None:
    """The event type a dbt source table reads, from its meta or its name, if any."""
    meta = props.get("meta") or {}
    explicit = (meta.get("dagster") or {}).get("asset_key")
    if explicit and len(explicit) == 2 and explicit[0] == "raw":
        return str(explicit[1])
    for candidate in (props.get("name"), props.get("identifier")):
        if not candidate:
            continue
        for name in (candidate, candidate.removesuffix("s")):
            if name in EVENT_TYPES:
                return name
    return None


TRANSLATOR = BidlakeTranslator()


def build_dbt_assets(dbt_project: DbtProject) -> AssetsDefinition:
    """The `@dbt_assets` definition for `dbt_project` (its manifest must be prepared)."""

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        dagster_dbt_translator=TRANSLATOR,
        name="warehouse_dbt_models",
        partitions_def=DAILY,
        backfill_policy=BackfillPolicy.single_run(),
        pool=pools.WAREHOUSE,
    )
    def warehouse_dbt_models(
        context: AssetExecutionContext, dbt: DbtCliResource, platform: PlatformResource
    ) -> Iterator[Any]:
        """dbt build of the selected models for the partition window, then catalog publication.

        Grain: one run = one `dbt build` over the window of the selected day(s).
        Inputs: the raw lake (Parquet, read through the sources), previous model state.
        Cost: dbt start-up and parse (seconds) plus the incremental work of the window —
        about a day's worth per day, not the whole history. Holds the warehouse pool.
        """
        from warehouse import project
        from warehouse.build import environ_overrides
        from warehouse.publish import publish_locked

        home = platform.home
        args = ["build", "--vars", json.dumps(dbt_window_vars(context.partition_time_window))]
        if platform.target:
            args += ["--target", platform.target]
        if os.environ.get("DBT_WARN_ERROR", "").lower() in ("1", "true", "yes"):
            args.append("--warn-error")  # as `bidlake build` does in CI
        # The home's build lock, beside the pool (see orchestration.pools): it is what keeps
        # the DuckDB file to one writer, and what publication expects its caller to hold.
        with build_lock(home, context.log.info):
            with environ_overrides(project.dbt_env(home)):  # absolute paths for profile and sources
                invocation = dbt.cli(
                    args, context=context, target_path=project.dbt_target_dir(home)
                )
            yield from invocation.stream()
            # Only after a fully successful build: `stream()` raised above if a model or an
            # error-severity test failed, and analysts keep the last good catalog.
            publication = publish_locked(home)
        written = sum(r.rows_written for r in publication.relations)
        context.log.info(
            f"published catalog {publication.publication_id}: {len(publication.relations)} "
            f"relations, {written:,} rows written in {publication.elapsed_s:.1f} s"
        )

    return warehouse_dbt_models


BUILD_LOCK_TIMEOUT_S = 3 * 3600.0  # longer than any build; then fail rather than hang


@contextmanager
def build_lock(home: Home, say: Callable[[str], object]) -> Iterator[None]:
    """Hold the home's build lock, waiting for it (bounded) if another build holds it.

    `warehouse.locking.exclusive` refuses at once when the lock is held — right for
    a person at a terminal; a scheduled step should queue instead, as it does on its pool.
    """
    from warehouse import locking, project

    deadline = time.monotonic() + BUILD_LOCK_TIMEOUT_S
    delay = 0.5
    with ExitStack() as stack:
        while True:
            try:
                stack.enter_context(locking.exclusive(project.build_lock(home), "build"))
                break
            except locking.WarehouseBusyError as exc:
                if time.monotonic() > deadline:
                    raise
                if delay == 0.5:
                    say(f"waiting for the warehouse: {exc}")
                time.sleep(delay)  # the holder is another process: nothing to wait on but time
                delay = min(delay * 2, 15.0)
        yield


def external_source_specs(dbt_project: DbtProject) -> list[AssetSpec]:
    """dbt sources that no Dagster asset produces (the campaign book), declared as
    external assets so the graph names and groups them instead of leaving them "default"."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    specs = []
    for props in manifest.get("sources", {}).values():
        if _source_event_type(props) is not None:
            continue  # a raw lake table: produced by ingest
        specs.append(
            AssetSpec(
                TRANSLATOR.get_asset_key(props),
                group_name=REFERENCE_GROUP,
                description=props.get("description") or f"dbt source {props['name']}",
            )
        )
    return specs


def model_key(dbt_models: AssetsDefinition, model_name: str) -> AssetKey:
    """The asset key of dbt model `model_name` (keys carry the model's schema prefix)."""
    for key in dbt_models.keys:
        if key.path[-1] == model_name:
            return key
    raise KeyError(f"no dbt model named {model_name!r} in the manifest")


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
