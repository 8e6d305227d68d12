"""The warehouse's schedules (UTC): the daily build of yesterday, then the reporting export.

- 01:15 `build_job` for yesterday's partition. Yesterday, not today: a day is built once
  it is over; events that arrive later are picked up by the next builds (each incremental
  model's ledger sees the new lake files), and a backfill re-builds any day on demand.
- 02:00 `export_reporting_job`: the reporting marts to PostgreSQL, if one is configured.

Like every schedule here they start stopped (the Dagster default): turning them on is an
operator's decision, made in the UI (Automation) or with `dagster schedule start`.
"""

from datetime import timedelta

from dagster import RunRequest, ScheduleDefinition, ScheduleEvaluationContext, schedule

from orchestration.warehouse.jobs import BUILD, EXPORT_REPORTING


@schedule(
    job_name=BUILD,
    cron_schedule="15 1 * * *",
    execution_timezone="UTC",
    description="Build yesterday's partition of every dbt model.",
)
def daily_build_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    day = (context.scheduled_execution_time - timedelta(days=1)).strftime("%Y-%m-%d")
    return RunRequest(run_key=f"daily-build-{day}", partition_key=day)


daily_reporting_export_schedule = ScheduleDefinition(
    name="daily_reporting_export_schedule",
    job_name=EXPORT_REPORTING,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    description="Copy the reporting marts to PostgreSQL (when BIDLAKE_REPORTING_URL is set).",
)
