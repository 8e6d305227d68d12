"""The one grammar of landing-file names: how a writer names a log file, how a reader parses it.

A closed log file is `<landing>/<event_type>/<writer_id>-<YYYYMMDD>T<HH>-<seq:06d>.<ext>`:

- `writer_id` names the process that wrote it (no "/", never starting with ".");
- `YYYYMMDD`T`HH` is the UTC hour its events belong to (the writer's hour);
- `seq` numbers the files of one writer and hour;
- `ext` is `jsonl`, `jsonl.gz`, `pb` or `pb.gz` (format and compression).

While a writer has the file open it is named `.<final name>.inprogress`: hidden, so no
reader lists it, and renamed to its final name once complete.

Everything that writes or reads these names — the log writer, ingest's source discovery,
the bidder's crash salvage, Dagster's landing sensor — uses `format_name` / `parse_name`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Literal

Format = Literal["jsonl", "protobuf"]

HOUR_MS = 3_600_000
INPROGRESS_SUFFIX = ".inprogress"
# Extension -> (format, gzip-compressed), longest first so ".jsonl.gz" wins over ".jsonl".
EXTENSIONS: dict[str, tuple[Format, bool]] = {
    "jsonl.gz": ("jsonl", True),
    "pb.gz": ("protobuf", True),
    "jsonl": ("jsonl", False),
    "pb": ("protobuf", False),
}
_STAMP = "%Y%m%dT%H"
_NAME = re.compile(
    r"^(?P<writer>.+)-(?P<stamp>\d{8}T\d{2})-(?P<seq>\d{6,})\.(?P<ext>jsonl\.gz|pb\.gz|jsonl|pb)$"
)


def extension(fmt: Format, compress: bool) -> str:
    """`jsonl`, `jsonl.gz`, `pb` or `pb.gz`."""
    for ext, kind in EXTENSIONS.items():
        if kind == (fmt, compress):
            return ext
    raise ValueError(f"unknown tracking-log format {fmt!r}: jsonl or protobuf")


def split_extension(name: str) -> tuple[Format, bool] | None:
    """(format, compressed) from a file name's extension, or None when it is not a log's."""
    for ext, kind in EXTENSIONS.items():
        if name.endswith("." + ext) and len(name) > len(ext) + 1:
            return kind
    return None


def check_writer_id(writer_id: str) -> str:
    """`writer_id` itself, or ValueError when it cannot be part of a landing-file name."""
    if not writer_id or "/" in writer_id or writer_id.startswith(".") or "\x00" in writer_id:
        raise ValueError(f"invalid writer_id {writer_id!r}")
    return writer_id


@dataclass(frozen=True)
class LogFileName:
    """The parts of a landing-file name (without its folder, which is the event type)."""

    writer_id: str
    hour: int  # hours since the epoch (UTC): event_time_ms // HOUR_MS
    seq: int
    ext: str  # a key of EXTENSIONS

    @property
    def hour_start(self) -> datetime:
        return datetime.fromtimestamp(self.hour * 3600, tz=UTC)

    @property
    def fmt(self) -> Format:
        return EXTENSIONS[self.ext][0]

    @property
    def compressed(self) -> bool:
        return EXTENSIONS[self.ext][1]

    def next_seq(self) -> LogFileName:
        return replace(self, seq=self.seq + 1)

    def final(self) -> str:
        """The published name."""
        return format_name(self.writer_id, self.hour, self.seq, self.ext)

    def in_progress(self) -> str:
        """The hidden name while the file is being written."""
        return f".{self.final()}{INPROGRESS_SUFFIX}"


def format_name(writer_id: str, hour: int, seq: int, ext: str) -> str:
    """`<writer_id>-<YYYYMMDD>T<HH>-<seq:06d>.<ext>`."""
    if ext not in EXTENSIONS:
        raise ValueError(f"unknown tracking-log extension {ext!r}: one of {', '.join(EXTENSIONS)}")
    stamp = datetime.fromtimestamp(hour * 3600, tz=UTC).strftime(_STAMP)
    return f"{check_writer_id(writer_id)}-{stamp}-{seq:06d}.{ext}"


def parse_name(name: str) -> LogFileName | None:
    """The parts of a published name, or None when `name` does not follow the grammar."""
    match = _NAME.match(name)
    if match is None:
        return None
    try:
        start = datetime.strptime(match["stamp"], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    return LogFileName(
        writer_id=match["writer"],
        hour=int(start.timestamp()) // 3600,
        seq=int(match["seq"]),
        ext=match["ext"],
    )


def parse_in_progress_name(name: str) -> LogFileName | None:
    """The parts of a hidden in-progress name (`.<final>.inprogress`), or None."""
    if not (name.startswith(".") and name.endswith(INPROGRESS_SUFFIX)):
        return None
    return parse_name(name[1 : -len(INPROGRESS_SUFFIX)])


def is_closed_log(path: str | PurePath) -> bool:
    """A published log name: not hidden, not in progress, with a log extension."""
    name = path.name if isinstance(path, PurePath) else path
    return (
        not name.startswith(".")
        and not name.endswith(INPROGRESS_SUFFIX)
        and split_extension(name) is not None
    )
