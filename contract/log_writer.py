"""The log writer: how the bidder and the simulator hand events to ingest.

A log file holds events of one type and one hour, in the landing folder, named as
`contract.landing_names` says. While open, a file has its hidden in-progress name; it is
flushed, fsynced and renamed to its final name when closed, so a file with a final name is
always complete and ingest never reads half of one. An interrupted writer loses at most
the events still in its buffers (the userspace buffer, `BUFFER_BYTES` per open file, plus
what the OS had not written; `flush()` once a second bounds it to about a second of
events); it never leaves a half line in a closed file.

Records are in one of the two wire forms of `contract.encoding` (JSON lines or
length-delimited protobuf), the type given by the folder.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from contract.encoding import frame, json_line, protobuf_frame
from contract.events import EVENT_MESSAGES
from contract.landing_names import (
    HOUR_MS,
    Format,
    LogFileName,
    check_writer_id,
    extension,
)

BUFFER_BYTES = 1 << 20  # 1 MiB per open file: the most an interrupted writer can lose each


@dataclass
class _OpenFile:
    final_path: Path
    temp_path: Path
    raw: IO[bytes]
    stream: IO[bytes]
    events: int = 0


@dataclass
class TrackingLogWriter:
    """Writes events to hourly log files per event type; see the module docstring.

    Not thread-safe: one writer per thread or process (give each its own `writer_id`).
    """

    landing: Path
    writer_id: str
    fmt: Format = "jsonl"
    compress: bool = False
    max_events_per_file: int = 1_000_000
    closed_files: list[Path] = field(default_factory=list)
    _open: dict[tuple[str, int], _OpenFile] = field(default_factory=dict)
    _seq: dict[tuple[str, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.fmt not in ("jsonl", "protobuf"):
            raise ValueError(f"unknown tracking-log format {self.fmt!r}: jsonl or protobuf")
        check_writer_id(self.writer_id)
        self.landing = Path(self.landing)

    # ---- writing ----

    def write(self, event_type: str, event: Mapping[str, object]) -> None:
        """Append one event (a dict in the contract's JSON form, event_time in epoch ms)."""
        hour = int(event["event_time"]) // HOUR_MS  # type: ignore[call-overload]
        handle = self._file(event_type, hour)
        handle.stream.write(self._encode(event_type, event))
        self._count(event_type, hour, handle)

    def write_many(self, event_type: str, events: Iterable[Mapping[str, object]]) -> None:
        """Append events; runs of the same hour are encoded and written in one go.

        Same files and bytes as calling `write` for each event, at a fraction of the
        per-event cost (one file lookup and one `write` call per run, not per event).
        """
        jsonl = self.fmt == "jsonl"
        run: list[bytes] = []
        run_hour = -1
        for event in events:
            hour = int(event["event_time"]) // HOUR_MS  # type: ignore[call-overload]
            room = self.max_events_per_file - self._pending_in(event_type, run_hour)
            if run and (hour != run_hour or len(run) >= room):
                self._write_run(event_type, run_hour, run)
                run = []
            run_hour = hour
            run.append(json_line(event) if jsonl else protobuf_frame(event_type, event))
        if run:
            self._write_run(event_type, run_hour, run)

    def _pending_in(self, event_type: str, hour: int) -> int:
        handle = self._open.get((event_type, hour))
        return handle.events if handle else 0

    def _write_run(self, event_type: str, hour: int, encoded: list[bytes]) -> None:
        handle = self._file(event_type, hour)
        handle.stream.write(b"".join(encoded))
        handle.events += len(encoded)
        if handle.events >= self.max_events_per_file:
            self._close((event_type, hour))

    def write_garbage(self, event_type: str, payload: bytes, event_time_ms: int) -> None:
        """Write `payload` as one line (jsonl) or one frame (protobuf), unchecked.

        Only for corruption tests and the simulator's `--corrupt-rate`.
        """
        hour = event_time_ms // HOUR_MS
        handle = self._file(event_type, hour)
        if self.fmt == "jsonl":
            handle.stream.write(payload.replace(b"\n", b" ") + b"\n")
        else:
            handle.stream.write(frame(payload))
        self._count(event_type, hour, handle)

    def _encode(self, event_type: str, event: Mapping[str, object]) -> bytes:
        if self.fmt == "jsonl":
            return json_line(event)
        return protobuf_frame(event_type, event)

    def _count(self, event_type: str, hour: int, handle: _OpenFile) -> None:
        handle.events += 1
        if handle.events >= self.max_events_per_file:
            self._close((event_type, hour))

    # ---- files ----

    def _file(self, event_type: str, hour: int) -> _OpenFile:
        key = (event_type, hour)
        handle = self._open.get(key)
        if handle is not None:
            return handle
        if event_type not in EVENT_MESSAGES:
            raise ValueError(f"unknown event type {event_type!r}")
        seq = self._seq.get(key, 0)
        self._seq[key] = seq + 1
        folder = self.landing / event_type
        folder.mkdir(parents=True, exist_ok=True)
        name = LogFileName(self.writer_id, hour, seq, extension(self.fmt, self.compress))
        # Never overwrite a closed file another run left (same writer id and hour): move on
        # to the next sequence number instead.
        while (folder / name.final()).exists():
            name = LogFileName(self.writer_id, hour, self._seq[key], name.ext)
            self._seq[key] = name.seq + 1
        final_path = folder / name.final()
        temp_path = folder / name.in_progress()
        raw = open(temp_path, "wb", buffering=BUFFER_BYTES)  # noqa: SIM115 - closed in _close
        stream: IO[bytes] = raw
        if self.compress:
            # mtime=0: the same events give the same bytes (deterministic simulator output).
            stream = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0)  # type: ignore[assignment]
        handle = _OpenFile(final_path, temp_path, raw, stream)
        self._open[key] = handle
        return handle

    def _close(self, key: tuple[str, int]) -> None:
        handle = self._open.pop(key)
        if handle.stream is not handle.raw:
            handle.stream.close()  # writes the gzip trailer into raw
        handle.raw.flush()
        os.fsync(handle.raw.fileno())
        handle.raw.close()
        os.replace(handle.temp_path, handle.final_path)
        self.closed_files.append(handle.final_path)

    def flush(self) -> None:
        """Hand every open file's buffered bytes to the OS (no fsync, no rename).

        A caller that flushes once a second bounds what a killed process loses to about a
        second of events; only a machine crash can still lose what the OS had not written.
        A gzip stream is sync-flushed, so the bytes so far decompress on their own.
        """
        for handle in self._open.values():
            if isinstance(handle.stream, gzip.GzipFile):
                handle.stream.flush(zlib.Z_SYNC_FLUSH)
            handle.raw.flush()

    def close_hours_before(self, epoch_ms: int) -> list[Path]:
        """Close the files of every hour that ended before `epoch_ms`; returns them."""
        before = len(self.closed_files)
        for key in [k for k in self._open if (k[1] + 1) * HOUR_MS <= epoch_ms]:
            self._close(key)
        return self.closed_files[before:]

    def close(self) -> list[Path]:
        """Close every open file; returns all files this writer closed."""
        for key in list(self._open):
            self._close(key)
        return list(self.closed_files)

    def abandon(self) -> None:
        """Drop open files without publishing them: their `.inprogress` files stay behind, as
        after a crash (unlike a crash, what was buffered is still written out)."""
        for handle in self._open.values():
            with contextlib.suppress(OSError, ValueError):
                handle.raw.close()
        self._open.clear()

    def __enter__(self) -> TrackingLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
