"""The bidder's tracking logs: one writer per process, rotated, flushed, crash-salvaged.

Files are written by `contract.log_writer.TrackingLogWriter` (the format and naming are the
ingest contract, docs/interfaces.md). This module adds what a long-running server needs:

- rotation: every open file is closed (published to ingest, by rename) every
  `rotate_s` seconds and when the hour changes, so events reach the lake minutes after
  they happen, not at the end of the hour; the closing (with its fsyncs) runs in a worker
  thread, off the event loop;
- flushing: userspace buffers (up to `contract.log_writer.BUFFER_BYTES`, 1 MiB per open file)
  go to the OS every `flush_s` seconds (gzip streams sync-flushed, so what is on disk
  decompresses on its own);
- crash salvage. What a killed bidder loses: only what was still in its userspace buffers
  (the events of the last `flush_s` seconds — at most 1 MiB per open file, ~3,000
  bid_request events — one second by default);
  what the OS already had survives a process crash (a machine crash can also lose what
  the OS had not written to disk, since files are fsynced only when closed). What it
  wrote is in hidden `.<name>.inprogress` files, which ingest never reads. Each live
  writer holds an exclusive `flock` on `<landing>/.writers/<writer_id>.lock`; at start-up
  every bidder looks for lock files nobody holds — writers that died — and publishes their
  in-progress files cut at the last complete record (a JSON line or a protobuf frame), so
  a closed file never holds half a line, and the cut-off tail is counted and logged.
  Files of writers that never took a lock (the simulator) are not touched.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import logging
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bidlake.atomic_files import atomic_write
from contract.landing_names import HOUR_MS, INPROGRESS_SUFFIX, parse_in_progress_name
from contract.log_writer import TrackingLogWriter

log = logging.getLogger("bidder.event_logs")

LOCK_DIR = ".writers"


@dataclass(frozen=True)
class Salvaged:
    source: Path  # the in-progress file found
    published: Path | None  # where its complete records went (None: it had none)
    records: int
    dropped_bytes: int  # the incomplete tail cut off


class BidderLogs:
    """The tracking-log writer of one bidder process (not thread-safe: the event loop's).

    Rotation swaps in a fresh `TrackingLogWriter` and hands the retired one back to the
    caller, who closes it in a worker thread: closing fsyncs every file, which can take
    milliseconds, and must not stall the event loop that answers bid requests. Each
    writer generation has its own id, `<writer_id>.<generation>`, so the new writer's
    file names never collide with the files the retired one is still closing.
    """

    def __init__(
        self,
        landing: Path,
        writer_id: str,
        *,
        fmt: str = "jsonl",
        compress: bool = False,
        max_events_per_file: int = 1_000_000,
        rotate_s: float = 60.0,
        flush_s: float = 1.0,
    ) -> None:
        self.landing = Path(landing)
        self.writer_id = writer_id
        self.fmt = fmt
        self.compress = compress
        self.max_events_per_file = max_events_per_file
        self.rotate_ms = int(rotate_s * 1000)
        self.flush_ms = int(flush_s * 1000)
        self.generation = 0
        self.writer = self._next_writer()
        self.events: dict[str, int] = {}
        self.files_published = 0
        self.salvaged: list[Salvaged] = []
        self._lock: IO[bytes] | None = None
        self._lock_path = self.landing / LOCK_DIR / f"{writer_id}.lock"
        self._last_rotate_ms = 0
        self._last_flush_ms = 0
        self._hour = -1

    def _next_writer(self) -> TrackingLogWriter:
        self.generation += 1
        return TrackingLogWriter(
            self.landing,
            f"{self.writer_id}.{self.generation}",
            fmt=self.fmt,  # type: ignore[arg-type]
            compress=self.compress,
            max_events_per_file=self.max_events_per_file,
        )

    def open(self, now_ms: int | None = None) -> None:
        """Take this writer's lock, then salvage what dead writers left behind."""
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(self._lock_path, "ab")  # noqa: SIM115 - held for the writer's life
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise RuntimeError(
                f"tracking-log writer id {self.writer_id!r} is in use by a live process "
                f"({self._lock_path}); give each bidder process its own writer id"
            ) from None
        self._lock = lock
        self.salvaged = salvage_dead_writers(self.landing, own=self.writer_id)
        now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
        self._last_rotate_ms = self._last_flush_ms = now
        self._hour = now // HOUR_MS

    def write(self, event_type: str, event: dict[str, object]) -> None:
        self.writer.write(event_type, event)
        self.events[event_type] = self.events.get(event_type, 0) + 1

    def tick(self, now_ms: int) -> TrackingLogWriter | None:
        """Periodic upkeep (about once a second): flush, and rotate when `rotate_s` has
        passed or the hour changed. Returns the retired writer, which the caller must
        `retire()` (in a thread) to publish its files."""
        hour = now_ms // HOUR_MS
        if now_ms - self._last_rotate_ms >= self.rotate_ms or hour != self._hour:
            self._last_rotate_ms, self._hour = now_ms, hour
            retired, self.writer = self.writer, self._next_writer()
            return retired
        if now_ms - self._last_flush_ms >= self.flush_ms:
            self._last_flush_ms = now_ms
            self.writer.flush()
        return None

    def retire(self, writer: TrackingLogWriter) -> list[Path]:
        """Close a retired writer: flush, fsync and publish its files. Thread-safe for a
        writer that `tick()` returned, since nothing else uses it any more."""
        published = writer.close()
        self.files_published += len(published)
        return published

    def close(self) -> None:
        """Publish every open file and release the lock (clean shutdown)."""
        self.retire(self.writer)
        self.writer = self._next_writer()
        if self._lock is not None:
            with contextlib.suppress(FileNotFoundError):
                self._lock_path.unlink()
            self._lock.close()
            self._lock = None


# ---- salvage ----------------------------------------------------------------------------


def salvage_dead_writers(landing: Path, own: str = "") -> list[Salvaged]:
    """Publish the complete records of every in-progress file of a dead, locked writer.

    `own` is the caller's writer id, whose lock the caller already holds: any in-progress
    file under that id was left by a dead predecessor with the same id (a reused pid), and
    must be salvaged before the new writer reuses its file names.
    """
    lock_dir = Path(landing) / LOCK_DIR
    if not lock_dir.is_dir():
        return []
    out: list[Salvaged] = []
    for lock_path in sorted(lock_dir.glob("*.lock")):
        writer_id = lock_path.name[: -len(".lock")]
        if writer_id == own:
            out += _salvage_writer(Path(landing), writer_id)
            continue
        try:
            handle = open(lock_path, "ab")  # noqa: SIM115
        except FileNotFoundError:  # another bidder salvaged it meanwhile
            continue
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # alive
            out += _salvage_writer(Path(landing), writer_id)
            with contextlib.suppress(FileNotFoundError):
                lock_path.unlink()
    for item in out:
        log.warning(
            "salvaged %s: %d complete records -> %s, %d bytes of an incomplete tail dropped",
            item.source.name,
            item.records,
            item.published.name if item.published else "(nothing)",
            item.dropped_bytes,
        )
    return out


def _salvage_writer(landing: Path, writer_id: str) -> list[Salvaged]:
    out = []
    for folder in sorted(p for p in landing.iterdir() if p.is_dir()):
        for path in sorted(folder.glob(f".*{INPROGRESS_SUFFIX}")):
            parsed = parse_in_progress_name(path.name)
            writer = parsed.writer_id if parsed else ""
            if writer == writer_id or writer.rpartition(".")[0] == writer_id:
                with contextlib.suppress(FileNotFoundError):
                    out.append(salvage_file(path))
    return out


def _complete_frames(data: bytes) -> tuple[int, int]:
    """(records, end offset) of the complete length-delimited frames at the start of data."""
    pos, end, records = 0, len(data), 0
    while pos < end:
        length, shift, cursor = 0, 0, pos
        while True:
            if cursor >= end or shift > 63:
                return records, pos
            byte = data[cursor]
            cursor += 1
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
        if cursor + length > end:
            return records, pos
        pos = cursor + length
        records += 1
    return records, pos


def salvage_file(path: Path) -> Salvaged:
    """Cut an in-progress file at its last complete record and publish that part."""
    parsed = parse_in_progress_name(path.name)
    if parsed is None:
        raise ValueError(f"{path}: not an in-progress tracking-log file name")
    ext = parsed.ext
    data = path.read_bytes()
    compressed = ext.endswith(".gz")
    if compressed:
        # A killed gzip writer leaves a stream without its trailer; decompressobj returns
        # everything up to where the bytes stop (or turn to garbage).
        decompressor = zlib.decompressobj(wbits=31)
        try:
            plain = decompressor.decompress(data)
        except zlib.error:
            plain = b""
    else:
        plain = data
    if ext.startswith("jsonl"):
        cut = plain.rfind(b"\n") + 1
        records = plain.count(b"\n", 0, cut)
    else:
        records, cut = _complete_frames(plain)
    body = plain[:cut]
    dropped = len(plain) - cut
    if not records:
        path.unlink()
        return Salvaged(path, None, 0, dropped)
    if compressed:
        body = gzip.compress(body, compresslevel=6, mtime=0)
    name = parsed
    while path.with_name(name.final()).exists():  # never overwrite a published file
        name = name.next_seq()
    final = atomic_write(path.with_name(name.final()), body)
    path.unlink()
    return Salvaged(path, final, records, dropped)
