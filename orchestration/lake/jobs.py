"""The lake's jobs: ingest (hourly partitions) and compaction (the whole lake).

The landing sensor starts `ingest_job` (one run per hour of new files) and `bidlake run`
starts it over the simulated window's hours as one run; the UI can backfill any range,
which runs as one run too (single-run backfill policy), not one per hour.
"""

from dagster import AssetSelection, define_asset_job

from orchestration.lake.assets import COMPACTION_KEY, KAFKA_INGEST_KEY, RAW_KEYS

INGEST = "ingest_job"
COMPACTION = "compaction_job"
KAFKA_INGEST = "kafka_ingest_job"

ingest_job = define_asset_job(
    INGEST,
    selection=AssetSelection.assets(*RAW_KEYS),
    description="Ingest the closed log files of an hour (or a range) into the raw lake, "
    "then reconcile the counts.",
)

compaction_job = define_asset_job(
    COMPACTION,
    selection=AssetSelection.assets(COMPACTION_KEY),
    description="Merge small raw files; delete expired retired ones.",
)

kafka_ingest_job = define_asset_job(
    KAFKA_INGEST,
    selection=AssetSelection.assets(KAFKA_INGEST_KEY),
    description="Drain the Kafka event topics into the raw lake (needs the bootstrap in the "
    "run config).",
)
