"""The warehouse's jobs: the dbt build (and publication), and the reporting export.

`build_job` holds every dbt model: the daily-partitioned incremental ones and the
unpartitioned rest run together (one dbt invocation, `orchestration.warehouse.assets`);
a run for a day or a range of days rebuilds that window. It is made by a function because
its selection is the `@dbt_assets` definition, which exists only once the manifest is
prepared (`orchestration.warehouse.definitions`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import AssetsDefinition, AssetSelection, define_asset_job

from orchestration.warehouse.assets import REPORTING_EXPORT_KEY

if TYPE_CHECKING:
    from orchestration.dagster_internals import UnresolvedAssetJobDefinition

BUILD = "build_job"
EXPORT_REPORTING = "export_reporting_job"


def build_job(dbt_models: AssetsDefinition) -> UnresolvedAssetJobDefinition:
    """`build_job` over the project's `@dbt_assets`."""
    return define_asset_job(
        BUILD,
        selection=AssetSelection.assets(dbt_models),
        description="dbt build of every model for a day (or a range), its tests as checks, "
        "then publication of the analysts' read-only catalog.",
    )


export_reporting_job = define_asset_job(
    EXPORT_REPORTING,
    selection=AssetSelection.assets(REPORTING_EXPORT_KEY),
    description="Copy the reporting marts to PostgreSQL.",
)
