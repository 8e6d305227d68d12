from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ingest.dedup import first_occurrences, seen_in_lake
from ingest.lake import partition_of


def test_first_occurrence_wins_across_chunks() -> None:
    ids = pa.chunked_array([["a", "b", "a"], ["c", "b", "d", "a"]])
    assert first_occurrences(ids).tolist() == [True, True, False, True, False, True, False]
    assert first_occurrences(pa.array([], type=pa.string())).tolist() == []


def test_lake_lookup_respects_the_horizon(tmp_path: Path) -> None:
    files = []
    for bucket, ids in ((493_000, ["x", "y"]), (493_003, ["z"])):
        path = tmp_path / partition_of(bucket) / "part.parquet"
        path.parent.mkdir(parents=True)
        pq.write_table(pa.table({"event_id": ids}), path)
        files.append(path)
    incoming = pa.array(["x", "x", "z", "new"])
    buckets = np.array([493_001, 493_002, 493_002, 493_000])
    assert seen_in_lake(incoming, buckets, files, horizon_hours=1).tolist() == [
        True,  # one hour from its copy
        False,  # two hours away: outside the horizon
        True,
        False,
    ]
    assert seen_in_lake(incoming, buckets, [], horizon_hours=1).tolist() == [False] * 4
