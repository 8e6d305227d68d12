"""Ingest: closed tracking logs -> the raw lake, quarantine and ledger, in atomic batches.

`ingest(sources, home)` is the entry point for the CLI and the orchestration. It
1. takes the lake's writer lock and completes any commit a crash interrupted
   (`Ledger.recover`), so the lake is as one clean run would have left it;
2. skips sources the ledger already has (same path, size and mtime; or, after reading,
   the same bytes under another name);
3. groups the rest into batches of about `batch_bytes` of decompressed input and, per
   batch, decodes and validates every source (chunks decoded on a small thread pool: the
   heavy parts run in pyarrow/numpy with the GIL released), drops duplicate events,
   writes one Parquet file per (event type, hour partition) and one quarantine file, and
   commits all of it at once (see `ingest.ledger` for the protocol);
4. returns an `IngestReport`: per source, records = raw + quarantined + duplicates.

A file that cannot be read at all (permissions, I/O errors) is reported and left out of
the commit, so the next run tries it again; it is the only thing that makes the run
"not accounted for". A file that is not what its name says, or sits in a folder that is
no event type, is copied whole into the quarantine and accounted for that way.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa

from bidlake.paths import Home
from bidlake.paths import home as current_home
from contract.events import columns as contract_columns
from ingest import dedup, lake, quarantine
from ingest.decoded import Checked, Reject
from ingest.errors import ErrorCode, SourceError
from ingest.jsonl import JsonlDecoder
from ingest.ledger import Commit, Ledger, Output, SourceRecord
from ingest.protobuf import ProtobufDecoder
from ingest.sources import RawStream, Source, check_content, describe, discover

DEFAULT_BATCH_BYTES = 1 << 30  # decompressed input per batch: bounds memory (~2x this)
GZIP_RATIO = 6  # assumed decompressed/compressed size when planning batches
DEFAULT_WORKERS = 2  # this machine has 2 cores
IN_FLIGHT = 4  # decoded chunks waiting to be collected: bounds memory per source

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, str], None]  # (bytes of input done, what is happening)


@dataclass
class SourceReport:
    """What happened to one source in this run."""

    path: Path
    event_type: str | None
    kind: str
    # ingested | file_quarantined | already_ingested | same_content | failed
    status: str
    records: int = 0
    raw: int = 0
    quarantined: int = 0
    duplicates: int = 0
    error_code: str = ""
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    commit_id: str = ""

    @property
    def accounted(self) -> bool:
        """Every record read is in raw, in quarantine or counted as a duplicate."""
        return self.status != "failed" and self.records == (
            self.raw + self.quarantined + self.duplicates
        )


@dataclass
class IngestReport:
    sources: list[SourceReport] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)  # interrupted commits completed
    seconds: float = 0.0
    bytes_read: int = 0

    @property
    def accounted(self) -> bool:
        return all(s.accounted for s in self.sources)

    @property
    def exit_code(self) -> int:
        return 0 if self.accounted else 1

    def totals(self) -> dict[str, int]:
        out = {"records": 0, "raw": 0, "quarantined": 0, "duplicates": 0}
        for s in self.sources:
            out["records"] += s.records
            out["raw"] += s.raw
            out["quarantined"] += s.quarantined
            out["duplicates"] += s.duplicates
        return out

    def by_status(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.sources:
            out[s.status] = out.get(s.status, 0) + 1
        return out


def _resolve_home(home: Home | Path | str | None) -> Home:
    if home is None:
        return current_home()
    if isinstance(home, Home):
        return home
    return Home(Path(home).expanduser().resolve())


def _ordered(pool: Executor, fn: Callable[[T], R], items: Iterable[T], window: int) -> Iterator[R]:
    """`map` on a pool, in order, with at most `window` items in flight."""
    pending: deque = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


# ---------------------------------------------------------------- one source


@dataclass
class _Read:
    """A source read in full (not yet deduplicated)."""

    source: Source
    status: str  # ingested | file_quarantined | same_content | failed
    sha256: str = ""
    records: int = 0
    tables: list[pa.Table] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: SourceError | None = None
    same_as: str = ""


class _Decoders:
    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], JsonlDecoder | ProtobufDecoder] = {}

    def get(self, source: Source) -> JsonlDecoder | ProtobufDecoder:
        assert source.event_type is not None and source.fmt is not None
        key = (source.event_type, source.fmt)
        cols = contract_columns(source.event_type)
        if source.fmt == "jsonl":
            # Not cached: a JSONL decoder sniffs each file's integer encoding.
            return JsonlDecoder(source.event_type, cols)
        if key not in self._cache:
            self._cache[key] = ProtobufDecoder(source.event_type, cols)
        return self._cache[key]


def _read_source(
    source: Source, decoders: _Decoders, pool: Executor, progress: Progress | None
) -> _Read:
    problem = source.problem()
    if problem is not None:
        return _Read(source, "file_quarantined", error=problem)
    decoder = decoders.get(source)
    stream = RawStream(source)
    result = _Read(source, "ingested")
    blocks = stream.blocks()
    done = 0

    def counted(it: Iterator[bytes]) -> Iterator[bytes]:
        nonlocal done
        for block in it:
            yield block
            if progress is not None:
                step = stream.stored_bytes - done
                done = stream.stored_bytes
                progress(step, source.path.name)

    try:
        first = next(blocks, None)
        check_content(source, stream.first_bytes, first if source.compressed else None)
        all_blocks = counted(chain([first] if first is not None else [], blocks))
        for checked in _ordered(pool, decoder.decode, decoder.jobs(all_blocks), IN_FLIGHT):  # type: ignore[arg-type]
            _take(result, checked)
    except SourceError as exc:
        if exc.code is ErrorCode.UNREADABLE:
            return _Read(source, "failed", error=exc)
        return _Read(source, "file_quarantined", error=exc)
    if progress is not None and source.size > done:
        progress(source.size - done, source.path.name)
    result.sha256 = stream.sha256
    fault = stream.fault
    if fault is not None:
        if fault.code is ErrorCode.CORRUPT_STREAM:
            result.rejects.append(
                Reject(None, stream.decoded_bytes, fault.code, fault.message, "", fault.payload)
            )
            result.records += 1
        result.warnings.append(fault.message)
    return result


def _take(result: _Read, checked: Checked) -> None:
    result.records += checked.records
    if checked.valid.num_rows:
        result.tables.append(checked.valid)
    result.rejects.extend(checked.rejects)


# ---------------------------------------------------------------- one batch


class _Batch:
    """The sources of one commit: read, deduplicated, written, committed together."""

    def __init__(
        self,
        home: Home,
        ledger: Ledger,
        content_index: dict[tuple[str | None, str], str],
        horizon_hours: int,
        pool: Executor,
    ) -> None:
        self.home = home
        self.ledger = ledger
        self.content_index = content_index
        self.horizon = horizon_hours
        self.pool = pool
        self.reads: list[_Read] = []

    def add(self, read: _Read) -> None:
        if read.status == "ingested" and read.sha256:
            key = (read.source.event_type, read.sha256)
            earlier = self.content_index.get(key)
            if earlier is not None and earlier != str(read.source.path):
                # The same bytes under another name: a copied file. Every event in it
                # would be a duplicate; the ledger says "copy of <path>" instead, and
                # its data is dropped here, before dedup and writing.
                read = _Read(read.source, "same_content", sha256=read.sha256, same_as=earlier)
            else:
                self.content_index[key] = str(read.source.path)
        self.reads.append(read)

    def commit(self) -> tuple[str, list[SourceReport]]:
        committed = [r for r in self.reads if r.status != "failed"]
        if not committed:
            return "", [self._failed(r) for r in self.reads]
        reports: dict[int, SourceReport] = {}
        commit_id = self._commit_id(committed)
        now_ms = int(time.time() * 1000)
        stage = self.ledger.staging(commit_id)
        outputs: list[Output] = []
        entries: list[quarantine.Entry] = []
        records: list[SourceRecord] = []
        raw_count = {i: 0 for i in range(len(committed))}
        dup_count = {i: 0 for i in range(len(committed))}

        by_type: dict[str, list[tuple[int, pa.Table]]] = {}
        for i, read in enumerate(committed):
            for table in read.tables:
                by_type.setdefault(read.source.event_type or "", []).append((i, table))

        writes = []
        for event_type, parts in sorted(by_type.items()):
            table = pa.concat_tables([t for _, t in parts])
            owner = np.concatenate([np.full(t.num_rows, i, dtype=np.int32) for i, t in parts])
            keep = self._dedup(event_type, table, commit_id)
            for i, n in enumerate(np.bincount(owner[keep], minlength=len(committed)).tolist()):
                raw_count[i] += n
            for i, n in enumerate(np.bincount(owner[~keep], minlength=len(committed)).tolist()):
                dup_count[i] += n
            kept = table if keep.all() else table.filter(pa.array(keep))
            for bucket, part in _by_hour(kept):
                rel = f"raw/{event_type}/{lake.partition_of(bucket)}/part-{commit_id}.parquet"
                writes.append((rel, part))

        for i, read in enumerate(committed):
            src = read.source
            kind = src.kind
            et = src.event_type or ""
            stored = None
            if read.status == "file_quarantined":
                assert read.error is not None
                folder = src.path.parent.name or "_root"
                stored = quarantine.stored_file_path(commit_id, folder, src.path.name)
                read.sha256 = self._copy_file(src.path, stage / stored)
                outputs.append(Output(stored, 0, (stage / stored).stat().st_size))
                entries.append(
                    quarantine.Entry(
                        str(src.path),
                        kind,
                        et,
                        Reject(None, 0, read.error.code, read.error.message, "", b""),
                        stored,
                    )
                )
            for reject in read.rejects:
                entries.append(quarantine.Entry(str(src.path), kind, et, reject))
            record = SourceRecord(
                path=str(src.path),
                size=src.size,
                mtime_ns=src.mtime_ns,
                sha256=read.sha256,
                event_type=src.event_type,
                kind=kind,
                status=read.status,
                records=read.records,
                raw=raw_count[i],
                quarantined=len(read.rejects),
                duplicates=dup_count[i],
                error_code=str(read.error.code) if read.error else "",
                message=(
                    read.error.message
                    if read.error
                    else (f"same bytes as {read.same_as}, already ingested" if read.same_as else "")
                ),
                warnings=list(read.warnings),
            )
            records.append(record)
            reports[i] = SourceReport(
                path=src.path,
                event_type=src.event_type,
                kind=kind,
                status=read.status,
                records=record.records,
                raw=record.raw,
                quarantined=record.quarantined,
                duplicates=record.duplicates,
                error_code=record.error_code,
                message=record.message,
                warnings=record.warnings,
                commit_id=commit_id,
            )

        if entries:
            rel = quarantine.records_path(commit_id)
            writes.append((rel, quarantine.to_table(entries, commit_id, now_ms)))

        def write(item: tuple[str, pa.Table]) -> Output:
            rel, table = item
            size = lake.write_parquet(table, stage / rel)
            return Output(rel, table.num_rows, size)

        outputs += list(self.pool.map(write, writes))
        commit = Commit(
            commit_id=commit_id,
            kind="ingest",
            created_at_ms=now_ms,
            sources=records,
            outputs=sorted(outputs, key=lambda o: o.path),
            dedup_horizon_hours=self.horizon,
        )
        self.ledger.commit(commit)

        out = [reports[i] for i in range(len(committed))]
        out += [self._failed(r) for r in self.reads if r.status == "failed"]
        return commit_id, out

    @staticmethod
    def _failed(read: _Read) -> SourceReport:
        assert read.error is not None
        return SourceReport(
            path=read.source.path,
            event_type=read.source.event_type,
            kind=read.source.kind,
            status="failed",
            error_code=str(read.error.code),
            message=read.error.message,
        )

    def _dedup(self, event_type: str, table: pa.Table, commit_id: str) -> np.ndarray:
        ids = table["event_id"]
        keep = dedup.first_occurrences(ids)
        buckets = _buckets(table)
        first_rows = np.flatnonzero(keep)
        files = dedup.lake_candidates(
            self.home,
            event_type,
            buckets[first_rows],
            self.horizon,
            # A previous attempt of this very commit (ledger lost): its files are us.
            exclude={f"part-{commit_id}.parquet"},
        )
        if files:
            seen = dedup.seen_in_lake(
                ids.take(pa.array(first_rows)), buckets[first_rows], files, self.horizon
            )
            keep[first_rows[seen]] = False
        return keep

    @staticmethod
    def _commit_id(reads: Sequence[_Read]) -> str:
        """Derived from the content of the sources, so a repeated batch gets the same id."""
        digest = hashlib.sha256()
        for read in sorted(reads, key=lambda r: str(r.source.path)):
            digest.update(f"{read.source.path}\0{read.source.event_type}\0{read.sha256}\n".encode())
        return "i" + digest.hexdigest()[:24]

    @staticmethod
    def _copy_file(src: Path, dst: Path) -> str:
        dst.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            while block := fin.read(1 << 20):
                digest.update(block)
                fout.write(block)
            fout.flush()
            os.fsync(fout.fileno())
        return digest.hexdigest()


def _by_hour(table: pa.Table) -> Iterator[tuple[int, pa.Table]]:
    """The rows of each event hour, in input order within the hour."""
    if table.num_rows == 0:
        return
    buckets = _buckets(table)
    if (np.diff(buckets) < 0).any():
        order = np.argsort(buckets, kind="stable")
        table, buckets = table.take(pa.array(order)), buckets[order]
    # else: already in hour order (logs are mostly written in time order), so the slices
    # below are zero-copy instead of a gather of every column.
    values, starts = np.unique(buckets, return_index=True)
    ends = [*starts[1:].tolist(), len(buckets)]
    for bucket, start, end in zip(values.tolist(), starts.tolist(), ends, strict=True):
        yield bucket, table.slice(start, end - start)


def _buckets(table: pa.Table) -> np.ndarray:
    times = table["event_time"].to_numpy()
    return np.asarray(times // lake.HOUR_MS, dtype=np.int64)


# ---------------------------------------------------------------- the run


def _collect(sources: Path | str | Sequence[Path | str] | None, home: Home) -> list[Path]:
    """Expand folders into their closed files; raise on a missing folder or file given."""
    if sources is None:
        return discover(home.landing) if home.landing.exists() else []
    if isinstance(sources, str | Path):
        sources = [sources]
    paths: list[Path] = []
    for item in sources:
        path = Path(item).expanduser().absolute()
        if path.is_dir():
            paths += discover(path)
        else:
            paths.append(path)  # a missing file is reported per source, below
    return sorted(set(paths))


def ingest(
    sources: Path | str | Sequence[Path | str] | None = None,
    home: Home | Path | str | None = None,
    *,
    dedup_horizon_hours: int = dedup.DEFAULT_HORIZON_HOURS,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
    wait_for_lock: bool = True,
) -> IngestReport:
    """Ingest `sources` (a landing folder, files, or None for `<home>/landing`).

    Raises FileNotFoundError when a folder given does not exist (a source file given that
    does not exist is reported as a failed source instead).
    """
    started = time.perf_counter()
    home = _resolve_home(home)
    if isinstance(sources, str | Path) and not Path(sources).exists():
        raise FileNotFoundError(f"{sources}: no such folder or file")
    paths = _collect(sources, home)
    ledger = Ledger(home)
    report = IngestReport()
    with ledger.lock(wait=wait_for_lock):
        report.recovered = ledger.recover()
        index = ledger.index()
        todo: list[Source] = []
        for path in paths:
            try:
                source = describe(path)
            except OSError as exc:
                report.sources.append(
                    SourceReport(
                        path,
                        None,
                        "?",
                        "failed",
                        error_code=str(ErrorCode.UNREADABLE),
                        message=f"{path}: {exc.strerror or exc}",
                    )
                )
                continue
            identity = (str(path), source.size, source.mtime_ns)
            if identity in index.by_identity:
                report.sources.append(
                    SourceReport(
                        path,
                        source.event_type,
                        source.kind,
                        "already_ingested",
                        commit_id=index.by_identity[identity],
                    )
                )
                continue
            todo.append(source)

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            decoders = _Decoders()
            for group in _plan(todo, batch_bytes):
                batch = _Batch(home, ledger, index.by_content, dedup_horizon_hours, pool)
                for source in group:
                    batch.add(_read_source(source, decoders, pool, progress))
                    report.bytes_read += source.size
                if batch.reads:
                    commit_id, reports = batch.commit()
                    report.sources += reports
                    if commit_id:
                        report.commits.append(commit_id)
        if not paths and not (home.ledger / lake.MANIFEST_NAME).exists():
            lake.write_manifest(home, ledger.retired())
    report.sources.sort(key=lambda s: str(s.path))
    report.seconds = time.perf_counter() - started
    return report


def _plan(sources: Sequence[Source], batch_bytes: int) -> Iterator[list[Source]]:
    """Consecutive groups of about `batch_bytes` of decompressed input (at least 1 file)."""
    group: list[Source] = []
    size = 0
    for source in sources:
        estimate = source.size * (GZIP_RATIO if source.compressed else 1)
        if group and size + estimate > batch_bytes:
            yield group
            group, size = [], 0
        group.append(source)
        size += estimate
    if group:
        yield group
