"""The models' job: train, evaluate, gate and export both models (not partitioned)."""

from dagster import AssetSelection, define_asset_job

from orchestration.models.assets import MODEL_ASSETS

TRAIN = "train_job"

train_job = define_asset_job(
    TRAIN,
    selection=AssetSelection.assets(*MODEL_ASSETS),
    description="Train, evaluate, gate and export the CTR and CVR models.",
)
