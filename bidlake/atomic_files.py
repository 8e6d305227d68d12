"""Writing a file so that readers see the old content or the new, never half of either.

One pattern, used wherever a file is replaced in place (ledger entries, model artifacts
and their CURRENT pointer, published catalogs, metrics snapshots, truth files, Dagster's
instance file): write a hidden temp file beside the target, fsync it, `os.replace` it over
the target (atomic on POSIX within one filesystem), then fsync the folder so the rename
itself survives a machine crash.

Temp names carry the process id, so two processes replacing the same file never write into
each other's temp file; the last rename wins, whole.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO


def fsync_dir(folder: Path) -> None:
    """Make the entries of `folder` (a rename into it, a new file) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path_for(path: Path) -> Path:
    """The hidden temp name beside `path` that `atomic_write` writes before renaming."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextlib.contextmanager
def _replacing(path: Path, durable: bool) -> Iterator[Path]:
    """The temp path to fill; on a normal exit it replaces `path`, on an error it goes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path_for(path)
    try:
        yield temp
        if durable:
            with open(temp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise
    if durable:
        fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_writer(path: Path | str, *, durable: bool = True) -> Iterator[IO[bytes]]:
    """A binary file handle whose content replaces `path` when the block ends normally.

    On an exception the temp file is removed and `path` is untouched. `durable=False`
    skips both fsyncs, for files that only matter while the machine is up (metrics
    snapshots): the rename is still atomic for readers.
    """
    with _replacing(Path(path), durable) as temp, open(temp, "wb") as handle:
        yield handle


def atomic_write(path: Path | str, data: bytes | str, *, durable: bool = True) -> Path:
    """Replace `path` with `data` (str is written as UTF-8); see `atomic_writer`."""
    with atomic_writer(path, durable=durable) as handle:
        handle.write(data.encode() if isinstance(data, str) else data)
    return Path(path)


def atomic_write_with(path: Path | str, write: Callable[[Path], object]) -> Path:
    """Replace `path` with what `write(temp_path)` writes there, for writers that want a
    path rather than a handle (pyarrow's `write_table`, DuckDB's COPY)."""
    with _replacing(Path(path), durable=True) as temp:
        write(temp)
    return Path(path)
