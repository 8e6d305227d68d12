"""Fixtures of the fault tests: one small simulated landing folder and its clean ingest,
the reference every crashed-and-resumed lake must equal."""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bidlake.paths import Home
from tests.reliability.support import LakeState, assert_sound, lake_state, run_bidlake
from tests.warehouse.conftest import write_late_batch, write_scenario
from warehouse.build import build
from warehouse.catalog import connect_read_only

# What the build tests compare: every reporting and feature mart and the staging views.
PUBLISHED = (
    "rpt_campaign_daily",
    "rpt_exchange_hourly",
    "rpt_publisher_daily",
    "rpt_no_bid_reasons",
    "rpt_pacing",
    "ftr_ctr_training",
    "ftr_cvr_training",
    "stg_tracker__bid_requests",
    "stg_tracker__impressions",
    "stg_tracker__clicks",
    "stg_tracker__conversions",
)


@dataclass(frozen=True)
class Simulated:
    landing: Path  # closed tracking logs, outside every home: same source paths everywhere
    clean: LakeState  # one uninterrupted `bidlake ingest` of it
    clean_seconds: float  # wall time of that run, start-up included


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    """Two hours of simulated traffic at 3 requests/s (~45k events in 10 files), with
    garbage lines and duplicated events, plus one file that is not what its name says."""
    root = tmp_path_factory.mktemp("simulated")
    landing = root / "landing"
    sim = run_bidlake(
        root / "simulator-home",
        *("simulate", "--hours", "2", "--rate", "3", "--seed", "11", "--out", str(landing)),
        *("--corrupt-rate", "0.005", "--duplicate-rate", "0.01"),
    )
    assert sim.returncode == 0, sim.stdout + sim.stderr
    # gzip bytes under a .jsonl name: refused whole (format_mismatch), copied to quarantine
    (landing / "click" / "w9-20260105T01-000000.jsonl").write_bytes(
        gzip.compress(b'{"event_id": "c-1"}\n')
    )
    clean = Home(root / "clean")
    started = time.monotonic()
    done = run_bidlake(clean, "ingest", str(landing), "--batch-mb", "0")
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    state = lake_state(clean)
    assert_sound(state)
    assert sum(state.totals().values()) > 30_000 and state.quarantine
    return Simulated(landing, state, seconds)


def published(home: Home) -> dict[str, list[tuple]]:
    """Every row of every relation in PUBLISHED, as analysts read them now."""
    con = connect_read_only(home)
    try:
        return {
            name: sorted(con.execute(f"select * from {name}").fetchall(), key=repr)
            for name in PUBLISHED
        }
    finally:
        con.close()


@pytest.fixture(scope="session")
def scenario_reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    """The warehouse tests' scenario plus its late batch, built once in full and
    published: what every interrupted-and-repaired warehouse of that lake must equal."""
    home = Home(tmp_path_factory.mktemp("reference") / "home")
    write_scenario(home.raw)
    write_late_batch(home.raw)
    result = build(home=home, full_refresh=True)
    assert result.success, [(n.name, n.message) for n in result.failed] or result.error
    return published(home)
