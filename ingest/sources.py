"""Source files: finding closed tracking logs, telling what they are, reading their bytes.

A source is one closed log file `<landing>/<event_type>/<name>.<ext>` (docs/interfaces.md).
The folder gives the event type and the extension the format; neither is guessed from
the content. What the content *looks like* is only used to refuse a file whose name lies
(`format_mismatch`) with a message that says what it seems to be instead — a gzip file
named `.jsonl` is not silently decompressed, because the writer that produced it is broken
and someone should know.

`RawStream` reads a file once, in blocks: it hashes the bytes as stored (the ledger's
content fingerprint), decompresses gzip (multi-member streams included) and, when the
compressed stream is cut short or damaged, stops cleanly and says where, so the decoders
can quarantine the partial record at the end instead of losing the whole file.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from contract.events import EVENT_TYPES
from contract.landing_names import EXTENSIONS, Format, split_extension
from ingest.errors import ErrorCode, SourceError

READ_BLOCK = 8 << 20  # bytes read from disk at a time (compressed side)
GZIP_MAGIC = b"\x1f\x8b"
SNIFF_BYTES = 64 << 10


@dataclass(frozen=True)
class Source:
    """A file to ingest, as found on disk (before its content is read)."""

    path: Path
    event_type: str | None  # None: the folder is not an event type
    fmt: Format | None  # None: the extension is not a tracking-log extension
    compressed: bool
    size: int
    mtime_ns: int

    @property
    def kind(self) -> str:
        if self.fmt is None:
            return "?"
        return {"jsonl": "jsonl", "protobuf": "pb"}[self.fmt] + (".gz" if self.compressed else "")

    def problem(self) -> SourceError | None:
        """Why this file cannot be read as a tracking log at all, judging by its name."""
        if self.event_type is None:
            return SourceError(
                ErrorCode.UNKNOWN_EVENT_TYPE,
                f"{self.path}: folder {self.path.parent.name!r} is not an event type "
                f"(expected <landing>/<event_type>/<file> with event_type one of "
                f"{', '.join(EVENT_TYPES)})",
            )
        if self.fmt is None:
            return SourceError(
                ErrorCode.UNKNOWN_FORMAT,
                f"{self.path}: unknown extension; tracking logs end in "
                + ", ".join("." + e for e in EXTENSIONS),
            )
        return None


def describe(path: Path) -> Source:
    """Classify `path` by folder and extension; stats it (raises OSError if it vanished)."""
    stat = path.stat()
    folder = path.parent.name
    parsed = split_extension(path.name)
    return Source(
        path=path,
        event_type=folder if folder in EVENT_TYPES else None,
        fmt=parsed[0] if parsed else None,
        compressed=parsed[1] if parsed else False,
        size=stat.st_size,
        mtime_ns=stat.st_mtime_ns,
    )


def _visible(path: Path) -> bool:
    # "." marks files being written (the log writer.s `.<name>.inprogress`) and editor/OS litter;
    # "_" marks bookkeeping by convention (as in the lake).
    return not path.name.startswith((".", "_"))


def discover(landing: Path) -> list[Path]:
    """Closed files below `landing`: `<landing>/<folder>/<file>`, plus stray root files.

    Sorted, so batches and "the first copy of a duplicate wins" are deterministic. Deeper
    folders are not searched: the layout has exactly one level (the event type).
    Raises FileNotFoundError (with the path) when `landing` does not exist.
    """
    if not landing.exists():
        raise FileNotFoundError(f"landing folder {landing} does not exist")
    if not landing.is_dir():
        raise NotADirectoryError(f"{landing} is not a folder")
    found: list[Path] = []
    for entry in sorted(landing.iterdir()):
        if not _visible(entry):
            continue
        if entry.is_dir():
            # A symlink that leads nowhere is listed too: it is then reported as
            # unreadable instead of silently skipped.
            found += [
                f
                for f in sorted(entry.iterdir())
                if _visible(f) and (f.is_file() or f.is_symlink())
            ]
        elif entry.is_file():
            found.append(entry)
    return found


def looks_like(sample: bytes) -> str:
    """ "gzip", "jsonl", "binary" or "empty": what the first bytes of a file look like."""
    if not sample:
        return "empty"
    if sample.startswith(GZIP_MAGIC):
        return "gzip"
    pieces = sample.split(b"\n")
    lines = [p for p in (pieces[:-1] or pieces)[:200] if p.strip()]
    if not lines:
        return "jsonl"  # only blank lines: text, and the decoder will say what is wrong
    # JSONL: lines of text that open an object. Protobuf frames are split at 0x0a (the tag
    # of field 1) into pieces starting with a length byte, almost never "{".
    objects = sum(1 for line in lines if line.lstrip().startswith(b"{"))
    if b"\x00" not in sample and objects * 2 >= len(lines):
        return "jsonl"
    return "binary"


def _describe_content(kind: str) -> str:
    return {
        "gzip": "gzip-compressed data",
        "jsonl": "JSON lines",
        "binary": "binary data (not JSON lines; protobuf frames or something else)",
        "empty": "empty",
    }[kind]


def check_content(source: Source, first_bytes: bytes, first_block: bytes | None) -> None:
    """Raise `format_mismatch` when the bytes are not what the name promises.

    `first_bytes` are the file's first bytes as stored; `first_block` the first bytes
    after decompression (None when the file is not compressed).
    """
    stored = looks_like(first_bytes[:SNIFF_BYTES])
    want = "jsonl" if source.fmt == "jsonl" else "binary"
    name = source.path.name
    if source.compressed:
        if stored != "gzip" and stored != "empty":
            raise SourceError(
                ErrorCode.FORMAT_MISMATCH,
                f"{source.path}: named {name!r} but it is not gzip; it looks like "
                f"{_describe_content(stored)}",
            )
        content = looks_like((first_block or b"")[:SNIFF_BYTES])
    else:
        if stored == "gzip":
            raise SourceError(
                ErrorCode.FORMAT_MISMATCH,
                f"{source.path}: named {name!r} but it is gzip-compressed; a compressed log "
                f"must end in .gz",
            )
        content = stored
    if content not in (want, "empty"):
        inner = " after decompression" if source.compressed else ""
        raise SourceError(
            ErrorCode.FORMAT_MISMATCH,
            f"{source.path}: named {name!r} ({source.fmt}) but its content{inner} looks like "
            f"{_describe_content(content)}",
        )


@dataclass(frozen=True)
class StreamFault:
    """How a compressed stream ended badly, and the bytes that could not be decoded."""

    code: ErrorCode  # TRUNCATED_RECORD (cut short) or CORRUPT_STREAM (damaged data)
    message: str
    compressed_offset: int  # where in the file as stored the damage starts
    payload: bytes  # the undecodable rest of the file as stored (may be empty)


class RawStream:
    """One pass over a file: blocks of decompressed bytes, the sha256 of the stored bytes.

    After `blocks()` is exhausted, `sha256` is the hex digest of the whole file as stored
    and `fault` says whether a compressed stream was truncated or damaged (the blocks
    yielded before the damage are good data).
    """

    def __init__(self, source: Source, block_size: int = READ_BLOCK) -> None:
        self.source = source
        self.block_size = block_size
        self.sha256 = ""
        self.fault: StreamFault | None = None
        self.stored_bytes = 0  # bytes read from the file
        self.decoded_bytes = 0  # bytes yielded (after decompression)
        self.first_bytes = b""

    def blocks(self) -> Iterator[bytes]:
        digest = hashlib.sha256()
        try:
            with open(self.source.path, "rb") as handle:
                if self.source.compressed:
                    yield from self._gunzip(handle, digest)
                else:
                    while block := handle.read(self.block_size):
                        if not self.first_bytes:
                            self.first_bytes = block[:SNIFF_BYTES]
                        digest.update(block)
                        self.stored_bytes += len(block)
                        self.decoded_bytes += len(block)
                        yield block
        except OSError as exc:
            raise SourceError(
                ErrorCode.UNREADABLE, f"{self.source.path}: cannot be read: {exc.strerror or exc}"
            ) from exc
        self.sha256 = digest.hexdigest()

    def _gunzip(self, handle: object, digest: hashlib._Hash) -> Iterator[bytes]:
        read = handle.read  # type: ignore[attr-defined]
        inflater = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer
        consumed = 0  # compressed bytes fed to finished members or the current one
        member_start = 0
        started = False
        while True:
            block = read(self.block_size)
            if not block:
                break
            if not self.first_bytes:
                self.first_bytes = block[:SNIFF_BYTES]
            digest.update(block)
            self.stored_bytes += len(block)
            data = block
            while data:
                try:
                    out = inflater.decompress(data)
                except zlib.error as exc:
                    rest = data + self._drain(read, digest)
                    self.fault = StreamFault(
                        ErrorCode.CORRUPT_STREAM,
                        f"gzip data is damaged ({exc}) in the member starting at compressed "
                        f"byte {member_start}; the rest of the file cannot be decoded",
                        consumed,
                        rest,
                    )
                    return
                started = True
                if out:
                    self.decoded_bytes += len(out)
                    yield out
                if inflater.eof:
                    # A gzip file may hold several members back to back (`cat a.gz b.gz`).
                    used = len(data) - len(inflater.unused_data)
                    consumed += used
                    data = inflater.unused_data
                    member_start = consumed
                    inflater = zlib.decompressobj(wbits=31)
                    started = False
                else:
                    consumed += len(data)
                    data = b""
        if started and not inflater.eof:
            tail = inflater.flush()
            if tail:
                self.decoded_bytes += len(tail)
                yield tail
            self.fault = StreamFault(
                ErrorCode.TRUNCATED_RECORD,
                f"gzip stream ends without its end-of-stream marker after {self.stored_bytes} "
                f"bytes: the file was cut short and whatever followed is lost",
                self.stored_bytes,
                b"",
            )

    def _drain(self, read: object, digest: hashlib._Hash) -> bytes:
        rest = []
        while block := read(self.block_size):  # type: ignore[operator]
            digest.update(block)
            self.stored_bytes += len(block)
            rest.append(block)
        return b"".join(rest)
