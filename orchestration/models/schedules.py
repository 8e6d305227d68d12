"""The models' schedule: retraining at 02:30 UTC, after the 01:15 build of yesterday.

If the build is still running, training waits on nothing — it reads the last published
catalog, which is always complete — so at worst it trains on the previous day's data.
Like every schedule here it starts stopped (the Dagster default): turning it on is an
operator's decision, made in the UI (Automation) or with `dagster schedule start`.
"""

from dagster import ScheduleDefinition

from orchestration.models.jobs import TRAIN

daily_training_schedule = ScheduleDefinition(
    name="daily_training_schedule",
    job_name=TRAIN,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    description="Retrain, gate and export the CTR and CVR models.",
)
