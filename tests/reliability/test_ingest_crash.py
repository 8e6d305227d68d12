"""`bidlake ingest` killed (SIGKILL) at random points, then run again: the lake, the
quarantine and the ledger end exactly as one clean run of the same input left them.

Each seed picks its moment: a random delay into the run, or the instant a given file of
the commit protocol appears (the Nth committed batch, a pending intent, a staged output),
and some seeds kill the recovering run as well. The input is the simulator's output with
garbage lines, duplicated events and one misnamed file; `--batch-mb 0` makes every file a
commit of its own, so a kill lands between commits as well as inside one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bidlake.paths import Home
from tests.reliability.conftest import Simulated
from tests.reliability.support import (
    after,
    assert_sound,
    bidlake,
    kill_when,
    lake_state,
    run_bidlake,
    stop,
)

SEEDS = range(6)


def _exists(folder: Path, pattern: str, at_least: int = 1) -> Callable[[], bool]:
    def probe() -> bool:
        return folder.is_dir() and sum(1 for _ in folder.glob(pattern)) >= at_least

    return probe


def _trigger(seed: int, home: Home, simulated: Simulated) -> tuple[str, Callable[[], bool]]:
    rng = random.Random(seed)
    kind = ("delay", "committed", "intent", "staged")[seed % 4]
    if kind == "delay":
        seconds = rng.uniform(0.15, 0.7) * simulated.clean_seconds
        return f"after {seconds:.2f} s", after(seconds)
    if kind == "committed":
        n = rng.randint(1, 9)
        return f"at committed batch {n}", _exists(home.ledger / "batches", "*.json", n)
    if kind == "intent":
        return "at a pending intent", _exists(home.ledger / "pending", "*.json")
    return "at a staged output", _exists(home.lake / "_staging", "*/raw/*/*/*/*.parquet")


def _readable(home: Home) -> None:
    """What a reader can see of a killed run is whole: every file under raw/ opens."""
    for path in home.raw.rglob("*.parquet"):
        pq.read_metadata(path)


@pytest.mark.parametrize("seed", SEEDS)
def test_killed_ingest_resumes_to_one_clean_run(
    seed: int, simulated: Simulated, tmp_path: Path
) -> None:
    home = Home(tmp_path / "home")
    args = ("ingest", str(simulated.landing), "--batch-mb", "0")
    what, trigger = _trigger(seed, home, simulated)
    process = bidlake(home, *args)
    try:
        killed = kill_when(process, trigger)
    finally:
        stop(process)
    assert killed, f"seed {seed}: ingest ended before the kill {what}"
    _readable(home)

    if seed % 3 == 2:  # crash the recovering run too
        process = bidlake(home, *args)
        try:
            kill_when(process, after(random.Random(seed).uniform(0.3, 1.2)))
        finally:
            stop(process)
        _readable(home)

    rerun = run_bidlake(home, *args)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    state = lake_state(home)
    assert_sound(state)
    assert state.totals() == simulated.clean.totals()
    assert state.event_ids == simulated.clean.event_ids  # none missing, none twice
    assert state.quarantine == simulated.clean.quarantine
    assert state.ledger == simulated.clean.ledger

    # A third run finds everything in the ledger and changes nothing.
    again = run_bidlake(home, *args)
    assert again.returncode == 0 and lake_state(home) == state
