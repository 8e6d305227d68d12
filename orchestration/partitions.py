"""Time partitions: hourly for the raw lake, daily for the incremental warehouse models.

Hourly partition keys are `YYYY-MM-DD-HH:00`, daily `YYYY-MM-DD`, both UTC. A raw
partition is one hour of *tracking-log files* (the hour in the writer's file name); the
records in them still land in the lake partition of their own `event_time`, so a late
event is stored where it belongs, and the next dbt build picks it up (each incremental
model keeps a ledger of the lake files it folded in: `dbt_project/README.md`).
`end_offset=1` makes the current, still-filling hour (and day) a valid partition, because
the bidder closes files of the current hour when it rotates them.

Daily partitions depend on their 24 hours through Dagster's default time-window mapping;
a backfill of N days runs as one dbt invocation over the whole window (single-run
backfill policy), not N. Which dbt models are partitioned at all: see
`orchestration.warehouse.assets` (only the incremental ones).
"""

from __future__ import annotations

from dagster import DailyPartitionsDefinition, HourlyPartitionsDefinition

# The first day of data this platform knows about. Keep it close to the data: the UI lists
# every partition since then, and hourly partitions number 8,760 a year.
START = "2025-01-01"

HOURLY = HourlyPartitionsDefinition(start_date=f"{START}-00:00", timezone="UTC", end_offset=1)
DAILY = DailyPartitionsDefinition(start_date=START, timezone="UTC", end_offset=1)

HOUR_KEY_FORMAT = "%Y-%m-%d-%H:%M"
