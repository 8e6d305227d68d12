"""Schedules: the daily build of yesterday, then training, then compaction (UTC).

- 01:15 `build_job` for yesterday's partition. Yesterday, not today: a day is built once
  it is over; events that arrive later are picked up by the next builds through the
  models' late-event lookback (and a backfill re-builds any day on demand).
- 02:00 `export_reporting_job`: the reporting marts to PostgreSQL, if one is configured.
- 02:30 `train_job`: the models retrain on the freshly built feature marts. If the build
  is still running, training waits on nothing — it reads the last published catalog,
  which is always complete — so at worst it trains on the previous day's data.
- 03:30 `compaction_job`: merges the small files the day's hourly ingests left.

They start stopped (the Dagster default): turning them on is an operator's decision,
made in the UI (Automation) or with `dagster schedule start`. The landing sensor, by
contrast, starts running, because a bidder's logs should flow into the lake as soon as
the platform is up.
"""

from __future__ import annotations

from datetime import timedelta

from dagster import RunRequest, ScheduleDefinition, ScheduleEvaluationContext, schedule

from orchestration.jobs import BUILD, COMPACTION, EXPORT_REPORTING, TRAIN


@schedule(
    job_name=BUILD,
    cron_schedule="15 1 * * *",
    execution_timezone="UTC",
    description="Build yesterday's partition of every dbt model.",
)
def daily_build_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    day = (context.scheduled_execution_time - timedelta(days=1)).strftime("%Y-%m-%d")
    return RunRequest(run_key=f"daily-build-{day}", partition_key=day)


daily_training_schedule = ScheduleDefinition(
    name="daily_training_schedule",
    job_name=TRAIN,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    description="Retrain, gate and export the CTR and CVR models.",
)

daily_reporting_export_schedule = ScheduleDefinition(
    name="daily_reporting_export_schedule",
    job_name=EXPORT_REPORTING,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    description="Copy the reporting marts to PostgreSQL (when BIDLAKE_REPORTING_URL is set).",
)

daily_compaction_schedule = ScheduleDefinition(
    name="daily_compaction_schedule",
    job_name=COMPACTION,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    description="Compact the raw lake's small files.",
)


def build_schedules(job_names: set[str]) -> list[ScheduleDefinition]:
    """The schedules whose jobs exist in the definitions."""
    wanted = [
        (BUILD, daily_build_schedule),
        (EXPORT_REPORTING, daily_reporting_export_schedule),
        (TRAIN, daily_training_schedule),
        (COMPACTION, daily_compaction_schedule),
    ]
    return [s for job, s in wanted if job in job_names]
