"""The warehouse area's definitions (merged into `orchestration.definitions`).

Importing this module prepares the dbt manifest (`dbt parse`, only when the project
changed since the last parse: `orchestration.warehouse.dbt_manifest.prepare`).
"""

from dagster import Definitions

from orchestration.lake.assets import RAW_KEYS
from orchestration.warehouse import dbt_manifest
from orchestration.warehouse.assets import (
    build_dbt_assets,
    build_reporting_export,
    external_source_specs,
)
from orchestration.warehouse.jobs import build_job, export_reporting_job
from orchestration.warehouse.schedules import daily_build_schedule, daily_reporting_export_schedule

DBT_PROJECT = dbt_manifest.project()
dbt_manifest.prepare(DBT_PROJECT)

warehouse_dbt_models = build_dbt_assets(DBT_PROJECT)
reporting_export = build_reporting_export(warehouse_dbt_models)

defs = Definitions(
    assets=[
        warehouse_dbt_models,
        reporting_export,
        *external_source_specs(DBT_PROJECT.manifest_path, produced=set(RAW_KEYS)),
    ],
    jobs=[build_job(warehouse_dbt_models), export_reporting_job],
    schedules=[daily_build_schedule, daily_reporting_export_schedule],
    resources={"dbt": dbt_manifest.cli_resource(DBT_PROJECT)},
)
