"""The raw lake: ingest of the landing folder, hourly; compaction; their checks and sensors.

`assets.py` (`raw/<event_type>` ×5, `lake/compaction`), `checks.py` (ingest
reconciliation, raw freshness), `sensors.py` (landing sensor, freshness sensor),
`jobs.py` (`ingest_job`, `compaction_job`), `schedules.py` (daily compaction);
`definitions.py` gathers them into this area's `defs`.
"""
