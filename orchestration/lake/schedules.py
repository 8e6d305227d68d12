"""The lake's schedule: compaction at 03:30 UTC, after the day's hourly ingests.

Like every schedule here it starts stopped (the Dagster default): turning it on is an
operator's decision, made in the UI (Automation) or with `dagster schedule start`.
"""

from dagster import ScheduleDefinition

from orchestration.lake.jobs import COMPACTION

daily_compaction_schedule = ScheduleDefinition(
    name="daily_compaction_schedule",
    job_name=COMPACTION,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    description="Compact the raw lake's small files.",
)
