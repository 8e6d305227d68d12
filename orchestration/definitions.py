"""The Dagster definitions of bidlake: every asset, check, job, schedule and sensor.

Load with `dagster dev -m orchestration.definitions` (what `bidlake ui` does) or import
`defs`. Each part of the platform contributes its assets only when its code exists
(`orchestration.parts`); the dbt manifest is parsed here only when the dbt project
changed since the last parse (`orchestration.dbt_project.prepare`).

Every run executes its steps in one process (`in_process_executor`): on two cores a
subprocess per step would spend more on start-up (≈2 s of imports each) than the
parallelism returns, and the pools serialise the writers anyway.
"""

from __future__ import annotations

from dagster import AssetKey, AssetSelection, Definitions, in_process_executor

from contract.events import EVENT_TYPES
from orchestration import checks, dbt_project, jobs, parts, schedules, sensors
from orchestration.assets import bidder, lake, models, simulation, warehouse
from orchestration.console import bidlake_console
from orchestration.resources import PlatformResource

assets: list = []
asset_checks: list = []
sensor_defs: list = []
raw_keys: list[AssetKey] = []
dbt_selection = None
export_reporting = None
model_keys: list[AssetKey] = []

if parts.available("simulator"):
    assets.append(simulation.simulated_logs)
if parts.available("ingest"):
    assets += [lake.ingest_tracking_logs, lake.lake_compaction]
    raw_keys = [lake.raw_key(t) for t in EVENT_TYPES]
    asset_checks += [checks.ingest_reconciliation, *checks.RAW_FRESHNESS_CHECKS]
    sensor_defs += [sensors.landing_sensor, checks.FRESHNESS_SENSOR]
resources: dict[str, object] = {"platform": PlatformResource()}
if parts.available("warehouse"):
    project = dbt_project.project()
    dbt_project.prepare(project)
    dbt_models = warehouse.build_dbt_assets(project)
    assets += [dbt_models, *warehouse.external_source_specs(project)]
    dbt_selection = AssetSelection.assets(dbt_models)
    resources["dbt"] = dbt_project.cli_resource(project)
    if parts.available("reporting_export"):
        assets.append(warehouse.build_reporting_export(dbt_models))
        export_reporting = warehouse.REPORTING_EXPORT_KEY
    if parts.available("ml"):
        for name, mart in models.MODELS.items():
            mart_key = warehouse.model_key(dbt_models, mart)
            assets.append(models.build_model_assets(name, mart_key))
            model_keys += [models.model_key(name), models.artifact_key(name)]

replay = None
if model_keys and parts.available("bidder") and parts.available("replay"):
    assets.append(bidder.bidder_replay)
    replay = bidder.REPLAY_KEY

job_defs = jobs.build_jobs(
    simulate=simulation.simulated_logs.key if parts.available("simulator") else None,
    raw=raw_keys,
    compaction=lake.COMPACTION_KEY if raw_keys else None,
    dbt=dbt_selection,
    models=model_keys,
    replay=replay,
    export_reporting=export_reporting,
)

defs = Definitions(
    assets=assets,
    asset_checks=asset_checks,
    jobs=job_defs,
    schedules=schedules.build_schedules({j.name for j in job_defs}),
    sensors=sensor_defs,
    resources=resources,
    loggers={"bidlake_console": bidlake_console},
    executor=in_process_executor,
)
