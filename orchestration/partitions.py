"""Time partitions: hourly for the raw lake, daily for the warehouse models.

Hourly partition keys are `YYYY-MM-DD-HH:00`, daily `YYYY-MM-DD`, both UTC. A raw
partition is one hour of *tracking-log files* (the hour in the writer's file name); the
records in them still land in the lake partition of their own `event_time`, so a late
event is stored where it belongs, and the daily dbt build re-reads a lookback window to
pick it up. `end_offset=1` makes the current, still-filling hour (and day) a valid
partition, because the bidder closes files of the current hour when it rotates them.

Daily partitions depend on their 24 hours through Dagster's default time-window mapping;
a backfill of N days runs as one dbt invocation over the whole window (single-run
backfill policy), not N.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dagster import DailyPartitionsDefinition, HourlyPartitionsDefinition, TimeWindow

# The first day of data this platform knows about. Keep it close to the data: the UI lists
# every partition since then, and hourly partitions number 8,760 a year.
START = "2025-01-01"

HOURLY = HourlyPartitionsDefinition(start_date=f"{START}-00:00", timezone="UTC", end_offset=1)
DAILY = DailyPartitionsDefinition(start_date=START, timezone="UTC", end_offset=1)

HOUR_KEY_FORMAT = "%Y-%m-%d-%H:%M"


def hour_key(epoch_ms: int) -> str:
    """The hourly partition key of a UTC epoch-ms time."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.replace(minute=0, second=0, microsecond=0).strftime(HOUR_KEY_FORMAT)


def window_ms(window: TimeWindow) -> tuple[int, int]:
    """A partition time window as `[start, end)` UTC epoch ms."""
    return int(window.start.timestamp() * 1000), int(window.end.timestamp() * 1000)


def dbt_window_vars(window: TimeWindow) -> dict[str, str]:
    """The dbt vars that make a build (re)build a partition window: ISO-8601 UTC, start
    inclusive, end exclusive. The dbt project calls them `rebuild_from`/`rebuild_to`
    (dbt_project/macros/incremental/ledger.sql): every incremental model treats those hours
    as changed, whatever its ledger says, and also picks up any other new lake files as
    usual — which is what materializing a day's partition means."""
    return {
        "rebuild_from": window.start.astimezone(UTC).isoformat(),
        "rebuild_to": window.end.astimezone(UTC).isoformat(),
    }
