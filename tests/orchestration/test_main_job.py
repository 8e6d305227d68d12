"""`bidlake run`, the main job: a real run (session fixture `main_run`, a subprocess as
`make run` starts it), then what it left behind — runs in the Dagster instance, the lake,
the models, the bidder's logs, the summary; and a part that is missing is left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration import jobs, main_job, parts
from tests.orchestration.conftest import MainRun

STAGE_JOBS = {
    "simulate": jobs.SIMULATE,
    "ingest": jobs.INGEST,
    "build": jobs.BUILD,
    "export-reporting": jobs.EXPORT_REPORTING,
    "train": jobs.TRAIN,
    "replay": jobs.REPLAY,
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
        by_stage = {r.tags.get(main_job.STAGE_TAG): r for r in runs}
        assert set(by_stage) == set(STAGE_JOBS)
        assert len({r.tags[main_job.MAIN_RUN_TAG] for r in runs}) == 1
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


def test_a_missing_part_is_left_out_and_named(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is faked: a stage whose part is not in the checkout is skipped, with why."""
    from orchestration.instance import open_instance

    monkeypatch.setattr(parts, "missing", lambda name: f"{name}: not built yet (test)")
    with open_instance() as instance:
        stages = main_job.MainJob(instance, main_job.Settings()).run()
        assert instance.get_runs() == []
    assert [(s.name, s.status) for s in stages] == [(n, "skipped") for n in STAGE_JOBS]
    assert stages[0].reason == "simulator: not built yet (test)"


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
    tags = {main_job.PID_TAG: dead_pid, main_job.HOST_TAG: socket.gethostname()}
    with open_instance() as instance:
        run = instance.add_run(
            DagsterRun(
                job_name=jobs.BUILD,
                run_id=uuid.uuid4().hex,
                status=DagsterRunStatus.STARTED,
                tags=tags,
            )
        )
        storage = instance.event_log_storage
        assert storage.claim_concurrency_slot(pools.WAREHOUSE, run.run_id, "step").is_claimed
        assert main_job.recover_dead_runs(instance) == [run.run_id]
        after = instance.get_run_by_id(run.run_id)
        assert after is not None and after.status == DagsterRunStatus.FAILURE
        assert storage.get_concurrency_info(pools.WAREHOUSE).claimed_slots == []
        # A live process's run is left alone.
        alive = instance.add_run(
            DagsterRun(
                job_name=jobs.BUILD,
                run_id=uuid.uuid4().hex,
                status=DagsterRunStatus.STARTED,
                tags={**tags, main_job.PID_TAG: str(os.getpid())},
            )
        )
        assert main_job.recover_dead_runs(instance) == []
        assert instance.get_run_by_id(alive.run_id).status == DagsterRunStatus.STARTED  # type: ignore[union-attr]
