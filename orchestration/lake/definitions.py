"""The lake area's definitions (merged into `orchestration.definitions`)."""

from dagster import Definitions

from orchestration.lake.assets import ingest_tracking_logs, kafka_ingest, lake_compaction
from orchestration.lake.checks import RAW_FRESHNESS_CHECKS, ingest_reconciliation
from orchestration.lake.jobs import compaction_job, ingest_job, kafka_ingest_job
from orchestration.lake.schedules import daily_compaction_schedule
from orchestration.lake.sensors import landing_sensor, raw_freshness_sensor

defs = Definitions(
    assets=[ingest_tracking_logs, lake_compaction, kafka_ingest],
    asset_checks=[ingest_reconciliation, *RAW_FRESHNESS_CHECKS],
    jobs=[ingest_job, compaction_job, kafka_ingest_job],
    schedules=[daily_compaction_schedule],
    sensors=[landing_sensor, raw_freshness_sensor],
)
