"""The raw lake on disk: partition paths, atomic file publication, the live-file manifest.

Layout (docs/interfaces.md): `<home>/lake/raw/<event_type>/event_date=YYYY-MM-DD/event_hour=HH/
<name>.parquet`, zstd, contract columns only. A data file is written under
`<home>/lake/_staging/` (outside every reader's glob), fsynced, and renamed into its
partition: readers see all of it or nothing. It is never modified afterwards; compaction
writes new, uniquely named files and deletes the old ones only after a grace period.

The manifest (`<home>/lake/_ledger/manifest.json`) lists the live files per event type:
every data file minus those compaction has retired and not yet deleted. It is rewritten
atomically after each commit. Readers that need a consistent view while compaction runs
(the warehouse's catalog, the dedup lookup) read it via `live_files`; a bare glob over
`raw/` can, during a grace period, see a compacted file and its inputs side by side.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bidlake.atomic_files import atomic_write, fsync_dir
from bidlake.paths import Home
from contract.events import EVENT_TYPES

HOUR_MS = 3_600_000
# Row groups of up to 256k rows: above DuckDB's 100k-row guidance for scan efficiency,
# small enough that a 1M-row file still splits across both cores.
ROW_GROUP_ROWS = 262_144
COMPRESSION = "zstd"
MANIFEST_NAME = "manifest.json"
# Ingest and compaction create files and folders under this umask (added to the caller's):
# owner read/write, group read, others nothing (files 0o640, folders 0o750). The lake holds
# user ids and IPs (truncated), the quarantine raw payloads; none of it is for every
# account on the host. Readers that need the lake join the owner's group.
UMASK = 0o027


@contextlib.contextmanager
def restricted_umask(mask: int = UMASK) -> Iterator[None]:
    """Create files and folders under `mask` (or the caller's umask, if stricter) meanwhile.

    The umask is per process, so this is set by the entry points (`ingest`, `compact`) for
    their duration and restored after; other threads creating files meanwhile get the
    stricter mask too, never a looser one.
    """
    previous = os.umask(mask)
    os.umask(previous | mask)
    try:
        yield
    finally:
        os.umask(previous)


def staging_root(home: Home) -> Path:
    return home.lake / "_staging"


def partition_of(bucket: int) -> str:
    """`event_date=YYYY-MM-DD/event_hour=HH` of an epoch hour (event_time // HOUR_MS)."""
    moment = datetime.fromtimestamp(bucket * 3600, tz=UTC)
    return f"event_date={moment:%Y-%m-%d}/event_hour={moment:%H}"


def bucket_of(partition: str) -> int:
    """Inverse of `partition_of` (raises ValueError on anything else)."""
    date_part, hour_part = partition.split("/")
    day = datetime.strptime(date_part.removeprefix("event_date="), "%Y-%m-%d").replace(tzinfo=UTC)
    hour = int(hour_part.removeprefix("event_hour="))
    if not 0 <= hour <= 23:
        raise ValueError(f"bad event_hour in {partition!r}")
    return int(day.timestamp()) // 3600 + hour


def is_data_name(name: str) -> bool:
    return name.endswith(".parquet") and not name.startswith((".", "_"))


def data_files(home: Home, event_type: str) -> list[Path]:
    """Every visible data file of an event type (live or retired), sorted."""
    root = home.raw / event_type
    if not root.is_dir():
        return []
    found = []
    for day in sorted(root.iterdir()):
        if not day.is_dir() or not day.name.startswith("event_date="):
            continue
        for hour in sorted(day.iterdir()):
            if not hour.is_dir() or not hour.name.startswith("event_hour="):
                continue
            found += [p for p in sorted(hour.iterdir()) if is_data_name(p.name)]
    return found


def write_parquet(table: pa.Table, path: Path) -> int:
    """Write `table` to `path` (a staging path), fsynced; returns its size in bytes.

    Written in place, not through a temp file: a staged file becomes visible by `publish`,
    and a half-written one is never published (the commit's intent is written after it).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with naming(path), open(path, "wb") as handle:
        pq.write_table(
            table,
            handle,
            compression=COMPRESSION,
            row_group_size=ROW_GROUP_ROWS,
            write_statistics=True,
        )
        handle.flush()
        os.fsync(handle.fileno())
    return path.stat().st_size


def write_json_atomic(path: Path, payload: object) -> None:
    """Replace `path` with `payload` as JSON, atomically and durably (ledger, manifest)."""
    with naming(path):
        atomic_write(path, json.dumps(payload, indent=1, sort_keys=True))


@contextlib.contextmanager
def naming(path: Path) -> Iterator[None]:
    """Add `path` to an OSError raised without a file name (write(2) and fsync(2) on a full
    disk, pyarrow's writers), so the operator reads which file could not be written."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise


def publish(pairs: Iterable[tuple[Path, Path]]) -> list[Path]:
    """Rename each staged file to its final path; returns the final paths.

    Idempotent, for crash recovery: when the final file already exists (a previous attempt
    got that far) the staged copy is dropped instead of renamed over it — a reader may
    have listed the existing file, and DuckDB fails on a file replaced under it.
    """
    finals = []
    folders = set()
    for staged, final in pairs:
        if final.exists():
            with contextlib.suppress(FileNotFoundError):
                staged.unlink()
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, final)
            folders.add(final.parent)
        finals.append(final)
    for folder in folders:
        fsync_dir(folder)
    return finals


# ---------------------------------------------------------------- the manifest


def manifest_path(home: Home) -> Path:
    return home.ledger / MANIFEST_NAME


def write_manifest(
    home: Home, retired: set[str], *, only_if_changed: bool = False
) -> dict[str, list[str]]:
    """List live files (paths relative to `lake/raw/`) per event type; write the manifest
    (with `only_if_changed`, only when that list differs from the manifest's).

    Called with the lake lock held, after every commit and vacuum, and by recovery.
    """
    files: dict[str, list[str]] = {}
    for event_type in sorted(set(EVENT_TYPES) | _present_types(home)):
        live = []
        for path in data_files(home, event_type):
            rel = path.relative_to(home.raw).as_posix()
            if rel not in retired:
                live.append(rel)
        files[event_type] = live
    previous = read_manifest(home)
    if only_if_changed and previous.get("files") == files:
        return files
    generation = int(previous.get("generation", 0)) + 1 if previous else 1  # type: ignore[call-overload]
    write_json_atomic(
        manifest_path(home),
        {"generation": generation, "written_at_ms": int(time.time() * 1000), "files": files},
    )
    return files


def _present_types(home: Home) -> set[str]:
    if not home.raw.is_dir():
        return set()
    return {p.name for p in home.raw.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}


def read_manifest(home: Home) -> dict[str, object]:
    try:
        return dict(json.loads(manifest_path(home).read_bytes()))
    except FileNotFoundError:
        return {}


def live_files(event_type: str, home: Home | None = None) -> list[Path]:
    """The live data files of an event type, as of the last commit (absolute paths).

    A consistent set: never a compacted file together with its inputs. Files in it stay
    readable for at least the compaction grace period after they leave it.
    """
    from bidlake.paths import home as current_home

    home = home or current_home()
    manifest = read_manifest(home)
    files = manifest.get("files", {})
    assert isinstance(files, dict)
    return [home.raw / rel for rel in files.get(event_type, [])]
