"""Ingest throughput against a bare DuckDB `read_json -> COPY parquet` of the same files.

Input: BIDLAKE_BENCH_INGEST_EVENTS (default 500,000) realistic bid_request events
(`workload.py`, ~700 B of JSON each), one hour of traffic written by the tracking-log
writer into 4 files per format: jsonl, jsonl.gz, pb, pb.gz.

Figures, each the best of 3 runs in this process (wall time, and CPU time of the process,
all threads, which a busy machine does not inflate):
- ceiling: DuckDB (all cores) `COPY (SELECT * FROM read_json([files])) TO 'x.parquet'
  (FORMAT parquet, COMPRESSION zstd)` on the JSONL files, and on the gzipped ones;
- ingest: `ingest.pipeline.ingest(folder)` into a fresh home: read, decode, validate every
  record against the contract, dedup (within the batch and against the lake), partition
  by event hour, write zstd Parquet, quarantine, ledger, fsync and atomic renames. The
  ratio column compares it with the ceiling on the same events (protobuf against the
  JSONL ceiling: DuckDB cannot read protobuf);
- the same JSONL with 1 % garbage lines (the slow path at work);
- the dedup lookup alone: 100k incoming ids against the lake's event_id column for 1, 3
  and 9 hours of 1.8M ids each (500 requests/s), what a batch pays as the horizon grows.

    .venv/bin/python -m benchmarks ingest
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks.harness import Figure, best_of
from benchmarks.ingest.workload import bid_requests, write_logs
from ingest.dedup import seen_in_lake
from ingest.lake import partition_of
from ingest.pipeline import ingest

PART = "ingest"
FILES = 4
REPEATS = 3


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(best wall seconds, best CPU seconds of this process, all threads) over REPEATS.

    CPU time is the figure to trust on a busy machine: other processes stretch wall time
    but not the CPU this work itself needs.
    """
    walls, cpus = [], []
    for _ in range(REPEATS):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _duckdb_copy(files: list[Path], out: Path) -> None:
    con = duckdb.connect()
    try:
        con.execute(
            "COPY (SELECT * FROM read_json($files, format = 'newline_delimited')) "
            f"TO '{out}' (FORMAT parquet, COMPRESSION zstd)",
            {"files": [str(f) for f in files]},
        )
    finally:
        con.close()
        out.unlink(missing_ok=True)


def _ingest_fresh(landing: Path, work: Path) -> None:
    home = work / f"home-{time.monotonic_ns()}"
    report = ingest(landing, home)
    assert report.accounted, "benchmark input must be fully accounted for"
    shutil.rmtree(home)


def _dedup_figures(work: Path) -> list[Figure]:
    figures = []
    rows_per_hour = 1_800_000
    incoming = pc.binary_join_element_wise(
        "req-", pc.cast(pa.array(np.arange(0, 200_000, 2)), pa.string()), ""
    )
    files: list[Path] = []
    bucket0 = 491_000
    for hours in (1, 3, 9):
        while len(files) < hours:
            h = len(files)
            numbers = pa.array(np.arange(h * rows_per_hour, (h + 1) * rows_per_hour))
            ids = pc.binary_join_element_wise("req-", pc.cast(numbers, pa.string()), "")
            path = work / "dedup" / partition_of(bucket0 + h) / "part.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table({"event_id": ids}), path, compression="zstd")
            files.append(path)
        buckets = np.full(len(incoming), bucket0 + hours // 2, dtype=np.int64)
        seconds = best_of(
            REPEATS,
            lambda f=list(files), b=buckets, h=hours: seen_in_lake(incoming, b, f, h),
        )
        lake_rows = hours * rows_per_hour
        figures.append(
            Figure(
                PART,
                f"dedup lookup, 100k ids vs {lake_rows / 1e6:.1f}M lake ids",
                seconds * 1000,
                "ms",
                note=f"{seconds * 1e9 / lake_rows:.0f} ns per lake id in the horizon",
            )
        )
    return figures


def run() -> list[Figure]:
    n = int(os.environ.get("BIDLAKE_BENCH_INGEST_EVENTS", "500000"))
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        events = bid_requests(n)
        landings = {}
        for name, fmt, compress in (
            ("jsonl", "jsonl", False),
            ("jsonl.gz", "jsonl", True),
            ("pb", "protobuf", False),
            ("pb.gz", "protobuf", True),
        ):
            landings[name] = work / name
            write_logs(landings[name], events, fmt, compress, FILES)
        landings["jsonl+1%garbage"] = work / "garbage"
        write_logs(landings["jsonl+1%garbage"], events, "jsonl", False, FILES, garbage=0.01)
        del events

        ceilings, cpu_ceilings = {}, {}
        for name in ("jsonl", "jsonl.gz"):
            files = sorted((landings[name] / "bid_request").iterdir())
            seconds, cpu = _timed(lambda f=files: _duckdb_copy(f, work / "ceiling.parquet"))
            ceilings[name] = f"{name}: duckdb read_json -> COPY parquet (ceiling)"
            cpu_ceilings[name] = f"{name}: duckdb CPU per event"
            figures.append(Figure(PART, ceilings[name], n / seconds, "events/s"))
            mb_per_s = _size(landings[name]) / seconds / 1e6
            figures.append(Figure(PART, f"{name}: duckdb ceiling MB/s", mb_per_s, "MB/s"))
            figures.append(Figure(PART, cpu_ceilings[name], cpu / n * 1e6, "µs CPU"))
        for name, ceiling in (
            ("jsonl", "jsonl"),
            ("jsonl.gz", "jsonl.gz"),
            ("pb", "jsonl"),
            ("pb.gz", "jsonl.gz"),
            ("jsonl+1%garbage", "jsonl"),
        ):
            seconds, cpu = _timed(lambda p=landings[name]: _ingest_fresh(p, work))
            figures.append(
                Figure(
                    PART,
                    f"{name}: bidlake ingest",
                    n / seconds,
                    "events/s",
                    baseline=ceilings[ceiling],
                    note="validate, dedup, partition, zstd, ledger",
                )
            )
            figures.append(
                Figure(
                    PART,
                    f"{name}: bidlake ingest MB/s",
                    _size(landings[name]) / seconds / 1e6,
                    "MB/s",
                    note=f"{_size(landings[name]) / n:.0f} B/event as stored",
                )
            )
            figures.append(
                Figure(
                    PART,
                    f"{name}: bidlake ingest CPU per event",
                    cpu / n * 1e6,
                    "µs CPU",
                    baseline=cpu_ceilings[ceiling],
                    note="ratio: CPU needed vs duckdb (lower is better)",
                )
            )
        figures += _dedup_figures(work)
    return figures
