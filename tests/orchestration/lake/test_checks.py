"""The ingest reconciliation check: passes on a clean ingest, fails — and says why — on a
broken one (a raw file gone, a ledger that lies)."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from orchestration.lake import assets as lake
from orchestration.lake import checks
from orchestration.resources import PlatformResource
from tests.orchestration.helpers import simulate_landing

HOUR = "2026-01-05-00:00"
RESOURCES = {"platform": PlatformResource()}


def _ingest(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    simulate_landing(hours=1)
    result = dg.materialize(
        [lake.ingest_tracking_logs, checks.ingest_reconciliation],
        partition_key=HOUR,
        instance=instance,
        resources=RESOURCES,
    )
    assert result.success
    return result


def _check_again(instance: dg.DagsterInstance) -> dict[str, dg.AssetCheckEvaluation]:
    """Run only the reconciliation checks (as the UI's "Execute checks" does)."""
    result = dg.materialize(
        [lake.ingest_tracking_logs, checks.ingest_reconciliation],
        selection=dg.AssetSelection.checks(checks.ingest_reconciliation),
        instance=instance,
        resources=RESOURCES,
        raise_on_error=False,
    )
    return {e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}


def _latest_commit(home: Path) -> dict:
    [path] = sorted((home / "lake" / "_ledger" / "batches").glob("*.json"))
    return json.loads(path.read_text())


def test_clean_ingest_reconciles(home: Path) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        result = _ingest(instance)
        evaluations = result.get_asset_check_evaluations()
        assert len(evaluations) == 5
        assert all(e.passed for e in evaluations), [e.description for e in evaluations]
        by_type = {e.asset_key.path[-1]: e for e in evaluations}
        impressions = by_type["impression"].metadata
        assert impressions["raw"].value > 0
        assert impressions["files_recounted"].value >= 1
        assert impressions["problems"].value == []


def test_a_missing_raw_file_fails_the_check(home: Path) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        _ingest(instance)
        commit = _latest_commit(home)
        [victim] = [o for o in commit["outputs"] if o["path"].startswith("raw/impression/")][:1]
        (home / "lake" / victim["path"]).unlink()

        evaluations = _check_again(instance)
        assert not evaluations["impression"].passed
        assert evaluations["impression"].severity == dg.AssetCheckSeverity.ERROR
        assert "missing" in (evaluations["impression"].description or "")
        assert evaluations["bid_request"].passed  # only the broken table fails
        # Reported: the failure is recorded on the asset in the instance (what the UI shows).
        key = dg.AssetCheckKey(lake.raw_key("impression"), checks.RECONCILIATION)
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        assert record is not None
        assert record.event is not None
        evaluation = record.event.dagster_event.asset_check_evaluation_data  # type: ignore[union-attr]
        assert evaluation.passed is False


def test_a_ledger_that_does_not_add_up_fails_the_check(home: Path) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        _ingest(instance)
        ledger = sorted((home / "lake" / "_ledger" / "batches").glob("*.json"))[0]
        commit = json.loads(ledger.read_text())
        click = next(s for s in commit["sources"] if s["event_type"] == "click")
        click["records"] += 1  # one record read that went nowhere
        ledger.write_text(json.dumps(commit))

        evaluations = _check_again(instance)
        assert not evaluations["click"].passed
        assert "records !=" in (evaluations["click"].description or "")
