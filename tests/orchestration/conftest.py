"""Fixtures for the orchestration tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import postgres


@pytest.fixture(autouse=True)
def _restore_dagster_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """`orchestration.instance.prepare()` exports DAGSTER_HOME (and the storage URL) into
    os.environ for its subprocesses; registering them with monkeypatch first puts the
    previous values back after each test, so no test sees another's instance."""
    for name in ("DAGSTER_HOME", "BIDLAKE_DAGSTER_PG_URL", "BIDLAKE_DAGSTER_STORAGE_URL"):
        monkeypatch.delenv(name, raising=False)


@dataclass(frozen=True)
class MainRun:
    """A `bidlake run` that really ran, in its own home, shared by the tests that read it."""

    home: Path
    returncode: int
    output: str
    reporting_url: str  # the PostgreSQL it exported the reporting marts to


@pytest.fixture(scope="session")
def reporting_pg() -> Iterator[postgres.PostgresServer]:
    """A real PostgreSQL for the reporting export, for the whole session."""
    with postgres.running() as server:
        yield server


# Small but trainable: ~3 h at 30 requests/s gives ~50k impressions, ~300 clicks and a
# dozen conversions — enough for both models to fit and be gated, in about a minute.
MAIN_RUN_ARGS = ["--hours", "3", "--rate", "30", "--replay-hours", "1", "--replay-rate", "2"]


@pytest.fixture(scope="session")
def main_run(
    tmp_path_factory: pytest.TempPathFactory, reporting_pg: postgres.PostgresServer
) -> MainRun:
    """`bidlake run` on a fresh home, as `make run` starts it (a subprocess), exporting the
    reporting marts to a real PostgreSQL."""
    home = tmp_path_factory.mktemp("main-run") / "home"
    home.mkdir()
    url = reporting_pg.sqlalchemy_url
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "BIDLAKE_"))}
    env["BIDLAKE_HOME"] = str(home)
    env["BIDLAKE_REPORTING_URL"] = url
    done = subprocess.run(
        [sys.executable, "-m", "bidlake.cli", "run", *MAIN_RUN_ARGS],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return MainRun(
        home=home,
        returncode=done.returncode,
        output=done.stdout + done.stderr,
        reporting_url=url,
    )
