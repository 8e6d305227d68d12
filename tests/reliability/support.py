"""Helpers of the fault tests: real `bidlake` subprocesses, killing them at a chosen moment,
what the lake and ledger hold (compared with a clean run), and small real filesystems.

Every process started here is killed and reaped by the caller's `finally`
(`stop(process)`); nothing outlives its test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from bidlake.paths import Home
from contract.events import EVENT_TYPES
from ingest import lake
from ingest.ledger import Ledger

REPO = Path(__file__).resolve().parents[2]


def cli_env(home: Path | Home, **extra: str) -> dict[str, str]:
    root = home.root if isinstance(home, Home) else home
    return {**os.environ, "BIDLAKE_HOME": str(root), "PYTHONPATH": str(REPO), **extra}


def bidlake(home: Path | Home, *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """`bidlake <args>` as a real process (the CLI, as an operator runs it)."""
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "bidlake.cli", *args],
            env=cli_env(home),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    finally:
        if log is not None:
            out.close()  # type: ignore[union-attr]


def run_bidlake(home: Path | Home, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bidlake.cli", *args],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def stop(process: subprocess.Popen) -> None:
    """SIGKILL a process started here if it still runs, and reap it."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


def kill_when(
    process: subprocess.Popen,
    trigger: Callable[[], bool],
    *,
    timeout: float = 60,
    interval: float = 0.002,
) -> bool:
    """SIGKILL `process` as soon as `trigger()` holds; True when it was killed while still
    running, False when it ended on its own first (the trigger came too late)."""
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if trigger():
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return process.returncode == -signal.SIGKILL
        if time.monotonic() > deadline:
            stop(process)
            raise AssertionError(f"kill trigger never held within {timeout:g} s")
        time.sleep(interval)
    return False


def after(seconds: float) -> Callable[[], bool]:
    at = time.monotonic() + seconds
    return lambda: time.monotonic() >= at


# ---------------------------------------------------------------------- the lake's state


@dataclass(frozen=True)
class LakeState:
    """What readers and the next run can see of a lake, independent of wall-clock times."""

    event_ids: dict[str, list[str]]  # per event type: sorted event_ids of the live files
    quarantine: dict[tuple[str, str], int]  # (source file name, error code) -> rows
    ledger: list[tuple[object, ...]]  # per source: path, status, counts, error code
    unlisted: list[str]  # data files on disk but not in the manifest (or the reverse)
    leftovers: list[str]  # staging files and pending commits

    def totals(self) -> dict[str, int]:
        return {t: len(ids) for t, ids in self.event_ids.items()}


def lake_state(home: Home) -> LakeState:
    con = duckdb.connect()
    try:
        ids: dict[str, list[str]] = {}
        unlisted: list[str] = []
        for event_type in EVENT_TYPES:
            live = lake.live_files(event_type, home)
            on_disk = lake.data_files(home, event_type)
            unlisted += sorted({str(p) for p in on_disk} ^ {str(p) for p in live})
            if live:
                rows = con.execute(
                    "select event_id from read_parquet($files) order by event_id",
                    {"files": [str(p) for p in live]},
                ).fetchall()
                ids[event_type] = [r[0] for r in rows]
            else:
                ids[event_type] = []
        records = sorted((home.quarantine / "records").glob("*.parquet"))
        quarantine: Counter[tuple[str, str]] = Counter()
        if records:
            for source, code, n in con.execute(
                "select source_path, error_code, count(*) from read_parquet($files) group by all",
                {"files": [str(p) for p in records]},
            ).fetchall():
                quarantine[(Path(source).name, code)] += n
    finally:
        con.close()
    ledger = sorted(
        (s.path, s.status, s.records, s.raw, s.quarantined, s.duplicates, s.error_code)
        for commit in Ledger(home).commits()
        for s in commit.sources
    )
    leftovers = [
        str(p)
        for folder in (home.lake / "_staging", home.ledger / "pending")
        if folder.exists()
        for p in folder.rglob("*")
        if p.is_file()
    ]
    return LakeState(ids, dict(quarantine), ledger, unlisted, leftovers)


def assert_sound(state: LakeState) -> None:
    """Invariants of any lake at rest, whatever happened before."""
    for event_type, ids in state.event_ids.items():
        assert len(ids) == len(set(ids)), f"duplicate {event_type} event_ids in the lake"
    paths = [row[0] for row in state.ledger]
    assert len(paths) == len(set(paths)), "a source is in the ledger twice"
    for path, status, records, raw, quarantined, duplicates, _ in state.ledger:
        if status == "ingested":
            assert records == raw + quarantined + duplicates, f"{path}: records unaccounted"
    assert state.unlisted == [], "data files and the manifest disagree"
    assert state.leftovers == [], "staging litter or a pending commit left behind"


# ------------------------------------------------------------------ a small real filesystem


def mount_supported() -> bool:
    return os.geteuid() == 0 and sys.platform.startswith("linux")


@contextlib.contextmanager
def tmpfs(path: Path, size: str, *, required: bool = True) -> Iterator[Path | None]:
    """A tmpfs of `size` mounted at `path` for the block (root only): real ENOSPC, raised
    by the kernel inside pyarrow's or DuckDB's writes. Where no tmpfs can be mounted, the
    test is skipped, or (`required=False`) the block gets None and injects its fault."""
    path.mkdir(parents=True, exist_ok=True)
    if not mount_supported():
        if required:
            pytest.skip("mounting a tmpfs needs root on Linux")
        yield None
        return
    mounted = subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size={size},mode=0755",
            f"bidlake-{uuid.uuid4().hex[:6]}",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        if required:
            pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
        yield None
        return
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def resize(path: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def fill(path: Path) -> Path:
    """Fill the filesystem holding `path` up to its last byte; returns the filler file."""
    filler = path / ".filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for block in (1 << 16, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * block)
    finally:
        os.close(fd)
    return filler
