"""`bidlake run`, the main job (`orchestration.run_stages`): a real run (session fixture
`main_run`, a subprocess as `make run` starts it), then what it left behind — runs in the
Dagster instance, the lake, the models, the bidder's logs, the summary; and the order in
which stages run, skip or stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration import run_stages
from orchestration.bidder.jobs import REPLAY
from orchestration.lake.jobs import INGEST
from orchestration.models.jobs import TRAIN
from orchestration.simulation.jobs import SIMULATE
from orchestration.warehouse.jobs import BUILD, EXPORT_REPORTING
from tests.orchestration.conftest import MainRun

STAGE_JOBS = {
    "simulate": SIMULATE,
    "ingest": INGEST,
    "build": BUILD,
    "export-reporting": EXPORT_REPORTING,
    "train": TRAIN,
    "replay": REPLAY,
}


def test_the_main_job_runs_every_stage(main_run: MainRun) -> None:
    assert main_run.returncode == 0, main_run.output[-4000:]
    for stage in STAGE_JOBS:
        assert f"{stage}: succeeded" in main_run.output
    assert "campaigns (rpt_campaign_daily)" in main_run.output
    assert "where to look next" in main_run.output


def test_its_runs_are_in_the_instance_the_ui_reads(
    main_run: MainRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster import DagsterRunStatus

    from orchestration.instance import open_instance

    monkeypatch.setenv("BIDLAKE_HOME", str(main_run.home))
    with open_instance() as instance:
        runs = instance.get_runs()
        by_stage = {r.tags.get(run_stages.STAGE_TAG): r for r in runs}
        assert set(by_stage) == set(STAGE_JOBS)
        assert len({r.tags[run_stages.MAIN_RUN_TAG] for r in runs}) == 1
        for stage, job in STAGE_JOBS.items():
            assert by_stage[stage].job_name == job
            assert by_stage[stage].status == DagsterRunStatus.SUCCESS
        # The ingest run covered the simulated window's hours as one run.
        ingest = by_stage["ingest"]
        assert ingest.tags["dagster/asset_partition_range_start"] == "2026-01-05-00:00"
        assert ingest.tags["dagster/asset_partition_range_end"] == "2026-01-05-02:00"
        from dagster import AssetKey

        partitions = instance.get_materialized_partitions(AssetKey(["raw", "impression"]))
        assert partitions == {"2026-01-05-00:00", "2026-01-05-01:00", "2026-01-05-02:00"}


def test_the_reporting_marts_reached_postgresql(main_run: MainRun) -> None:
    import psycopg

    from bidlake.paths import Home
    from warehouse.catalog import connect_read_only

    con = connect_read_only(Home(main_run.home))
    try:
        [(in_catalog,)] = con.execute("select sum(impressions) from rpt_campaign_daily").fetchall()
    finally:
        con.close()
    url = main_run.reporting_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as pg:
        [(in_postgres,)] = pg.execute(
            "select sum(impressions) from reporting.rpt_campaign_daily"
        ).fetchall()
    assert in_postgres == in_catalog > 0


def test_it_leaves_a_served_model_and_the_bidders_logs(main_run: MainRun) -> None:
    home = main_run.home
    from ml.registry import current_version, load_current

    # The bidder-side loader verifies the artifact's checksum and schema version.
    model = load_current("ctr", home / "models")
    assert model.version == current_version("ctr", home / "models")
    bidder_logs = list(home.glob("landing/*/bidder-replay-*"))
    assert bidder_logs, "the bidder wrote no tracking logs during the replay"
    assert (home / "dagster" / "dagster.yaml").exists()


def _fake_plan(outcomes: dict[str, str]) -> list[run_stages.PlanEntry]:
    """`PLAN` with each stage's runner replaced by one that records it ran and sets the
    outcome asked for (default succeeded): the ordering rules without Dagster runs."""

    def runner(name: str) -> run_stages.Runner:
        def run(self: run_stages.StageRunner, stage: run_stages.Stage) -> None:
            stage.status = outcomes.get(name, "succeeded")

        return run

    return [(name, job, after, runner(name)) for name, job, after, _ in run_stages.PLAN]


@pytest.mark.parametrize(
    ("settings", "outcomes", "expected"),
    [
        pytest.param(
            run_stages.Settings(),
            {},
            {**dict.fromkeys(STAGE_JOBS, "succeeded"), "export-reporting": "skipped"},
            id="no-reporting-database",
        ),
        pytest.param(
            run_stages.Settings(reporting_url="postgresql+psycopg://u@h/db"),
            {"export-reporting": "failed"},
            {**dict.fromkeys(STAGE_JOBS, "succeeded"), "export-reporting": "failed"},
            id="a-failed-export-blocks-nothing",
        ),
        pytest.param(
            run_stages.Settings(reporting_url="postgresql+psycopg://u@h/db"),
            {"build": "failed"},
            {
                "simulate": "succeeded",
                "ingest": "succeeded",
                "build": "failed",
                "export-reporting": "not run",
                "train": "not run",
                "replay": "not run",
            },
            id="a-failed-build-stops-what-needs-it",
        ),
    ],
)
def test_stages_run_after_what_they_need(
    monkeypatch: pytest.MonkeyPatch,
    settings: run_stages.Settings,
    outcomes: dict[str, str],
    expected: dict[str, str],
) -> None:
    monkeypatch.setattr(run_stages, "PLAN", _fake_plan(outcomes))
    stages = run_stages.StageRunner(instance=None, settings=settings).run()  # type: ignore[arg-type]
    assert {s.name: s.status for s in stages} == expected
    assert [s.job for s in stages] == list(STAGE_JOBS.values())
    if expected["export-reporting"] == "skipped":
        assert "no reporting database" in stages[3].reason
    if expected["train"] == "not run":
        assert stages[4].reason == "build did not succeed"


def test_runs_of_a_dead_bidlake_run_are_failed_and_free_their_slots(home: Path) -> None:
    """A `bidlake run` killed mid-build must not hold the warehouse pool forever."""
    import os
    import socket
    import subprocess
    import sys
    import uuid

    from dagster import DagsterRun, DagsterRunStatus

    from orchestration import pools
    from orchestration.instance import open_instance

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = gone.stdout.strip()  # a process that has exited
    tags = {run_stages.PID_TAG: dead_pid, run_stages.HOST_TAG: socket.gethostname()}
    with open_instance() as instance:
        run = instance.add_run(
            DagsterRun(
                job_name=BUILD,
                run_id=uuid.uuid4().hex,
                status=DagsterRunStatus.STARTED,
                tags=tags,
            )
        )
        storage = instance.event_log_storage
        assert storage.claim_concurrency_slot(pools.WAREHOUSE, run.run_id, "step").is_claimed
        assert run_stages.recover_dead_runs(instance) == [run.run_id]
        after = instance.get_run_by_id(run.run_id)
        assert after is not None and after.status == DagsterRunStatus.FAILURE
        assert storage.get_concurrency_info(pools.WAREHOUSE).claimed_slots == []
        # A live process's run is left alone.
        alive = instance.add_run(
            DagsterRun(
                job_name=BUILD,
                run_id=uuid.uuid4().hex,
                status=DagsterRunStatus.STARTED,
                tags={**tags, run_stages.PID_TAG: str(os.getpid())},
            )
        )
        assert run_stages.recover_dead_runs(instance) == []
        assert instance.get_run_by_id(alive.run_id).status == DagsterRunStatus.STARTED  # type: ignore[union-attr]
