"""The jobs: one per stage of the platform, each a selection of assets and their checks.

A job's assets share one partitioning (Dagster infers it from them), so the stages are
separate jobs — hourly ingest,
daily warehouse build, unpartitioned training — and `bidlake run` runs them in order
(`orchestration.main_job`). The landing sensor starts `ingest_job`, the schedules start
`build_job`, `train_job` and `compaction_job`; the UI can start any of them or backfill a
range, which runs as one run per job (single-run backfill policies), not one per partition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import AssetKey, AssetSelection, define_asset_job

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

SIMULATE = "simulate_job"
INGEST = "ingest_job"
COMPACTION = "compaction_job"
BUILD = "build_job"
TRAIN = "train_job"
REPLAY = "replay_job"
EXPORT_REPORTING = "export_reporting_job"


def build_jobs(
    *,
    simulate: AssetKey | None,
    raw: list[AssetKey],
    compaction: AssetKey | None,
    dbt: AssetSelection | None,
    models: list[AssetKey],
    replay: AssetKey | None,
    export_reporting: AssetKey | None,
) -> list[UnresolvedAssetJobDefinition]:
    """The jobs over whichever assets the definitions hold (None/empty: no such job)."""
    jobs = []
    if simulate is not None:
        jobs.append(
            define_asset_job(
                SIMULATE,
                selection=AssetSelection.assets(simulate),
                description="Simulate a window of traffic into the landing folder.",
            )
        )
    if raw:
        jobs.append(
            define_asset_job(
                INGEST,
                selection=AssetSelection.assets(*raw),
                description="Ingest the closed log files of an hour (or a range) into the "
                "raw lake, then reconcile the counts.",
            )
        )
    if compaction is not None:
        jobs.append(
            define_asset_job(
                COMPACTION,
                selection=AssetSelection.assets(compaction),
                description="Merge small raw files; delete expired retired ones.",
            )
        )
    if dbt is not None:
        jobs.append(
            define_asset_job(
                BUILD,
                selection=dbt,
                description="dbt build of every model for a day (or a range), its tests as "
                "checks, then publication of the analysts' read-only catalog.",
            )
        )
    if models:
        jobs.append(
            define_asset_job(
                TRAIN,
                selection=AssetSelection.assets(*models),
                description="Train, evaluate, gate and export the CTR and CVR models.",
            )
        )
    if replay is not None:
        jobs.append(
            define_asset_job(
                REPLAY,
                selection=AssetSelection.assets(replay),
                description="Start the bidder, replay fresh exchange traffic to it, stop it.",
            )
        )
    if export_reporting is not None:
        jobs.append(
            define_asset_job(
                EXPORT_REPORTING,
                selection=AssetSelection.assets(export_reporting),
                description="Copy the reporting marts to PostgreSQL.",
            )
        )
    return jobs
