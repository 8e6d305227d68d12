from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from bidlake.paths import Home
from ingest import lake
from ingest.compaction import compact
from ingest.ledger import Ledger
from ingest.pipeline import ingest
from tests.ingest.factories import HOUR, T0, events, lake_table, land

REPO = Path(__file__).resolve().parents[2]


def many_small_files(landing: Path, hours: int, files_per_hour: int, rows: int) -> int:
    n = 0
    for h in range(hours):
        for f in range(files_per_hour):
            land(
                landing,
                "click",
                events("click", rows, start=n, t=T0 + h * HOUR),
                writer_id=f"w{h}x{f}",
            )
            n += rows
    ingest(landing, batch_bytes=1)  # one batch, hence one raw file, per input file
    return n


def test_small_files_merge_into_one_per_partition(home: Path, tmp_path: Path) -> None:
    total = many_small_files(tmp_path / "landing", hours=2, files_per_hour=4, rows=25)
    h = Home(home)
    before = lake_table(home, "click")
    assert len(lake.live_files("click", h)) == 8
    report = compact(grace_seconds=3600)
    assert (report.files_in, report.files_out, report.rows) == (8, 2, total)
    live = lake.live_files("click", h)
    assert [p.name.startswith("compact-") for p in live] == [True, True]
    after = lake_table(home, "click")
    assert Counter(after["event_id"].to_pylist()) == Counter(before["event_id"].to_pylist())
    times = after["event_time"].to_pylist()
    assert times == sorted(times)  # compacted files are sorted by event_time
    assert len(lake.data_files(h, "click")) == 10  # inputs stay for the grace period
    assert compact(grace_seconds=3600).files_in == 0  # nothing left to merge
    assert len(compact(grace_seconds=0).deleted) == 8  # the grace period is over
    assert len(lake.data_files(h, "click")) == 2
    assert lake_table(home, "click").num_rows == total


def test_an_interrupted_compaction_is_completed_by_the_next_run(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = many_small_files(tmp_path / "landing", hours=1, files_per_hour=3, rows=10)

    def crash(self: Ledger, commit: object) -> None:
        raise RuntimeError("power cut")

    real_record = Ledger.record
    monkeypatch.setattr(Ledger, "record", crash)
    with pytest.raises(RuntimeError):
        compact(grace_seconds=3600)
    monkeypatch.setattr(Ledger, "record", real_record)
    report = compact(grace_seconds=3600)
    assert len(report.recovered) == 1
    assert [p.name[:8] for p in lake.live_files("click", Home(home))] == ["compact-"]
    assert lake_table(home, "click").num_rows == total


READER = """
import json, sys, time, duckdb
from bidlake.paths import Home
from ingest import lake
home, seconds = Home(__import__("pathlib").Path(sys.argv[1])), float(sys.argv[2])
counts, errors = [], []
con = duckdb.connect()
end = time.monotonic() + seconds
while time.monotonic() < end:
    files = [str(p) for p in lake.live_files("click", home)]
    try:
        counts.append(con.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM read_parquet($f)", {"f": files}
        ).fetchall()[0])
    except Exception as exc:
        errors.append(repr(exc))
print(json.dumps({"counts": counts, "errors": errors}))
"""


def test_readers_keep_reading_exact_counts_while_compaction_runs(
    home: Path, tmp_path: Path
) -> None:
    total = many_small_files(tmp_path / "landing", hours=3, files_per_hour=8, rows=20)
    h = Home(home)
    stop = threading.Event()
    results: list[tuple[int, int]] = []
    errors: list[str] = []

    def read_in_thread() -> None:
        con = duckdb.connect()
        while not stop.is_set():
            files = [str(p) for p in lake.live_files("click", h)]
            try:
                row = con.execute(
                    "SELECT count(*), count(DISTINCT event_id) FROM read_parquet($f)", {"f": files}
                ).fetchall()[0]
                results.append(row)
            except Exception as exc:  # any reader error fails the test below
                errors.append(repr(exc))

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-c", READER, str(home), "4"], stdout=subprocess.PIPE, env=env, text=True
    )
    threads = [threading.Thread(target=read_in_thread) for _ in range(2)]
    for t in threads:
        t.start()
    # Merge in rounds (pairs, then fours, ...), vacuuming files retired more than the grace
    # period ago, so readers see files appear, leave the manifest and get deleted.
    rounds = 0
    for target in (40, 80, 160):
        report = compact(grace_seconds=0.5, target_rows=target, small_rows=10_000)
        rounds += report.files_out > 0
        stop.wait(0.6)  # let the grace period of this round expire before the next one
    compact(grace_seconds=0.5)  # nothing left to merge: deletes what the last round retired
    out, _ = process.communicate(timeout=120)
    stop.set()
    for t in threads:
        t.join()
    child = json.loads(out)
    assert rounds == 3
    assert errors == [] and child["errors"] == []
    assert results and child["counts"]
    assert set(results) == {(total, total)}
    assert {tuple(c) for c in child["counts"]} == {(total, total)}
    live = lake.live_files("click", h)
    assert len(live) == 3 and sum(pq.read_metadata(p).num_rows for p in live) == total
    assert len(lake.data_files(h, "click")) == 3  # every retired file deleted by now
