"""Compaction: merge a partition's small files into big ones, while readers keep reading.

Frequent ingest runs leave many small files per hour partition (one per batch); scans
then pay per-file overhead and small row groups. `compact` rewrites, per partition, the
files below `small_rows` rows into files of up to `target_rows` rows (sorted by
event_time, so row-group statistics prune time ranges), and commits like an ingest batch:
staged, then renamed in under a new unique name, then recorded (`ingest.ledger`).

The inputs are not touched at commit: they are *retired* (left out of the manifest) and
deleted only after `grace_seconds`, by the `Ledger.vacuum` that ends every
`compact`. A DuckDB query that listed them before the commit — through the manifest or a
glob — still finds every file it listed; no file is ever renamed over or truncated
(DuckDB 2.0 fails now and then on a file replaced under a running query). Readers that
glob `raw/` directly can see a compacted file next to its inputs until the grace period
ends; readers that need exact counts meanwhile use the manifest (`ingest.lake.live_files`).

Row counts come from Parquet footers only, so deciding what to compact costs one small
read per file, not a scan.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bidlake.paths import Home
from contract.events import EVENT_TYPES
from ingest import lake
from ingest.ledger import Commit, Ledger, Output
from ingest.pipeline import _resolve_home

SMALL_ROWS = 1_000_000  # a file below this many rows is worth merging
TARGET_ROWS = 4_000_000  # merged files stop growing here (memory: ~1 KB/row in Arrow)
DEFAULT_GRACE_SECONDS = 600.0  # longer than any analyst query is expected to run


@dataclass
class CompactionReport:
    partitions: int = 0
    files_in: int = 0
    files_out: int = 0
    rows: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    commit_id: str = ""
    recovered: list[str] = field(default_factory=list)
    deleted: list[Path] = field(default_factory=list)  # retired files vacuumed now
    seconds: float = 0.0


def _groups(files: list[tuple[Path, int]], target_rows: int) -> list[list[tuple[Path, int]]]:
    """Consecutive runs of files of up to `target_rows` rows; runs of one file dropped."""
    groups: list[list[tuple[Path, int]]] = []
    current: list[tuple[Path, int]] = []
    rows = 0
    for item in files:
        if current and rows + item[1] > target_rows:
            groups.append(current)
            current, rows = [], 0
        current.append(item)
        rows += item[1]
    if current:
        groups.append(current)
    return [g for g in groups if len(g) > 1]


def _merge(paths: Sequence[Path]) -> pa.Table:
    tables = [pq.read_table(p) for p in paths]
    # "permissive": files written before a field was added lack its column (nulls).
    merged = pa.concat_tables(tables, promote_options="permissive")
    if "event_time" in merged.column_names:
        merged = merged.sort_by([("event_time", "ascending")])
    return merged


def compact(
    home: Home | Path | str | None = None,
    *,
    event_types: Sequence[str] | None = None,
    small_rows: int = SMALL_ROWS,
    target_rows: int = TARGET_ROWS,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    wait_for_lock: bool = True,
) -> CompactionReport:
    """Merge small files of every partition, then vacuum expired retired files."""
    started = time.perf_counter()
    home = _resolve_home(home)
    ledger = Ledger(home)
    report = CompactionReport()
    with lake.restricted_umask(), ledger.lock(wait=wait_for_lock):
        report.recovered = ledger.recover()
        retired = ledger.retired()
        plan: list[tuple[str, list[tuple[Path, int]]]] = []
        for event_type in event_types or EVENT_TYPES:
            by_partition: dict[Path, list[tuple[Path, int]]] = {}
            for path in lake.data_files(home, event_type):
                if path.relative_to(home.raw).as_posix() in retired:
                    continue
                rows = pq.read_metadata(path).num_rows
                if rows < small_rows:
                    by_partition.setdefault(path.parent, []).append((path, rows))
            for partition in sorted(by_partition):
                groups = _groups(by_partition[partition], target_rows)
                plan += [(event_type, g) for g in groups]
                report.partitions += 1 if groups else 0
        if plan:
            report.commit_id = _commit_id([p for _, g in plan for p, _ in g])
            stage = ledger.staging(report.commit_id)
            outputs: list[Output] = []
            retire: list[str] = []
            for _event_type, group in plan:
                inputs = [p for p, _ in group]
                name = "compact-" + _digest([p.name for p in inputs]) + ".parquet"
                rel = (inputs[0].parent / name).relative_to(home.lake).as_posix()
                table = _merge(inputs)
                size = lake.write_parquet(table, stage / rel)
                outputs.append(Output(rel, table.num_rows, size))
                retire += [p.relative_to(home.raw).as_posix() for p in inputs]
                report.files_in += len(inputs)
                report.files_out += 1
                report.rows += table.num_rows
                report.bytes_in += sum(p.stat().st_size for p in inputs)
                report.bytes_out += size
            ledger.commit(
                Commit(
                    commit_id=report.commit_id,
                    kind="compaction",
                    created_at_ms=int(time.time() * 1000),
                    outputs=outputs,
                    retire=retire,
                )
            )
        report.deleted = ledger.vacuum(grace_seconds)
    report.seconds = time.perf_counter() - started
    return report


def _digest(names: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()[:24]


def _commit_id(paths: Sequence[Path]) -> str:
    return "c" + _digest([p.as_posix() for p in paths])
