"""`dbt build` of dbt_project/ for one data home, then publication of the result.

dbt runs in this process (dbt's documented programmatic entry point, `dbtRunner`): no
second interpreter start-up, and a second build in the same process re-uses dbt's parsed
project (partial parsing), so an hourly build costs its models, not dbt's start-up.
Everything dbt needs comes from the environment profiles.yml and the sources read
(project.dbt_env), set for the duration of the run.

One build per home at a time (locking.exclusive on <home>/build.lock); a failed build
publishes nothing, so readers keep the last good catalog.

The dbt target is `target`, else BIDLAKE_DBT_TARGET, else `dev` (DuckDB). Target `spark`
(profiles.yml; docs/scaling.md, "dbt on Spark") builds the same models with dbt-spark in
this process, into <home>/spark/; the read-only catalog is DuckDB's, so a Spark build
publishes nothing and readers query the Spark tables (spark_tables()).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bidlake.paths import Home
from bidlake.paths import home as current_home
from warehouse import locking, project
from warehouse.publish import Publication, publish_locked

FAILED = frozenset({"error", "fail", "runtime error", "skipped"})
DEFAULT_TARGET = "dev"
TARGET_ENV = "BIDLAKE_DBT_TARGET"


@dataclass(frozen=True)
class NodeResult:
    """One node dbt ran: a model, a test, a unit test, a hook."""

    unique_id: str
    name: str
    resource_type: str
    status: str  # dbt's: success, error, skipped, pass, fail, warn, no-op
    seconds: float
    message: str
    failures: int | None

    @property
    def ok(self) -> bool:
        return self.status not in FAILED


@dataclass(frozen=True)
class BuildResult:
    success: bool
    nodes: tuple[NodeResult, ...]
    dbt_seconds: float
    publication: Publication | None
    error: str | None = None  # dbt could not run at all (bad selector, parse error...)
    target: str = DEFAULT_TARGET  # the dbt target built (profiles.yml)
    adapter: str = "duckdb"  # its adapter type: duckdb or spark

    @property
    def failed(self) -> tuple[NodeResult, ...]:
        return tuple(n for n in self.nodes if not n.ok)


@dataclass(frozen=True)
class BuildEvent:
    """Progress of a build, for a progress bar: a node started or finished."""

    kind: str  # "start" or "finish"
    name: str
    resource_type: str
    index: int
    total: int
    status: str = ""
    seconds: float = 0.0


def dbt_args(
    home: Home,
    *,
    select: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    vars: Mapping[str, Any] | None = None,
    full_refresh: bool = False,
    warn_error: bool = False,
    command: str = "build",
    target: str | None = None,
) -> list[str]:
    """The dbt command line for this home (also what `dbt` would take by hand); without
    `target`, dbt takes the profile's (BIDLAKE_DBT_TARGET, else dev)."""
    args = [
        command,
        "--project-dir",
        str(project.DBT_PROJECT_DIR),
        "--profiles-dir",
        str(project.DBT_PROJECT_DIR),
        "--target-path",
        str(project.dbt_target_dir(home)),
        "--log-path",
        str(project.dbt_log_dir(home)),
    ]
    for flag, value in (("--select", select), ("--exclude", exclude)):
        if value:
            args += [flag, *([value] if isinstance(value, str) else value)]
    if vars:
        args += ["--vars", json.dumps(dict(vars))]
    if full_refresh:
        args.append("--full-refresh")
    if warn_error:
        args.append("--warn-error")
    if target:
        args += ["--target", target]
    return args


def resolve_target(target: str | None = None) -> str:
    """The dbt target a build uses: `target`, else BIDLAKE_DBT_TARGET, else dev."""
    return target or os.environ.get(TARGET_ENV) or DEFAULT_TARGET


class UnknownTargetError(ValueError):
    """A dbt target dbt_project/profiles.yml does not declare."""


def target_adapter(target: str) -> str:
    """The adapter type (duckdb, spark) of a target of dbt_project/profiles.yml."""
    import yaml  # type: ignore[import-untyped]

    profiles = yaml.safe_load((project.DBT_PROJECT_DIR / "profiles.yml").read_text())
    outputs = profiles["bidlake"]["outputs"]
    if target not in outputs:
        have = ", ".join(outputs)
        raise UnknownTargetError(f"no dbt target {target!r} in profiles.yml (have: {have})")
    return str(outputs[target]["type"])


def spark_dir(home: Home) -> Path:
    """Where the spark target keeps its tables and metastore (profiles.yml says the same)."""
    return home.root / "spark"


def spark_warehouse(home: Home) -> Path:
    """The Spark tables of a home: <schema>.db/<table>/ folders of Parquet files."""
    return spark_dir(home) / "warehouse"


def build(
    select: str | Sequence[str] | None = None,
    vars: Mapping[str, Any] | None = None,
    *,
    exclude: str | Sequence[str] | None = None,
    full_refresh: bool = False,
    warn_error: bool | None = None,
    publish: bool = True,
    home: Home | None = None,
    on_event: Callable[[BuildEvent], None] | None = None,
    target: str | None = None,
) -> BuildResult:
    """Runs `dbt build` (models, their tests and unit tests) and, if all passed, publishes.

    select/exclude: dbt node selection (e.g. "rpt_campaign_daily+"); vars: dbt vars.
    warn_error: treat dbt warnings and warn-severity tests as errors (what CI does);
    default from DBT_WARN_ERROR. target: the dbt target (resolve_target); on a Spark
    target every model is rebuilt whole and nothing is published. Raises
    WarehouseBusyError if another build of the home runs; returns a failed BuildResult
    (never raises) when a model or test fails.
    """
    home = home or current_home()
    home.root.mkdir(parents=True, exist_ok=True)
    if warn_error is None:
        warn_error = os.environ.get("DBT_WARN_ERROR", "").lower() in ("1", "true", "yes")
    target = resolve_target(target)
    adapter = target_adapter(target)
    args = dbt_args(
        home,
        select=select,
        exclude=exclude,
        vars=vars,
        full_refresh=full_refresh,
        warn_error=warn_error,
        target=target,
    )
    # dbt's console output is replaced by on_event (the CLI draws a progress bar); its
    # full debug log still goes to <home>/build/logs/dbt.log.
    args += ["--log-level", "none", "--log-level-file", "debug"]
    env = {**project.dbt_env(home), TARGET_ENV: target}
    if adapter == "spark":
        env.update(_spark_env(home))
    with locking.exclusive(project.build_lock(home), "build"):
        conflict = _spark_session_conflict(home) if adapter == "spark" else None
        if conflict:
            return BuildResult(False, (), 0.0, None, conflict, target, adapter)
        started = time.perf_counter()
        with environ_overrides(env):
            outcome = _invoke(args, on_event)
        dbt_seconds = time.perf_counter() - started
        nodes = _node_results(outcome.result)
        success = bool(outcome.success) and all(n.ok for n in nodes)
        error = None if outcome.exception is None else str(outcome.exception)
        # The read-only catalog is DuckDB's build database, published; Spark's tables are
        # read where they are (spark_tables()).
        published = success and publish and adapter == "duckdb"
        publication = publish_locked(home) if published else None
    return BuildResult(
        success=success,
        nodes=nodes,
        dbt_seconds=dbt_seconds,
        publication=publication,
        error=error,
        target=target,
        adapter=adapter,
    )


def _spark_env(home: Home) -> dict[str, str]:
    """What a Spark build needs beyond the profile: the driver on the loopback interface
    (set before the JVM starts), and the lake root, which Spark lists even when empty."""
    home.raw.mkdir(parents=True, exist_ok=True)
    spark_dir(home).mkdir(parents=True, exist_ok=True)
    return {"SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1")}


def _spark_session_conflict(home: Home) -> str | None:
    """Why this process cannot build `home` on Spark, or None.

    dbt-spark's session method re-uses the process's SparkSession, whose warehouse folder
    and Derby metastore were fixed when its JVM started: a second home in the same process
    would write into the first one's metastore.
    """
    if "pyspark" not in sys.modules:
        return None
    from pyspark.sql import SparkSession

    session = SparkSession._instantiatedSession
    if session is None:
        return None
    current = str(session.conf.get("spark.sql.warehouse.dir") or "").removeprefix("file:")
    if Path(current).resolve() == spark_warehouse(home).resolve():
        return None
    return (
        f"this process's Spark session belongs to another home ({current}); "
        "build one home per process on Spark"
    )


def spark_tables(home: Home | None = None) -> dict[str, Path]:
    """The tables a Spark build of `home` wrote, `<schema>.<table>` -> its Parquet folder."""
    root = spark_warehouse(home or current_home())
    if not root.is_dir():
        return {}
    return {
        f"{schema.name.removesuffix('.db')}.{table.name}": table
        for schema in sorted(root.glob("*.db"))
        for table in sorted(p for p in schema.iterdir() if p.is_dir())
    }


def _invoke(args: list[str], on_event: Callable[[BuildEvent], None] | None) -> Any:
    from dbt.cli.main import dbtRunner

    callbacks = [_progress(on_event)] if on_event else []
    try:
        return dbtRunner(callbacks=callbacks).invoke(args)
    finally:
        _release_duckdb()


def _release_duckdb() -> None:
    """Closes the DuckDB database dbt-duckdb keeps open in this process after a run.

    dbt-duckdb holds one process-wide connection (DuckDBConnectionManager._ENV) for the
    next invocation. Held, it keeps the build database locked read-write, and this very
    process could not open it read-only to publish ("different configuration"). The next
    invocation simply opens it again.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # pragma: no cover - dbt-duckdb is a dependency
        return
    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        if env is not None:
            env.close()
        DuckDBConnectionManager._ENV = None


def _progress(on_event: Callable[[BuildEvent], None]) -> Callable[[Any], None]:
    """A dbt event callback turning dbt's per-node log events into BuildEvents."""

    def callback(event: Any) -> None:
        name = event.info.name
        if name not in ("LogStartLine", "LogModelResult", "LogTestResult"):
            return
        data = event.data
        info = data.node_info
        if name == "LogStartLine":
            on_event(
                BuildEvent("start", info.node_name, info.resource_type, data.index, data.total)
            )
        else:
            total = getattr(data, "total", 0) or getattr(data, "num_models", 0)
            on_event(
                BuildEvent(
                    "finish",
                    info.node_name,
                    info.resource_type,
                    data.index,
                    total,
                    status=str(data.status).lower(),
                    seconds=float(data.execution_time),
                )
            )

    return callback


def _node_results(result: Any) -> tuple[NodeResult, ...]:
    if result is None or not hasattr(result, "results"):
        return ()
    out = []
    for r in result.results:
        node = r.node
        out.append(
            NodeResult(
                unique_id=node.unique_id,
                name=node.name,
                resource_type=str(node.resource_type),
                status=str(r.status),
                seconds=float(r.execution_time or 0.0),
                message=str(r.message or ""),
                failures=r.failures,
            )
        )
    return tuple(out)


@contextmanager
def environ_overrides(updates: Mapping[str, str]) -> Iterator[None]:
    """Sets environment variables for the block and restores them after (unset ones are
    removed again). dbt's subprocess inherits them at start; the Dagster dbt asset uses
    this too. Process-wide: not for concurrent threads wanting different values."""
    saved = {key: os.environ.get(key) for key in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
