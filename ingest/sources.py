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

Only regular files are read. A symlink, FIFO, device, socket or folder where a log file
should be is refused (`not_a_regular_file`) by what `lstat` says when it is listed, and
again by what `fstat` says about the descriptor actually opened (`O_NOFOLLOW`, so a symlink
swapped in later is not followed either; `O_NONBLOCK`, so opening a FIFO cannot wait for
a writer). A symlink's target is never read, ingested or copied.

Memory does not grow with the input: a file is read in blocks and a gzip stream inflated
at most `DECODED_BLOCK` bytes at a time, so a small file that inflates to gigabytes (a
gzip bomb) arrives as a stream of bounded blocks that the decoders' caps can stop.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from contract.events import EVENT_TYPES
from contract.landing_names import EXTENSIONS, Format, split_extension
from ingest.errors import ErrorCode, SourceError

READ_BLOCK = 8 << 20  # bytes read from disk at a time (plain files)
GZIP_READ_BLOCK = 1 << 20  # compressed bytes read at a time (~6-10 MB of JSON inflated)
DECODED_BLOCK = 8 << 20  # most decompressed bytes produced by one inflate step
MAX_REST_BYTES = 64 << 20  # the undecodable rest of a damaged gzip kept as one record
REGULAR = "regular file"
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
    file_type: str = REGULAR  # what lstat says: "regular file", "symbolic link", "FIFO", ...

    @property
    def kind(self) -> str:
        if self.fmt is None:
            return "?"
        return {"jsonl": "jsonl", "protobuf": "pb"}[self.fmt] + (".gz" if self.compressed else "")

    def problem(self) -> SourceError | None:
        """Why this file cannot be read as a tracking log at all, judging by its name
        (and by its type: only regular files are read)."""
        if self.file_type != REGULAR:
            return not_regular(self.path, self.file_type)
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


def file_type(mode: int) -> str:
    """What kind of file a `st_mode` is, in words."""
    if stat.S_ISREG(mode):
        return REGULAR
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISDIR(mode):
        return "folder"
    return "special file"


def not_regular(path: Path, kind: str) -> SourceError:
    return SourceError(
        ErrorCode.NOT_A_REGULAR_FILE,
        f"{path}: a {kind}, not a regular file; refused unread (ingest never follows "
        f"symlinks nor opens FIFOs, devices or sockets)",
    )


def describe(path: Path) -> Source:
    """Classify `path` by folder and extension; lstats it (OSError if it vanished).

    A symlink is described as itself (its own size and mtime), never by its target.
    """
    st = path.lstat()
    folder = path.parent.name
    parsed = split_extension(path.name)
    return Source(
        path=path,
        event_type=folder if folder in EVENT_TYPES else None,
        fmt=parsed[0] if parsed else None,
        compressed=parsed[1] if parsed else False,
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        file_type=file_type(st.st_mode),
    )


def open_regular(path: Path) -> BinaryIO:
    """`path` opened for reading, if it is a regular file; else `not_a_regular_file`.

    `O_NOFOLLOW`: a symlink fails to open (ELOOP) instead of being followed. `O_NONBLOCK`:
    opening a FIFO returns at once instead of waiting for a writer. The type is then taken
    from the descriptor (`fstat`), so what is read is what was checked. Other OS errors
    (permissions, a vanished file) are raised as OSError.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise not_regular(path, "symbolic link") from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise not_regular(path, file_type(mode))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _visible(path: Path | os.DirEntry[str]) -> bool:
    # "." marks files being written (the log writer.s `.<name>.inprogress`) and editor/OS litter;
    # "_" marks bookkeeping by convention (as in the lake).
    return not path.name.startswith((".", "_"))


def discover(landing: Path) -> list[Path]:
    """Closed files below `landing`: `<landing>/<folder>/<file>`, plus stray root files.

    Sorted, so batches and "the first copy of a duplicate wins" are deterministic. Deeper
    folders are not searched: the layout has exactly one level (the event type).
    Symlinks are never followed: a symlinked folder or file, and a FIFO, device or socket,
    is listed as what it is, and then refused (`not_a_regular_file`) rather than skipped
    in silence. Raises FileNotFoundError (with the path) when `landing` does not exist.
    """
    if not landing.exists():
        raise FileNotFoundError(f"landing folder {landing} does not exist")
    if not landing.is_dir():
        raise NotADirectoryError(f"{landing} is not a folder")
    found: list[Path] = []
    for entry in _entries(landing):
        if not _visible(entry):
            continue
        if entry.is_dir(follow_symlinks=False):
            found += [
                landing / entry.name / f.name
                for f in _entries(Path(entry.path))
                if _visible(f) and not f.is_dir(follow_symlinks=False)
            ]
        else:
            found.append(landing / entry.name)
    return found


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: e.name)


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
    # Its size: when over MAX_REST_BYTES, `payload` holds only the first MAX_REST_BYTES.
    rest_bytes: int = 0


class RawStream:
    """One pass over a file: blocks of decompressed bytes, the sha256 of the stored bytes.

    After `blocks()` is exhausted, `sha256` is the hex digest of the whole file as stored
    and `fault` says whether a compressed stream was truncated or damaged (the blocks
    yielded before the damage are good data).
    """

    def __init__(
        self, source: Source, block_size: int = READ_BLOCK, decoded_block: int = DECODED_BLOCK
    ) -> None:
        self.source = source
        self.block_size = block_size
        self.decoded_block = decoded_block
        self.sha256 = ""
        self.fault: StreamFault | None = None
        self.stored_bytes = 0  # bytes read from the file
        self.decoded_bytes = 0  # bytes yielded (after decompression)
        self.first_bytes = b""

    def blocks(self) -> Generator[bytes, None, None]:
        digest = hashlib.sha256()
        try:
            with open_regular(self.source.path) as handle:
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
        limit = self.decoded_block
        inflater = zlib.decompressobj(wbits=31)  # 31: gzip header and trailer
        consumed = 0  # compressed bytes fed to finished members or the current one
        member_start = 0
        started = False
        while True:
            block = read(min(self.block_size, GZIP_READ_BLOCK))
            if not block:
                break
            if not self.first_bytes:
                self.first_bytes = block[:SNIFF_BYTES]
            digest.update(block)
            self.stored_bytes += len(block)
            data = block
            while True:
                # At most `limit` bytes out per step, whatever the ratio: the input not
                # yet inflated waits in `unconsumed_tail` (a bomb inflates step by step,
                # and the consumer stops pulling when a cap is reached).
                try:
                    out = inflater.decompress(data, limit)
                except zlib.error as exc:
                    rest, size = self._drain(read, digest, data)
                    self.fault = StreamFault(
                        ErrorCode.CORRUPT_STREAM,
                        f"gzip data is damaged ({exc}) in the member starting at compressed "
                        f"byte {member_start}; the rest of the file cannot be decoded",
                        consumed,
                        rest,
                        size,
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
                    if not data:
                        break
                    continue
                tail = inflater.unconsumed_tail
                consumed += len(data) - len(tail)
                data = tail
                if not data and len(out) < limit:
                    break  # this block is inflated (a full step may have more pending)
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

    def _drain(self, read: object, digest: hashlib._Hash, head: bytes) -> tuple[bytes, int]:
        """The rest of the file from `head` on: its first MAX_REST_BYTES, and its size."""
        kept = [head[:MAX_REST_BYTES]]
        room = MAX_REST_BYTES - len(kept[0])
        size = len(head)
        while block := read(self.block_size):  # type: ignore[operator]
            digest.update(block)
            self.stored_bytes += len(block)
            size += len(block)
            if room > 0:
                kept.append(block[:room])
                room -= len(kept[-1])
        return b"".join(kept), size
