"""Ingest: closed tracking logs -> the raw lake, quarantine and ledger, in atomic batches.

`ingest(sources, home)` is the entry point for the CLI and the orchestration. It
1. takes the lake's writer lock and completes any commit a crash interrupted
   (`Ledger.recover`), so the lake is as one clean run would have left it;
2. skips sources the ledger already has (same path, size and mtime; or, after reading,
   the same bytes under another name);
3. groups the rest into batches of about `batch_bytes` of decompressed input and, per
   batch, decodes and validates every source (chunks decoded on a small thread pool: the
   heavy parts run in pyarrow/numpy with the GIL released), drops duplicate events and
   plans its files (`plan_commit`: one Parquet file per event type and hour partition,
   one quarantine file, the ledger entries), then writes them and commits all of it at
   once (`_Batch`; see `ingest.ledger` for the protocol);
4. returns an `IngestReport`: per source, records = raw + quarantined + duplicates.

A file that cannot be read at all (permissions, I/O errors) is reported and left out of
the commit, so the next run tries it again; it is the only thing that makes the run
"not accounted for". A file that is not what its name says, or sits in a folder that is
no event type, is copied whole into the quarantine and accounted for that way; so is a
file past one of the caps below (`Limits`), which keep memory bounded by the batch, not
by the input. A symlink, FIFO, device or socket is refused unread (`not_a_regular_file`,
status "refused"): recorded in the ledger and the quarantine table, never copied.
Everything is written under a restrictive umask (`lake.UMASK`, 0o027).
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import chain
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa

from bidlake.paths import Home
from bidlake.paths import home as current_home
from contract.events import columns as contract_columns
from contract.landing_names import parse_name
from ingest import dedup, lake, quarantine
from ingest.decoded import Checked, Reject
from ingest.errors import ErrorCode, SourceError
from ingest.jsonl import JsonlDecoder
from ingest.ledger import Commit, Ledger, Output, SourceRecord
from ingest.protobuf import ProtobufDecoder
from ingest.rules import file_window, widest_window_hours
from ingest.sources import (
    MAX_REST_BYTES,
    RawStream,
    Source,
    check_content,
    describe,
    discover,
    open_regular,
)

DEFAULT_BATCH_BYTES = 1 << 30  # decompressed input per batch: bounds memory (~2x this)
GZIP_RATIO = 6  # assumed decompressed/compressed size when planning batches
DEFAULT_WORKERS = 2  # this machine has 2 cores
IN_FLIGHT = 4  # decoded chunks waiting to be collected: bounds memory per source

# The caps (ingest/README.md, "Limits"). Past one, a file is copied whole into the
# quarantine with the cap's code, instead of record by record; nothing is lost.
# Rejects: a healthy writer has none, a flaky one ~1 % (1.2k of a 125k-event benchmark
# file, 10k of a full 1M-event file); beyond that the writer is broken and the file is
# for a person to look at. 10k rejects with ~1 KB payloads hold ~10 MB.
DEFAULT_MAX_REJECTS_PER_FILE = 10_000
MAX_REJECT_BYTES_PER_FILE = 64 << 20  # payload bytes kept per file (records <= 1 MiB each)
# Hour partitions the valid events of one file may fill: the widest event-time window
# (conversions, 7 days + 2 h = 170 hours). Files named by the grammar never exceed it
# (`ingest.rules.file_window`); it bounds the files whose name carries no hour.
DEFAULT_MAX_HOURS_PER_FILE = widest_window_hours()
# Decompressed bytes one file may hold: twice what the log writer puts in a file (1M
# events, ~0.7-0.9 GB of JSON). Bounds a file of valid events that inflates without end.
DEFAULT_MAX_FILE_BYTES = 2 << 30

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, str], None]  # (bytes of input done, what is happening)


@dataclass
class SourceReport:
    """What happened to one source in this run."""

    path: Path
    event_type: str | None
    kind: str
    # ingested | file_quarantined | refused | already_ingested | same_content | failed
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


def _resolve_home(home: Home | Path | str | None) -> Home:
    if home is None:
        return current_home()
    if isinstance(home, Home):
        return home
    return Home(Path(home).expanduser().resolve())


def _ordered(pool: Executor, fn: Callable[[T], R], items: Iterable[T], window: int) -> Iterator[R]:
    """`map` on a pool, in order, with at most `window` items in flight.

    Closed early (a cap reached, an error), it cancels what has not started yet.
    """
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


@dataclass(frozen=True)
class Limits:
    """The per-file caps (see the constants above and ingest/README.md, "Limits")."""

    max_rejects_per_file: int = DEFAULT_MAX_REJECTS_PER_FILE
    max_hours_per_file: int = DEFAULT_MAX_HOURS_PER_FILE
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_reject_bytes: int = MAX_REJECT_BYTES_PER_FILE


# ---------------------------------------------------------------- one source


@dataclass
class SourceRead:
    """A source read in full (not yet deduplicated)."""

    source: Source
    status: str  # ingested | file_quarantined | refused | same_content | failed
    sha256: str = ""
    records: int = 0
    tables: list[pa.Table] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: SourceError | None = None
    same_as: str = ""
    decoded_bytes: int = 0  # input after decompression (what the batch size counts)
    hours: set[int] = field(default_factory=set)  # hour partitions of the valid rows
    reject_bytes: int = 0  # payload bytes of `rejects`


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


def _refused(source: Source, error: SourceError) -> SourceRead:
    """A source not ingested: unreadable (retried), not a regular file, or quarantined whole."""
    if error.code is ErrorCode.UNREADABLE:
        return SourceRead(source, "failed", error=error)
    if error.code is ErrorCode.NOT_A_REGULAR_FILE:
        return SourceRead(source, "refused", error=error)
    return SourceRead(source, "file_quarantined", error=error)


def _read_source(
    source: Source,
    decoders: _Decoders,
    pool: Executor,
    progress: Progress | None,
    limits: Limits | None = None,
) -> SourceRead:
    limits = limits or Limits()
    problem = source.problem()
    if problem is not None:
        return _refused(source, problem)
    decoder = decoders.get(source)
    assert source.event_type is not None
    name = parse_name(source.path.name)
    window = file_window(source.event_type, name.hour) if name is not None else None
    stream = RawStream(source)
    result = SourceRead(source, "ingested")
    blocks = stream.blocks()
    done = 0

    def counted(it: Iterator[bytes]) -> Iterator[bytes]:
        nonlocal done
        for block in it:
            if stream.decoded_bytes > limits.max_file_bytes:
                raise SourceError(
                    ErrorCode.FILE_TOO_LARGE,
                    f"{source.path}: decompresses to more than {limits.max_file_bytes} bytes, "
                    f"the most one file may hold; quarantined whole",
                )
            yield block
            if progress is not None:
                step = stream.stored_bytes - done
                done = stream.stored_bytes
                progress(step, source.path.name)

    try:
        first = next(blocks, None)
        check_content(source, stream.first_bytes, first if source.compressed else None)
        all_blocks = counted(chain([first] if first is not None else [], blocks))
        decode = partial(decoder.decode, window=window)
        for checked in _ordered(pool, decode, decoder.jobs(all_blocks), IN_FLIGHT):  # type: ignore[arg-type]
            _take(result, checked, limits)
        fault = stream.fault
        if fault is not None and fault.rest_bytes > len(fault.payload):
            raise _too_many_rejects(
                source,
                f"the undecodable rest of its damaged gzip stream is {fault.rest_bytes} bytes, "
                f"more than the {MAX_REST_BYTES} bytes the quarantine keeps as one record",
            )
    except SourceError as exc:
        return _refused(source, exc)
    finally:
        blocks.close()
    if progress is not None and source.size > done:
        progress(source.size - done, source.path.name)
    result.sha256 = stream.sha256
    result.decoded_bytes = stream.decoded_bytes
    if fault is not None:
        if fault.code is ErrorCode.CORRUPT_STREAM:
            result.rejects.append(
                Reject(None, stream.decoded_bytes, fault.code, fault.message, "", fault.payload)
            )
            result.records += 1
        result.warnings.append(fault.message)
    return result


def _take(result: SourceRead, checked: Checked, limits: Limits) -> None:
    """Add a decoded chunk to its source; a cap reached raises (the file goes whole)."""
    source = result.source
    result.records += checked.records
    if checked.valid.num_rows:
        result.tables.append(checked.valid)
        result.hours.update(np.unique(_buckets(checked.valid)).tolist())
        if len(result.hours) > limits.max_hours_per_file:
            raise SourceError(
                ErrorCode.TOO_MANY_PARTITIONS,
                f"{source.path}: its valid events fall in more than "
                f"{limits.max_hours_per_file} hour partitions; quarantined whole",
            )
    result.rejects.extend(checked.rejects)
    result.reject_bytes += sum(len(r.payload) for r in checked.rejects)
    if len(result.rejects) > limits.max_rejects_per_file:
        raise _too_many_rejects(
            source, f"more than {limits.max_rejects_per_file} of its records are refused"
        )
    if result.reject_bytes > limits.max_reject_bytes:
        raise _too_many_rejects(
            source,
            f"its refused records hold more than {limits.max_reject_bytes} bytes",
        )


def _too_many_rejects(source: Source, why: str) -> SourceError:
    return SourceError(
        ErrorCode.TOO_MANY_REJECTS,
        f"{source.path}: {why} (a writer this broken needs a person); quarantined whole",
    )


# ---------------------------------------------------------------- one batch: the plan


# (event type, the batch's rows of that type, commit id) -> per row: keep it (not a duplicate)
Keep = Callable[[str, pa.Table, str], np.ndarray]


@dataclass(frozen=True)
class TableFile:
    """A Parquet file a commit writes: one raw partition, or the quarantined records."""

    path: str  # relative to `<home>/lake/`
    table: pa.Table


@dataclass(frozen=True)
class FileCopy:
    """A source refused whole, copied byte for byte into the quarantine."""

    source: Path
    path: str  # relative to `<home>/lake/`


@dataclass
class CommitPlan:
    """Everything one batch will write, decided before anything is written.

    Computed from the sources read and the dedup verdict only (`plan_commit`), so it can
    be read and tested without a lake; `_Batch._stage` writes it, `Ledger.commit`
    publishes it.
    """

    commit_id: str
    created_at_ms: int
    dedup_horizon_hours: int
    tables: list[TableFile]  # one per (event type, hour), then the quarantine records
    copies: list[FileCopy]  # sources refused whole
    sources: list[SourceRecord]  # the ledger's entries, with their counts

    def reports(self) -> list[SourceReport]:
        return [
            SourceReport(
                path=Path(s.path),
                event_type=s.event_type,
                kind=s.kind,
                status=s.status,
                records=s.records,
                raw=s.raw,
                quarantined=s.quarantined,
                duplicates=s.duplicates,
                error_code=s.error_code,
                message=s.message,
                warnings=s.warnings,
                commit_id=self.commit_id,
            )
            for s in self.sources
        ]

    def commit(self, outputs: Sequence[Output], copied_sha256: dict[str, str]) -> Commit:
        """The ledger's record of the staged outputs. A source refused whole is hashed
        while it is copied (it was never read), hence `copied_sha256` by source path."""
        return Commit(
            commit_id=self.commit_id,
            kind="ingest",
            created_at_ms=self.created_at_ms,
            sources=[
                replace(s, sha256=copied_sha256[s.path]) if s.path in copied_sha256 else s
                for s in self.sources
            ],
            outputs=sorted(outputs, key=lambda o: o.path),
            dedup_horizon_hours=self.dedup_horizon_hours,
        )


def plan_commit(
    reads: Sequence[SourceRead], keep: Keep, now_ms: int, dedup_horizon_hours: int
) -> CommitPlan:
    """The files, quarantine rows and ledger entries of a batch of sources read."""
    commit_id = _commit_id(reads)
    tables, raw, duplicates = _raw_files(reads, keep, commit_id)
    copies: list[FileCopy] = []
    entries: list[quarantine.Entry] = []
    sources: list[SourceRecord] = []
    for i, read in enumerate(reads):
        src = read.source
        event_type = src.event_type or ""
        if read.status == "file_quarantined":
            assert read.error is not None
            folder = src.path.parent.name or "_root"
            stored = quarantine.stored_file_path(commit_id, folder, src.path.name)
            copies.append(FileCopy(src.path, stored))
            whole = Reject(None, 0, read.error.code, read.error.message, "", b"")
            entries.append(quarantine.Entry(str(src.path), src.kind, event_type, whole, stored))
        elif read.status == "refused":
            # Not a regular file: a row says so, and nothing is read or copied.
            assert read.error is not None
            whole = Reject(None, 0, read.error.code, read.error.message, "", b"")
            entries.append(quarantine.Entry(str(src.path), src.kind, event_type, whole))
        entries += [quarantine.Entry(str(src.path), src.kind, event_type, r) for r in read.rejects]
        sources.append(_ledger_entry(read, raw[i], duplicates[i]))
    if entries:
        records = quarantine.to_table(entries, commit_id, now_ms)
        tables.append(TableFile(quarantine.records_path(commit_id), records))
    return CommitPlan(commit_id, now_ms, dedup_horizon_hours, tables, copies, sources)


def _raw_files(
    reads: Sequence[SourceRead], keep: Keep, commit_id: str
) -> tuple[list[TableFile], list[int], list[int]]:
    """One file per (event type, hour) of the events kept; per source: rows kept, dropped."""
    raw = [0] * len(reads)
    duplicates = [0] * len(reads)
    by_type: dict[str, list[tuple[int, pa.Table]]] = {}
    for i, read in enumerate(reads):
        for table in read.tables:
            by_type.setdefault(read.source.event_type or "", []).append((i, table))
    files = []
    for event_type, parts in sorted(by_type.items()):
        table = pa.concat_tables([t for _, t in parts])
        owner = np.concatenate([np.full(t.num_rows, i, dtype=np.int32) for i, t in parts])
        kept = keep(event_type, table, commit_id)
        for i, n in enumerate(np.bincount(owner[kept], minlength=len(reads)).tolist()):
            raw[i] += n
        for i, n in enumerate(np.bincount(owner[~kept], minlength=len(reads)).tolist()):
            duplicates[i] += n
        if not kept.all():
            table = table.filter(pa.array(kept))
        for bucket, part in _by_hour(table):
            path = f"raw/{event_type}/{lake.partition_of(bucket)}/part-{commit_id}.parquet"
            files.append(TableFile(path, part))
    return files, raw, duplicates


def _ledger_entry(read: SourceRead, raw: int, duplicates: int) -> SourceRecord:
    src = read.source
    if read.error:
        message = read.error.message
    elif read.same_as:
        message = f"same bytes as {read.same_as}, already ingested"
    else:
        message = ""
    return SourceRecord(
        path=str(src.path),
        size=src.size,
        mtime_ns=src.mtime_ns,
        sha256=read.sha256,
        event_type=src.event_type,
        kind=src.kind,
        status=read.status,
        records=read.records,
        raw=raw,
        quarantined=len(read.rejects),
        duplicates=duplicates,
        error_code=str(read.error.code) if read.error else "",
        message=message,
        warnings=list(read.warnings),
    )


def _failed_report(read: SourceRead) -> SourceReport:
    assert read.error is not None
    return SourceReport(
        path=read.source.path,
        event_type=read.source.event_type,
        kind=read.source.kind,
        status="failed",
        error_code=str(read.error.code),
        message=read.error.message,
    )


def _commit_id(reads: Sequence[SourceRead]) -> str:
    """Derived from the content of the sources, so a repeated batch gets the same id."""
    digest = hashlib.sha256()
    for read in sorted(reads, key=lambda r: str(r.source.path)):
        digest.update(f"{read.source.path}\0{read.source.event_type}\0{read.sha256}\n".encode())
    return "i" + digest.hexdigest()[:24]


# ---------------------------------------------------------------- one batch: the write


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
        self.reads: list[SourceRead] = []

    def add(self, read: SourceRead) -> None:
        if read.status == "ingested" and read.sha256:
            key = (read.source.event_type, read.sha256)
            earlier = self.content_index.get(key)
            if earlier is not None and earlier != str(read.source.path):
                # The same bytes under another name: a copied file. Every event in it
                # would be a duplicate; the ledger says "copy of <path>" instead, and
                # its data is dropped here, before dedup and writing.
                read = SourceRead(read.source, "same_content", sha256=read.sha256, same_as=earlier)
            else:
                self.content_index[key] = str(read.source.path)
        self.reads.append(read)

    def commit(self) -> tuple[str, list[SourceReport]]:
        """Plan what the batch writes, stage it, and commit it (`ingest.ledger`)."""
        committed = [r for r in self.reads if r.status != "failed"]
        failed = [_failed_report(r) for r in self.reads if r.status == "failed"]
        if not committed:
            return "", failed
        plan = plan_commit(committed, self._keep, int(time.time() * 1000), self.horizon)
        self.ledger.commit(self._stage(plan))
        return plan.commit_id, [*plan.reports(), *failed]

    def _stage(self, plan: CommitPlan) -> Commit:
        """Write the plan's files under `_staging/<commit>/`, fsynced; its ledger entry."""
        stage = self.ledger.staging(plan.commit_id)
        outputs: list[Output] = []
        copied: dict[str, str] = {}
        for copy in plan.copies:
            copied[str(copy.source)] = _copy_file(copy.source, stage / copy.path)
            outputs.append(Output(copy.path, 0, (stage / copy.path).stat().st_size))

        def write(file: TableFile) -> Output:
            size = lake.write_parquet(file.table, stage / file.path)
            return Output(file.path, file.table.num_rows, size)

        outputs += self.pool.map(write, plan.tables)
        return plan.commit(outputs, copied)

    def _keep(self, event_type: str, table: pa.Table, commit_id: str) -> np.ndarray:
        """Per row: not a duplicate, neither of an earlier row nor of an event in the lake."""
        ids = table["event_id"]
        keep = dedup.first_occurrences(ids)
        buckets = _buckets(table)
        first_rows = np.flatnonzero(keep)
        horizon = dedup.horizon_for(event_type, self.horizon)
        files = dedup.lake_candidates(
            self.home,
            event_type,
            buckets[first_rows],
            horizon,
            # A previous attempt of this very commit (ledger lost): its files are us.
            exclude={f"part-{commit_id}.parquet"},
        )
        if files:
            seen = dedup.seen_in_lake(
                ids.take(pa.array(first_rows)), buckets[first_rows], files, horizon
            )
            keep[first_rows[seen]] = False
        return keep


def _copy_file(src: Path, dst: Path) -> str:
    """Copy `src` to `dst`, fsynced; returns the sha256 of the bytes copied.

    `src` is opened as it was read: never through a symlink, never a FIFO (a source swapped
    since raises, and the batch is retried by the next run; the target is never copied).
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    try:
        fin = open_regular(src)
    except SourceError as exc:
        raise OSError(errno.EINVAL, exc.message, str(src)) from exc
    with fin, open(dst, "wb") as fout:
        while block := fin.read(1 << 20):
            digest.update(block)
            with lake.naming(dst):
                fout.write(block)
        with lake.naming(dst):
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
    max_rejects_per_file: int = DEFAULT_MAX_REJECTS_PER_FILE,
    max_hours_per_file: int = DEFAULT_MAX_HOURS_PER_FILE,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> IngestReport:
    """Ingest `sources` (a landing folder, files, or None for `<home>/landing`).

    Raises FileNotFoundError when a folder given does not exist (a source file given that
    does not exist is reported as a failed source instead). The `max_*` caps: see
    ingest/README.md, "Limits". Files are created under `lake.UMASK` (0o027) meanwhile.
    """
    started = time.perf_counter()
    home = _resolve_home(home)
    if isinstance(sources, str | Path) and not Path(sources).exists():
        raise FileNotFoundError(f"{sources}: no such folder or file")
    paths = _collect(sources, home)
    ledger = Ledger(home)
    report = IngestReport()
    limits = Limits(max_rejects_per_file, max_hours_per_file, max_file_bytes)
    with lake.restricted_umask(), ledger.lock(wait=wait_for_lock):
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

            def commit(batch: _Batch) -> None:
                commit_id, reports = batch.commit()
                report.sources.extend(reports)
                if commit_id:
                    report.commits.append(commit_id)

            # Consecutive batches of about `batch_bytes` of decompressed input (at least
            # one file each), by the estimate before a file is read and by what it really
            # inflated to after: a gzip file far above GZIP_RATIO closes its batch early.
            batch = _Batch(home, ledger, index.by_content, dedup_horizon_hours, pool)
            size = 0
            for source in todo:
                estimate = source.size * (GZIP_RATIO if source.compressed else 1)
                if batch.reads and size + estimate > batch_bytes:
                    commit(batch)
                    batch = _Batch(home, ledger, index.by_content, dedup_horizon_hours, pool)
                    size = 0
                read = _read_source(source, decoders, pool, progress, limits)
                batch.add(read)
                report.bytes_read += source.size
                size += max(estimate, read.decoded_bytes)
            if batch.reads:
                commit(batch)
        if not paths and not (home.ledger / lake.MANIFEST_NAME).exists():
            lake.write_manifest(home, ledger.retired())
    report.sources.sort(key=lambda s: str(s.path))
    report.seconds = time.perf_counter() - started
    return report
