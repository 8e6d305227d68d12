"""The models area's definitions (merged into `orchestration.definitions`)."""

from dagster import Definitions

from orchestration.models.assets import MODEL_ASSETS
from orchestration.models.jobs import train_job
from orchestration.models.schedules import daily_training_schedule

defs = Definitions(assets=MODEL_ASSETS, jobs=[train_job], schedules=[daily_training_schedule])
