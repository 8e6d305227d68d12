"""The landing sensor against a real landing folder and a real ingest ledger."""

from __future__ import annotations

import json
import time
from pathlib import Path

import dagster as dg
import pytest

from contract.log_writer import TrackingLogWriter
from orchestration.lake import assets as lake
from orchestration.lake import sensors
from orchestration.landing import hour_of
from orchestration.resources import PlatformResource
from tests.orchestration.helpers import simulate_landing


def _evaluate(cursor: str | None = None) -> tuple[list[dg.RunRequest], str | None]:
    platform = PlatformResource()
    context = dg.build_sensor_context(cursor=cursor, resources={"platform": platform})
    requests = [r for r in sensors.landing_sensor(context) if isinstance(r, dg.RunRequest)]
    return requests, context.cursor


def _files(request: dg.RunRequest) -> list[str]:
    return request.run_config["ops"][lake.INGEST_OP]["config"]["files"]


def test_new_files_become_one_ingest_run_per_hour(home: Path) -> None:
    files = simulate_landing(hours=2)
    # A file still being written (leading dot, .inprogress) is never requested.
    writer = TrackingLogWriter(home / "landing", "bidder-test")
    writer.write("bid_request", {"event_id": "x", "event_time": 1_767_571_200_000})
    requests, cursor = _evaluate()

    expected = {hour_of(f) for f in files}
    assert {r.partition_key for r in requests} == expected
    requested = sorted(f for r in requests for f in _files(r))
    assert requested == sorted(str(f) for f in files)
    assert all(r.run_key and r.run_key.startswith("landing-") for r in requests)
    assert all(".inprogress" not in f for f in requested)
    # The next tick asks for nothing: everything is pending in the cursor.
    again, cursor = _evaluate(cursor)
    assert again == []
    writer.close()


def test_ingested_files_leave_the_cursor_and_new_ones_are_requested(home: Path) -> None:
    simulate_landing(hours=1)
    requests, cursor = _evaluate()
    [request] = requests
    result = dg.materialize(
        [lake.ingest_tracking_logs],
        partition_key=request.partition_key,
        run_config=request.run_config,
        resources={"platform": PlatformResource()},
    )
    assert result.success
    # Ingested files are known to the ledger: they drop out of the cursor.
    requests, cursor = _evaluate(cursor)
    assert requests == []
    assert json.loads(cursor or "{}") == {}
    # A file that lands later is requested, alone, under its own hour.
    later = simulate_landing(hours=1, start="2026-01-05T05")
    new_files = {str(f) for f in later}
    requests, _ = _evaluate(cursor)
    assert {f for r in requests for f in _files(r)} == new_files


def test_a_request_that_never_ran_is_retried_under_a_new_run_key(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulate_landing(hours=1)
    first, cursor = _evaluate()
    monkeypatch.setattr(time, "time", lambda: 1e10)  # far beyond RETRY_AFTER
    retried, _ = sensors.plan(PlatformResource(), cursor, time.time())
    assert [_files(r) for r in retried] == [_files(r) for r in first]
    assert {r.run_key for r in retried}.isdisjoint({r.run_key for r in first})
