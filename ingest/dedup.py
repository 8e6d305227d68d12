"""Duplicate events (same type, same event_id): dropped within a batch and against the lake.

Within a batch: the first occurrence in input order wins (sources sorted by path, records
in file order). One hash pass: `dictionary_encode` numbers the ids in order of first
appearance, so a row is a first occurrence exactly when its code exceeds every code
before it.

Against the lake: the lake itself is the index — no second structure to keep in step with
it, so a crash can never leave the two disagreeing. An incoming event is a duplicate when
the lake holds the same event_id in an hour partition within `horizon_hours` of its own
(its event_time's hour). Re-sent events (a shipper re-sending after a timeout, the same
file copied twice) carry the same event_time, so the horizon only has to cover clock
differences between a retry and its original; 1 hour is the default.
Two event types repeat an id with a *new* event_time: the bidder logs a win notice as the
impression `event_id = bid_id` at the time the notice arrives, so an exchange retrying a
notice (after the bidder's own 15-minute repeat window, or to a restarted bidder) logs the
same impression hours later; and a conversion pixel fired again reuses its order id days
later. Their horizon is at least `RESENT_HORIZON_HOURS`: the warehouse's
`win_notice_max_delay_hours` (6) + 1 for impressions, the 7-day post-click attribution
window + 1 hour for conversions (`horizon_for`).

Cost: one DuckDB scan of the `event_id` column of the live files in the hours the batch
touches, ± the horizon, hash-joined with the batch's ids. It grows with the data of
those hours, not with the size of the lake: a late event for last month reads last
month's hour, not the month. At 500 bid requests/s an hour is 1.8M ids (~30 MB of
event_id column); `benchmarks/ingest` measures the lookup against a growing lake.
Beyond the horizon, duplicates are not looked for: the warehouse's staging models
deduplicate by event_id again within each hour partition, and a duplicate in another hour
stops the build (loudly: nothing wrong is published; docs/reliability.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bidlake.paths import Home
from ingest import lake

DEFAULT_HORIZON_HOURS = 1
# Event types whose duplicates carry a new event_time (see above): their minimum horizon.
RESENT_HORIZON_HOURS = {"impression": 6 + 1, "conversion": 7 * 24 + 1}


def horizon_for(event_type: str, horizon_hours: int) -> int:
    """The lookup horizon of `event_type`: `horizon_hours`, or more for resent types."""
    return max(horizon_hours, RESENT_HORIZON_HOURS.get(event_type, 0))


def first_occurrences(ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Per row: is this the first row with its id?"""
    if len(ids) == 0:
        return np.zeros(0, dtype=bool)
    if isinstance(ids, pa.ChunkedArray):
        # One contiguous array: encoding chunk by chunk would need unify_dictionaries,
        # which costs ~10x more than this copy.
        ids = ids.combine_chunks()
    codes = pc.dictionary_encode(ids).indices.to_numpy()
    codes = codes.astype(np.int64)
    seen_max = np.maximum.accumulate(codes)
    first = np.empty(len(codes), dtype=bool)
    first[0] = True
    first[1:] = codes[1:] > seen_max[:-1]
    return first


def lake_candidates(
    home: Home, event_type: str, buckets: np.ndarray, horizon_hours: int, exclude: set[str]
) -> list[Path]:
    """Live files in hours within the horizon of any incoming hour."""
    wanted: set[int] = set()
    for bucket in np.unique(buckets).tolist():
        wanted.update(range(bucket - horizon_hours, bucket + horizon_hours + 1))
    out = []
    for path in lake.live_files(event_type, home):
        partition = f"{path.parent.parent.name}/{path.parent.name}"
        try:
            bucket = lake.bucket_of(partition)
        except ValueError:
            continue
        if bucket in wanted and path.name not in exclude:
            out.append(path)
    return out


def seen_in_lake(
    ids: pa.ChunkedArray | pa.Array,
    buckets: np.ndarray,
    files: Sequence[Path],
    horizon_hours: int,
) -> np.ndarray:
    """Per row: does one of `files` hold this id within the horizon of its hour?"""
    n = len(ids)
    seen = np.zeros(n, dtype=bool)
    if n == 0 or not files:
        return seen
    incoming = pa.table({"row": pa.array(np.arange(n)), "event_id": ids, "bucket": buckets})
    con = duckdb.connect()
    try:
        con.register("incoming", incoming)
        rows = con.execute(
            """
            SELECT DISTINCT i.row
            FROM incoming AS i
            JOIN (
                SELECT event_id,
                       (epoch(event_date)::BIGINT // 3600) + event_hour AS bucket
                FROM read_parquet($files, hive_partitioning = true,
                                  hive_types = {'event_date': DATE, 'event_hour': INTEGER})
            ) AS e ON e.event_id = i.event_id
            WHERE abs(e.bucket - i.bucket) <= $horizon
            """,
            {"files": [str(f) for f in files], "horizon": horizon_hours},
        ).fetchall()
    finally:
        con.close()
    if rows:
        seen[np.asarray([r[0] for r in rows], dtype=np.int64)] = True
    return seen
