"""Tracking-log writer: how the bidder and the simulator hand events to ingest.

A log file holds events of one type and one hour, in the landing folder:
`<landing>/<event_type>/<writer_id>-<YYYYMMDD>T<HH>-<seq:06d>.<ext>` with ext `jsonl`,
`jsonl.gz`, `pb` or `pb.gz`. While open, a file is named `.<final name>.inprogress`; it is
flushed, fsynced and renamed to its final name when closed, so a file with a final name is
always complete and ingest never reads half of one. An interrupted writer loses at most
the events still in its buffers (the userspace buffer, `BUFFER_BYTES` per open file, plus
what the OS had not written; `flush()` once a second bounds it to about a second of
events); it never leaves a half line in a closed file.

`jsonl`: one proto3-JSON object per line (snake_case names, as the contract says).
`pb`: each message prefixed by its length as a base-128 varint (protobuf's delimited
framing, Java's `writeDelimitedTo`), the type given by the folder.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal

import orjson
from google.protobuf.internal.encoder import _VarintBytes  # type: ignore[attr-defined]

from ingest.contract import EVENT_MESSAGES

Format = Literal["jsonl", "protobuf"]
HOUR_MS = 3_600_000
BUFFER_BYTES = 1 << 20  # 1 MiB per open file: the most an interrupted writer can lose each
INPROGRESS_SUFFIX = ".inprogress"


def extension(fmt: Format, compress: bool) -> str:
    base = {"jsonl": "jsonl", "protobuf": "pb"}[fmt]
    return f"{base}.gz" if compress else base


def is_closed_log(path: Path) -> bool:
    """A complete log file: a final name, not an in-progress or hidden one."""
    return not path.name.startswith(".") and not path.name.endswith(INPROGRESS_SUFFIX)


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
        if not self.writer_id or "/" in self.writer_id or self.writer_id.startswith("."):
            raise ValueError(f"invalid writer_id {self.writer_id!r}")
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
        encode = orjson.dumps if self.fmt == "jsonl" else None
        run: list[bytes] = []
        run_hour = -1
        for event in events:
            hour = int(event["event_time"]) // HOUR_MS  # type: ignore[call-overload]
            room = self.max_events_per_file - self._pending_in(event_type, run_hour)
            if run and (hour != run_hour or len(run) >= room):
                self._write_run(event_type, run_hour, run)
                run = []
            run_hour = hour
            run.append(encode(event) + b"\n" if encode else self._encode(event_type, event))
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
            handle.stream.write(_VarintBytes(len(payload)) + payload)
        self._count(event_type, hour, handle)

    def _encode(self, event_type: str, event: Mapping[str, object]) -> bytes:
        if self.fmt == "jsonl":
            return orjson.dumps(event) + b"\n"
        try:
            message = EVENT_MESSAGES[event_type](**event)
        except KeyError:
            raise ValueError(f"unknown event type {event_type!r}") from None
        body = message.SerializeToString()
        return _VarintBytes(len(body)) + body

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
        stamp = datetime.fromtimestamp(hour * 3600, tz=UTC).strftime("%Y%m%dT%H")
        folder = self.landing / event_type
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{self.writer_id}-{stamp}-{seq:06d}.{extension(self.fmt, self.compress)}"
        final_path = folder / name
        # Never overwrite a closed file another run left (same writer id and hour): move on
        # to the next sequence number instead.
        while final_path.exists():
            seq = self._seq[key]
            self._seq[key] = seq + 1
            name = f"{self.writer_id}-{stamp}-{seq:06d}.{extension(self.fmt, self.compress)}"
            final_path = folder / name
        temp_path = folder / f".{name}{INPROGRESS_SUFFIX}"
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


def read_varint_frames(data: bytes | io.BufferedIOBase) -> Iterable[tuple[int, bytes]]:
    """Yield (offset, message bytes) of a length-delimited stream; raises on truncation."""
    buffer = data if isinstance(data, bytes) else data.read()
    pos, end = 0, len(buffer)
    while pos < end:
        start, shift, length = pos, 0, 0
        while True:
            if pos >= end:
                raise ValueError(f"truncated length prefix at byte {start}")
            byte = buffer[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > 63:
                raise ValueError(f"malformed length prefix at byte {start}")
        if pos + length > end:
            raise ValueError(f"truncated message at byte {start}: {length} bytes announced")
        yield start, buffer[pos : pos + length]
        pos += length
