"""One builder per data home: an exclusive, advisory file lock.

DuckDB already refuses a second writer on the build database, but with an error about a
lock on a file the user never heard of, and only once dbt has started. This lock turns it
into "another build of <home> is running (pid N)" before anything starts, and also keeps a
`publish()` from racing a build. flock is released by the kernel when the process dies, so
a crashed build never leaves the home locked.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WarehouseBusyError(RuntimeError):
    """Another process is building or publishing this data home."""


@contextmanager
def exclusive(path: Path, what: str) -> Iterator[None]:
    """Holds the lock at `path` for the block; raises WarehouseBusyError if it is held."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise WarehouseBusyError(
                f"cannot {what}: another build or publish of {path.parent} is running "
                f"(pid {holder}; lock {path})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
