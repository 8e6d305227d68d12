"""`bidlake run`'s stages, each one Dagster run, in order: what the main job executes.

    simulate → ingest → build [→ export-reporting] → train (+ export) → replay the bidder

This is not a Dagster job: it is a driver that starts one run per stage, each of an area's
job (`orchestration.<area>.jobs`), on the persistent instance under `<home>/dagster`,
executed in this process, so the runs, their materializations, checks and logs are in the
UI afterwards (`bidlake ui`). The stages are separate runs because their assets are
partitioned differently (hourly ingest, daily incremental models, unpartitioned training);
a range of partitions runs as one run (single-run backfill), e.g. a two-day simulation
ingests as one run over 48+ hourly partitions and builds as one dbt run.

A stage runs only if the stages it needs succeeded (`PLAN`), and counts as failed when a
step failed or an ERROR-severity check failed (the reconciliation, a dbt test) — nothing
is built on data that did not reconcile; a failed reporting export blocks nothing, and it
is skipped (the summary says why) when no reporting database is configured. All runs of
one `bidlake run` share the tag `bidlake/main_run`, so the UI can list them together
(Runs → filter by tag).

Runs started here bypass the UI's run queue, but not the pools: the warehouse, lake and
model-registry steps still wait for their pool's slot in the instance, so a `bidlake run`
next to a UI-launched build never runs two dbt builds at once. A run whose process died
keeps its slots until the daemon's run monitoring frees them; `recover_dead_runs` does it
at start for runs this machine started and that are no longer alive.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bidlake.paths import REPO_ROOT
from orchestration.bidder.jobs import REPLAY
from orchestration.lake.jobs import INGEST
from orchestration.models.jobs import TRAIN
from orchestration.resources import REPORTING_URL_ENV
from orchestration.simulation.jobs import SIMULATE
from orchestration.warehouse.jobs import BUILD, EXPORT_REPORTING

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from orchestration.dagster_internals import SerializableErrorInfo

MAIN_RUN_TAG = "bidlake/main_run"
PID_TAG = "bidlake/pid"
HOST_TAG = "bidlake/host"
STAGE_TAG = "bidlake/stage"


@dataclass(frozen=True)
class Settings:
    """What `bidlake run` simulates and replays (its flags)."""

    seed: int = 0
    start: str = "2026-01-05T00"
    # Two days: the models train on the first and are judged on the second (ml's time
    # split). 10 requests/s ≈ 1.7M bid requests, ~290k impressions, ~1.6k clicks, ~90
    # conversions, ~1.8 GB of JSONL logs; about 1.5-2 minutes here.
    hours: int = 48
    rate: float = 10.0
    log_format: str = "jsonl"
    replay_hours: int = 1
    replay_rate: float = 5.0
    # Copy the reporting marts to this PostgreSQL (postgresql+psycopg://…) after the build;
    # empty: that stage is skipped. Read from BIDLAKE_REPORTING_URL by the export step
    # itself, so the URL (and its password) never lands in Dagster's run records.
    reporting_url: str = ""


@dataclass
class Stage:
    """What one stage did, for the summary."""

    name: str
    status: str = "not run"  # succeeded | failed | skipped | not run
    job: str = ""
    run_id: str = ""
    seconds: float = 0.0
    reason: str = ""  # why skipped / failed
    materializations: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: list[tuple[str, bool, str, str]] = field(
        default_factory=list
    )  # key, passed, severity, text


Runner = Callable[["StageRunner", Stage], None]


def recover_dead_runs(instance: DagsterInstance) -> list[str]:
    """Fail runs this host started with `bidlake run` whose process is gone; free slots."""
    from dagster import DagsterRunStatus, RunsFilter

    host = socket.gethostname()
    fixed = []
    in_flight = [DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.CANCELING]
    for run in instance.get_runs(RunsFilter(statuses=in_flight, tags={HOST_TAG: host})):
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if pid and _alive(pid):
            continue
        instance.report_run_failed(run, "the `bidlake run` process that ran it is gone")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        fixed.append(run.run_id)
    return fixed


def _root_cause(error: SerializableErrorInfo | None) -> str:
    """The user code's own error under Dagster's wrappers, as `Class: first line`."""
    if error is None:
        return "the run failed"
    while error.cause is not None and error.cls_name in _WRAPPERS:
        error = error.cause
    lines = error.message.strip().splitlines() or [""]
    # `message` already starts with the qualified class name; keep the short one.
    text = lines[0].split(": ", 1)[-1] if ": " in lines[0] else lines[0]
    return f"{error.cls_name}: {text}" if error.cls_name else text


_WRAPPERS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StageRunner:
    """Runs the stages in order on one instance; see the module docstring."""

    def __init__(
        self,
        instance: DagsterInstance,
        settings: Settings,
        on_stage: Callable[[Stage], None] | None = None,
    ) -> None:
        self.instance = instance
        self.settings = settings
        self.main_run_id = uuid.uuid4().hex[:12]
        self.stages: list[Stage] = []
        self.on_stage = on_stage or (lambda _stage: None)
        self.file_hours: tuple[str, str] | None = None  # first/last hourly key of the logs

    # ---- running

    def run(self) -> list[Stage]:
        by_name: dict[str, Stage] = {}
        for name, job, after, runner in PLAN:
            stage = Stage(name, job=job)
            self.stages.append(stage)
            by_name[name] = stage
            # A stage runs after the stages it needs succeeded; after a failure it does not
            # run at all.
            blocking = [d for d in after if by_name[d].status != "succeeded"]
            if job == EXPORT_REPORTING and not self.settings.reporting_url:
                stage.status = "skipped"
                stage.reason = f"no reporting database (--reporting-url or {REPORTING_URL_ENV})"
            elif blocking:
                stage.status, stage.reason = "not run", f"{blocking[0]} did not succeed"
            else:
                self.on_stage(stage)
                runner(self, stage)
            self.on_stage(stage)
        return self.stages

    def execute(
        self,
        stage: Stage,
        job_name: str,
        run_config: dict[str, Any] | None = None,
        partition_range: tuple[str, str] | None = None,
    ) -> None:
        """One run of `job_name` on the instance, recorded into `stage`."""
        from dagster import DagsterEventType, execute_job

        from orchestration.dagster_internals import (
            ASSET_PARTITION_RANGE_END_TAG,
            ASSET_PARTITION_RANGE_START_TAG,
            ReconstructableRepository,
        )

        repo = ReconstructableRepository.for_module(
            "orchestration.definitions", "defs", working_directory=str(REPO_ROOT)
        )
        tags = {
            MAIN_RUN_TAG: self.main_run_id,
            STAGE_TAG: stage.name,
            PID_TAG: str(os.getpid()),
            HOST_TAG: socket.gethostname(),
        }
        if partition_range is not None:
            tags[ASSET_PARTITION_RANGE_START_TAG] = partition_range[0]
            tags[ASSET_PARTITION_RANGE_END_TAG] = partition_range[1]
        config = {"loggers": {"bidlake_console": {}}, **(run_config or {})}
        started = time.perf_counter()
        with execute_job(
            repo.get_reconstructable_job(job_name),
            instance=self.instance,
            run_config=config,
            tags=tags,
            raise_on_error=False,
        ) as result:
            stage.run_id = result.run_id
            for event in result.all_events:
                if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                    mat = event.materialization
                    meta = {k: getattr(v, "value", v) for k, v in mat.metadata.items()}
                    stage.materializations[mat.asset_key.to_user_string()] = meta
                elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                    ev = event.asset_check_evaluation_data
                    stage.checks.append(
                        (
                            f"{ev.asset_key.to_user_string()}:{ev.check_name}",
                            ev.passed,
                            ev.severity.value,
                            ev.description or "",
                        )
                    )
            failures = [
                e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE
            ]
            success = result.success
        stage.seconds = time.perf_counter() - started
        failed_checks = [c for c in stage.checks if not c[1] and c[2] == "ERROR"]
        if not success or failures:
            stage.status = "failed"
            data = failures[0].step_failure_data if failures else None
            stage.reason = _root_cause(data.error if data is not None else None)
        elif failed_checks:
            stage.status = "failed"
            stage.reason = f"check {failed_checks[0][0]} failed: {failed_checks[0][3]}"
        else:
            stage.status = "succeeded"

    # ---- the stages

    def _simulate(self, stage: Stage) -> None:
        s = self.settings
        config = {
            "seed": s.seed,
            "start": s.start,
            "hours": s.hours,
            "rate": s.rate,
            "format": s.log_format,
        }
        from orchestration.simulation.assets import simulated_logs

        self.execute(stage, SIMULATE, {"ops": {simulated_logs.op.name: {"config": config}}})
        meta = stage.materializations.get("landing/simulated_logs", {})
        if meta.get("first_file_hour"):
            self.file_hours = (str(meta["first_file_hour"]), str(meta["last_file_hour"]))

    def _ingest(self, stage: Stage) -> None:
        # The run's partitions are the simulated window's hours. Its files are every log
        # file the simulation wrote, including the conversions of the window's last clicks,
        # which land in files of later hours (up to 7 days): they ride along in this run
        # rather than add a partition per late hour — each hourly partition costs Dagster
        # two event records (≈0.1 s each here) per raw table.
        from bidlake.paths import home
        from orchestration.lake.assets import INGEST_OP
        from orchestration.landing import files_in_hours

        window = self._window_hours()
        first, last = self.file_hours or window
        files = [str(p) for p in files_in_hours(home().landing, min(first, window[0]), last)]
        config = {"ops": {INGEST_OP: {"config": {"files": files}}}}
        self.execute(stage, INGEST, config, partition_range=window)

    def _build(self, stage: Stage) -> None:
        # Every day with data, the late conversions' days included: the attribution of a
        # conversion needs its day built.
        first, last = self.file_hours or self._window_hours()
        self.execute(stage, BUILD, partition_range=(first[:10], last[:10]))

    def _export(self, stage: Stage) -> None:
        os.environ[REPORTING_URL_ENV] = self.settings.reporting_url  # see Settings
        self.execute(stage, EXPORT_REPORTING)

    def _train(self, stage: Stage) -> None:
        self.execute(stage, TRAIN)

    def _replay(self, stage: Stage) -> None:
        # Fresh traffic: the hours right after the simulated window, another seed.
        from orchestration.bidder.assets import bidder_replay

        after = datetime.strptime(self._window_hours()[1], "%Y-%m-%d-%H:%M") + timedelta(hours=1)
        config = {
            "seed": self.settings.seed + 1,
            "start": after.strftime("%Y-%m-%dT%H"),
            "hours": self.settings.replay_hours,
            "rate": self.settings.replay_rate,
        }
        self.execute(stage, REPLAY, {"ops": {bidder_replay.op.name: {"config": config}}})

    def _window_hours(self) -> tuple[str, str]:
        from orchestration.partitions import HOUR_KEY_FORMAT

        start = datetime.fromisoformat(
            self.settings.start if len(self.settings.start) > 13 else self.settings.start + ":00"
        ).replace(tzinfo=UTC)
        end = start + timedelta(hours=self.settings.hours - 1)
        return start.strftime(HOUR_KEY_FORMAT), end.strftime(HOUR_KEY_FORMAT)


# (stage, job, stages it runs after, what runs it).
PlanEntry = tuple[str, str, tuple[str, ...], Runner]
PLAN: list[PlanEntry] = [
    ("simulate", SIMULATE, (), StageRunner._simulate),
    ("ingest", INGEST, ("simulate",), StageRunner._ingest),
    ("build", BUILD, ("ingest",), StageRunner._build),
    ("export-reporting", EXPORT_REPORTING, ("build",), StageRunner._export),
    ("train", TRAIN, ("build",), StageRunner._train),
    ("replay", REPLAY, ("train",), StageRunner._replay),
]
