"""Capacity plan: what 500, 5k and 50k bid requests/s need, from figures measured here.

Measured on this machine (each reusing another bench's code, at a quick size):
- bidder requests per CPU-second, `bidlake serve --workers 1` pinned to one core, with
  Redis state (a fleet) and memory state: benchmarks/bidder's server, models (200k weights,
  signed), book and bodies, driven by its open-loop load generator at a fixed rate below
  saturation (BIDLAKE_BENCH_CAPACITY_RATE, 2,000/s, for BIDLAKE_BENCH_CAPACITY_SECONDS,
  5 s); the server's own CPU time (/proc) divides the answered requests. At a fixed rate
  a process spends a little more per request than flat out (wrk, benchmarks/bidder), so
  this errs on the safe side;
- the time to load and verify that 200k-weight artifact (what a promotion waits for);
- ingest events per CPU-second (all threads) from tracking-log files, protobuf and JSONL:
  benchmarks/ingest's realistic bid requests (BIDLAKE_BENCH_CAPACITY_EVENTS, 200k);
- ingest events per CPU-second from Kafka: the same events produced by the bidder's
  producer to librdkafka's mock cluster (tests/support/kafka.py, another process, whose CPU
  is not counted) and consumed by `ingest.kafka_source.consume` (40k: the mock keeps ~5 MB
  a partition); without confluent_kafka the figure of docs/scaling.md is used;
- Parquet bytes per event, events per bid request by type and files per (type, hour)
  after compaction: a lake built by `bidlake simulate` (2 h at 50 requests/s) and
  `ingest` (one batch per log file, as a consumer's batches), then `compact`;
- dbt full-build seconds on DuckDB against the lake's size: benchmarks/warehouse's
  synthetic lake at 500 requests/s for 2 and 6 hours (BIDLAKE_BENCH_CAPACITY_DBT_HOURS),
  built from scratch each, timed in wall seconds and in CPU-seconds of this process (dbt
  and DuckDB run in it); the slopes are seconds per GB and CPU-seconds per million events,
  the CPU intercept dbt's fixed cost.

Then the plan for each stage, under the assumptions printed with it (`ASSUMPTIONS`).

    .venv/bin/python -m benchmarks capacity              # figures, and the plan on stderr
    .venv/bin/python -m benchmarks.capacity.bench [--write-docs]   # the plan (into docs)
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness import Figure

PART = "capacity"
REPO = Path(__file__).resolve().parent.parent.parent
DOC = REPO / "docs" / "scaling.md"
BEGIN, END = "<!-- capacity-plan:begin -->", "<!-- capacity-plan:end -->"
STAGES = (500, 5_000, 50_000)
EVENT_TYPES = ("bid_request", "bid", "impression", "click", "conversion")

UTILISATION = 0.6  # plan every process at 60 % of its core: peaks, GC, a host down
PARTITION_BYTES_PER_S = 5e6  # per Kafka partition, a conservative produce/consume rate
DUCKDB_MACHINE_CORES = 32
DUCKDB_EFFICIENCY = 0.5  # of those cores DuckDB keeps busy in a build (queries, tests)
DUCKDB_DAY_BUDGET_S = 3600.0  # DuckDB is enough while a day's full build takes <= 1 h there
ASSUMPTIONS = (
    "The stage's request rate holds all day (an upper bound: traffic averages ~50-60 % of "
    "its peak).",
    "Events per bid request, bid rate and win rate as the simulator produced them (the "
    "measured inputs); a CPA-heavy book or another exchange mix moves them.",
    f"Headroom: every bidder and ingest process, and Redis's one thread, is planned at "
    f"{UTILISATION:.0%} of a core; at least two bidder processes (on two hosts).",
    "Redis: a reservation script per bid, a win script per impression, two claims per click "
    "and per conversion, and per bidder process 5 pacing refreshes and 2 model-pointer reads "
    "a second, at the redis-server CPU per command measured under the bidder's load.",
    "Ingest consumers: one core each, at the measured Kafka rate (bid requests, the "
    "costliest event to ingest, stand for every type).",
    "Kafka: one partition count for every topic (a bid and what follows it share a "
    "partition number), a power of two, at least twice the consumers (room to double them "
    "without re-partitioning, which would move keys) and at least "
    f"{PARTITION_BYTES_PER_S / 1e6:.0f} MB/s per partition.",
    "Files per day: before compaction, one Parquet file per (event type, hour) per batch of "
    "each consumer (a batch every 60 s or 500k messages); after, one per (event type, hour) "
    "per 4M rows (ingest.compaction).",
    "dbt on DuckDB: a build costs its fixed part (dbt start-up, parsing, per-node overhead: "
    "serial) plus CPU-seconds per event, which DuckDB spreads over the cores it keeps busy: "
    f"{DUCKDB_EFFICIENCY:.0%} of {DUCKDB_MACHINE_CORES} on one large machine (this machine's "
    "row is its own wall-time slope). Projected by events, not bytes (the synthetic lake "
    "compresses better than the simulated one). DuckDB stays the engine while a full "
    "build of a day's lake takes at "
    f"most {DUCKDB_DAY_BUDGET_S / 3600:g} h there (a rebuild or backfill within the hour).",
)


@dataclass
class Inputs:
    bidder_redis: float  # requests per CPU-second, Redis state
    bidder_memory: float
    redis_cpu_per_call: float  # redis-server CPU seconds per command
    bidder_note: str
    model_load_s: float  # load + verify a 200k-weight artifact
    ingest_files: dict[str, float]  # format -> events per CPU-second
    ingest_kafka: float  # events per CPU-second (protobuf)
    kafka_note: str
    lake_bytes: dict[str, float]  # event type -> Parquet bytes per event (compacted)
    kafka_bytes: dict[str, float]  # event type -> protobuf message bytes
    per_request: dict[str, float]  # event type -> events per bid request
    files_per_type_hour: float  # after compaction
    sim_note: str
    dbt_fixed_s: float  # serial part of a build (CPU-seconds, intercept)
    dbt_wall_fixed_s: float  # the wall-time intercept here
    dbt_s_per_gb: float  # wall seconds per GB of lake, here
    dbt_s_per_m_events: float  # wall, here
    dbt_cpu_s_per_gb: float
    dbt_cpu_s_per_m_events: float
    dbt_note: str
    notes: list[str] = field(default_factory=list)


# ---- measurements ------------------------------------------------------------------------


def measure_bidder(work: Path, seconds: int, rate: int) -> tuple[float, float, float, float]:
    """(requests per CPU-second with Redis state, with memory state, model load seconds,
    redis-server CPU seconds per command it processed meanwhile)."""
    from benchmarks.bidder import bench as bidder
    from ml import registry
    from ml.artifact import signing_key

    home = work / "bidder-home"
    bidder.install_models(home)
    started = time.perf_counter()
    registry.load_version("ctr", "ctr-bench", home / "models", signing_key(home))
    load_s = time.perf_counter() - started
    bidder.write_book(work / "campaigns.json")
    bodies_file = work / "bodies.jsonl"
    bodies_file.write_bytes(b"\n".join(bidder.bodies(2000) + bidder.fixture_bodies()) + b"\n")
    env = {
        **os.environ,
        "BIDLAKE_HOME": str(home),
        "BIDLAKE_CAMPAIGNS": str(work / "campaigns.json"),
        "BIDLAKE_BIDDER_SECRET": "capacity-bench-secret",
        "PYTHONPATH": str(REPO),
    }
    serve = [sys.executable, "-m", "bidlake.cli", "serve", "--port", "{port}", "--workers", "1"]

    def per_cpu_second(
        extra: list[str], name: str, usage: Callable[[], tuple[float, int]] = lambda: (0.0, 0)
    ) -> tuple[float, tuple[float, int]]:
        """Requests per CPU-second of the bidder, and what `usage()` grew by meanwhile."""
        with bidder._server([*serve, *extra], env, "/readyz", work / f"{name}.log") as server:
            bidder._loadgen(server, bodies_file, 1, rate)  # warm-up
            before, used = server.cpu_seconds(), usage()
            stats = bidder._loadgen(server, bodies_file, seconds, rate)
            cpu, after = server.cpu_seconds() - before, usage()
        if stats["errors"]:
            raise RuntimeError(f"bidder ({name}) answered with errors: {stats}")
        return float(stats["answered"]) / cpu, (after[0] - used[0], after[1] - used[1])

    memory, _ = per_cpu_second([], "memory")
    with bidder._redis() as redis_url:
        if redis_url is None:
            raise RuntimeError("redis-server is not installed (scripts/system-deps.sh)")
        import redis as redis_py

        client = redis_py.Redis.from_url(redis_url)

        def redis_usage() -> tuple[float, int]:
            """(redis-server CPU seconds, commands processed) so far."""
            cpu, stats = client.info("cpu"), client.info("stats")
            return (
                float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
                int(stats["total_commands_processed"]),
            )

        redis, (redis_cpu, commands) = per_cpu_second(["--state", redis_url], "redis", redis_usage)
        client.close()
    return redis, memory, load_s, redis_cpu / max(commands, 1)


def _cpu(fn: object) -> float:
    """CPU seconds of this process (all threads) spent in fn()."""
    before = time.process_time()
    fn()  # type: ignore[operator]
    return time.process_time() - before


def measure_ingest_files(work: Path, n: int) -> dict[str, float]:
    """Format -> events per CPU-second of `ingest` (best of 2)."""
    from benchmarks.ingest.workload import bid_requests, write_logs
    from ingest.pipeline import ingest

    events = bid_requests(n)
    out = {}
    for fmt in ("protobuf", "jsonl"):
        landing = work / f"landing-{fmt}"
        write_logs(landing, events, fmt, False, 4)
        best = math.inf
        for attempt in range(2):
            home = work / f"ingest-{fmt}-{attempt}"

            def once(landing: Path = landing, home: Path = home) -> None:
                report = ingest(landing, home)
                assert report.accounted and report.totals()["raw"] == n, report.totals()

            best = min(best, _cpu(once))
            shutil.rmtree(home)
        out[fmt] = n / best
    return out


def measure_ingest_kafka(work: Path, n: int) -> tuple[float, str] | None:
    """Events per CPU-second of `consume` from the mock cluster (best of 2), or None."""
    try:
        import confluent_kafka  # noqa: F401

        from bidder.kafka_logs import KafkaLogs
        from tests.support.kafka import mock_cluster
    except ImportError:
        return None
    from benchmarks.ingest.workload import bid_requests
    from ingest.kafka_source import KafkaReport, consume

    events = bid_requests(n)
    with mock_cluster() as cluster:
        logs = KafkaLogs(cluster.bootstrap, work / "spill", "capacity-bench")
        logs.open()
        for event in events:
            logs.write("bid_request", event)
        if logs.flush(60) != 0:
            raise RuntimeError("the mock cluster did not take every event")
        logs.close()
        best, wall = math.inf, 0.0
        for attempt in range(2):
            home = work / f"kafka-{attempt}"
            reports: list[KafkaReport] = []

            def once(
                home: Path = home, group: str = f"capacity-{attempt}", into: list = reports
            ) -> None:
                into.append(consume(cluster.bootstrap, group, home, once=True, assign=True))

            cpu = _cpu(once)
            (report,) = reports
            assert report.totals()["raw"] == n, report.summary()
            if cpu < best:
                best, wall = cpu, report.seconds
    note = (
        f"{n:,} bid requests, protobuf, mock cluster; end to end {n / wall:,.0f}/s wall "
        "(start-up and the last fetch's wait included)"
    )
    return n / best, note


def _message_bytes(event_type: str, event: dict) -> int:
    """The size of the event as a Kafka message value (protobuf, no length prefix)."""
    from contract.events import EVENT_MESSAGES

    return int(EVENT_MESSAGES[event_type](**event).ByteSize())


def measure_lake(work: Path, hours: int, rate: int) -> dict[str, object]:
    """Simulate, ingest one log file per batch, compact; what the lake holds per event."""
    import duckdb
    import orjson
    import pyarrow.parquet as pq

    from bidlake.paths import Home
    from contract.landing_names import is_closed_log
    from ingest.compaction import compact
    from ingest.lake import live_files
    from ingest.pipeline import ingest

    home = Home(work / "sim-home")
    landing = work / "sim-landing"
    subprocess.run(
        [
            *(sys.executable, "-m", "bidlake.cli", "simulate", "--hours", str(hours)),
            *("--rate", str(rate), "--out", str(landing), "--truth", str(work / "sim-truth")),
        ],
        env={**os.environ, "BIDLAKE_HOME": str(home.root), "PYTHONPATH": str(REPO)},
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    logs = sorted(p for p in landing.rglob("*") if p.is_file() and is_closed_log(p))
    kafka_bytes: dict[str, list[int]] = {t: [] for t in EVENT_TYPES}
    for path in logs:  # JSON lines: sample each type's protobuf message size
        event_type = path.parent.name
        sizes = kafka_bytes[event_type]
        for line in path.read_bytes().splitlines()[:5000]:
            sizes.append(_message_bytes(event_type, orjson.loads(line)))
    for path in logs:
        report = ingest([path], home)
        assert report.accounted, report.totals()
    compact(home, grace_seconds=0)
    rows, size, files, hours_seen = {}, {}, 0, set()
    for event_type in EVENT_TYPES:
        paths = live_files(event_type, home)
        rows[event_type] = sum(pq.read_metadata(p).num_rows for p in paths)
        size[event_type] = sum(p.stat().st_size for p in paths)
        files += len(paths)
        hours_seen |= {(event_type, p.parent) for p in paths}
    bid_requests = [str(p) for p in live_files("bid_request", home)]
    sql = "select count(distinct request_id) from read_parquet(?)"
    requests = int(duckdb.execute(sql, [bid_requests]).fetchall()[0][0])
    return {
        "lake_bytes": {t: size[t] / rows[t] for t in EVENT_TYPES if rows[t]},
        "kafka_bytes": {t: sum(v) / len(v) for t, v in kafka_bytes.items() if v},
        "per_request": {t: rows[t] / requests for t in EVENT_TYPES},
        "files_per_type_hour": files / len(hours_seen),
        "note": (
            f"bidlake simulate {hours} h at {rate}/s: {requests:,} requests, "
            f"{sum(rows.values()):,} events, {len(logs)} log files ingested one batch each, "
            f"then compacted: {files} files for {len(hours_seen)} (type, hour) partitions"
        ),
    }


@contextlib.contextmanager
def _home_env(root: Path) -> Iterator[None]:
    old = os.environ.get("BIDLAKE_HOME")
    os.environ["BIDLAKE_HOME"] = str(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("BIDLAKE_HOME", None)
        else:
            os.environ["BIDLAKE_HOME"] = old


def measure_dbt(work: Path, hours: tuple[int, ...], rate: int = 500) -> dict[str, object]:
    """Full DuckDB builds of synthetic lakes of `hours` hours: fixed cost and slopes."""
    from benchmarks.warehouse.synth import synthesize
    from bidlake.paths import Home
    from warehouse.build import build

    start_ms = 1_717_200_000_000  # benchmarks/warehouse's day
    points = []
    for h in hours:
        home = Home(work / f"dbt-{h}h")
        summary = synthesize(home.raw, start_ms, hours=h, rate=rate)
        lake = sum(p.stat().st_size for p in home.raw.rglob("*.parquet"))
        with _home_env(home.root):  # dbt and DuckDB run in this process: CPU of all threads
            before = time.process_time()
            result = build(home=home)
            cpu = time.process_time() - before
        if not result.success:
            raise RuntimeError(f"dbt build failed: {[(n.name, n.message) for n in result.failed]}")
        points.append((lake, sum(summary.rows.values()), result.dbt_seconds, cpu))
        shutil.rmtree(home.root)
    (b0, e0, s0, c0), (b1, e1, s1, c1) = points[0], points[-1]
    cpu_per_m = (c1 - c0) / ((e1 - e0) / 1e6)
    wall_per_m = (s1 - s0) / ((e1 - e0) / 1e6)
    detail = "; ".join(
        f"{e / 1e6:.1f}M events, {b / 1e9:.2f} GB: {s:.1f} s, {c:.1f} CPU-s"
        for b, e, s, c in points
    )
    return {
        "fixed": max(0.0, c0 - cpu_per_m * e0 / 1e6),
        "wall_fixed": max(0.0, s0 - wall_per_m * e0 / 1e6),
        "per_m": wall_per_m,
        "per_gb": (s1 - s0) / ((b1 - b0) / 1e9),
        "cpu_per_gb": (c1 - c0) / ((b1 - b0) / 1e9),
        "cpu_per_m": cpu_per_m,
        "note": detail,
    }


def measure(work: Path) -> Inputs:
    seconds = int(os.environ.get("BIDLAKE_BENCH_CAPACITY_SECONDS", "5"))
    rate = int(os.environ.get("BIDLAKE_BENCH_CAPACITY_RATE", "2000"))
    n_files = int(os.environ.get("BIDLAKE_BENCH_CAPACITY_EVENTS", "200000"))
    n_kafka = int(os.environ.get("BIDLAKE_BENCH_CAPACITY_KAFKA_EVENTS", "40000"))
    dbt_hours = tuple(
        int(h) for h in os.environ.get("BIDLAKE_BENCH_CAPACITY_DBT_HOURS", "2,6").split(",")
    )

    def step(what: str) -> None:
        print(f"  capacity: {what} ...", file=sys.stderr, flush=True)

    step(f"bidder at {rate}/s for {seconds} s, Redis and memory state")
    redis, memory, load_s, redis_call = measure_bidder(work / "bidder", seconds, rate)
    step(f"ingest of {n_files:,} events from files")
    files = measure_ingest_files(work / "files", n_files)
    step(f"ingest of {n_kafka:,} events from Kafka (mock cluster)")
    kafka = measure_ingest_kafka(work / "kafka", n_kafka)
    if kafka is None:  # docs/scaling.md, Kafka: 81k events/s wall, protobuf, 2 cores
        kafka = (81_000.0, "not measured (no confluent_kafka): docs/scaling.md's wall rate")
    step("simulate + ingest + compact a lake")
    lake = measure_lake(work / "lake", 2, 50)
    step(f"dbt full builds on DuckDB of {dbt_hours} h at 500 requests/s")
    dbt = measure_dbt(work / "dbt", dbt_hours)
    return Inputs(
        bidder_redis=redis,
        bidder_memory=memory,
        redis_cpu_per_call=redis_call,
        bidder_note=f"open-loop load at {rate:,}/s for {seconds} s (below saturation: a bit "
        "more CPU per request than flat out)",
        model_load_s=load_s,
        ingest_files=files,
        ingest_kafka=kafka[0],
        kafka_note=kafka[1],
        lake_bytes=lake["lake_bytes"],  # type: ignore[arg-type]
        kafka_bytes=lake["kafka_bytes"],  # type: ignore[arg-type]
        per_request=lake["per_request"],  # type: ignore[arg-type]
        files_per_type_hour=lake["files_per_type_hour"],  # type: ignore[arg-type]
        sim_note=str(lake["note"]),
        dbt_fixed_s=dbt["fixed"],  # type: ignore[arg-type]
        dbt_wall_fixed_s=dbt["wall_fixed"],  # type: ignore[arg-type]
        dbt_s_per_gb=dbt["per_gb"],  # type: ignore[arg-type]
        dbt_s_per_m_events=dbt["per_m"],  # type: ignore[arg-type]
        dbt_cpu_s_per_gb=dbt["cpu_per_gb"],  # type: ignore[arg-type]
        dbt_cpu_s_per_m_events=dbt["cpu_per_m"],  # type: ignore[arg-type]
        dbt_note=str(dbt["note"]),
    )


# ---- the plan ----------------------------------------------------------------------------


def _pow2(n: float) -> int:
    return 1 << max(0, math.ceil(math.log2(max(1.0, n))))


@dataclass
class Stage:
    rate: int
    events_per_s: float
    bidder_processes: int
    redis_calls_per_s: float
    redis_cores: float
    kafka_mb_per_s: float
    partitions: int
    consumers: int
    files_before: int
    files_after: int
    lake_gb_per_day: float
    dbt_day_here_s: float
    dbt_day_machine_s: float
    engine: str


def plan(inputs: Inputs, rate: int) -> Stage:
    from ingest.compaction import TARGET_ROWS
    from ingest.kafka_source import DEFAULT_BATCH_MESSAGES, DEFAULT_BATCH_SECONDS

    per_type = {t: rate * inputs.per_request.get(t, 0.0) for t in EVENT_TYPES}
    events = sum(per_type.values())
    bidders = max(2, math.ceil(rate / (inputs.bidder_redis * UTILISATION)))
    # Redis: a reservation per bid and a win script per impression; a click or conversion
    # asks one claim and makes another; each process refreshes its pacing view 5x a
    # second and reads two model pointers every second.
    redis = (
        per_type["bid"]
        + per_type["impression"]
        + 2 * (per_type["click"] + per_type["conversion"])
        + bidders * (5 + 2)
    )
    kafka_bytes = sum(per_type[t] * inputs.kafka_bytes.get(t, 0.0) for t in EVENT_TYPES)
    consumers = math.ceil(events / (inputs.ingest_kafka * UTILISATION))
    partitions = _pow2(max(4, 2 * consumers, kafka_bytes / PARTITION_BYTES_PER_S))
    per_consumer_hour = events * 3600 / consumers
    batches_per_hour = max(3600 / DEFAULT_BATCH_SECONDS, per_consumer_hour / DEFAULT_BATCH_MESSAGES)
    present = [t for t in EVENT_TYPES if per_type[t] > 0]
    files_before = round(consumers * math.ceil(batches_per_hour) * 24 * len(present))
    files_after = sum(24 * math.ceil(per_type[t] * 3600 / TARGET_ROWS) for t in present)
    day = {t: per_type[t] * 86_400 for t in EVENT_TYPES}
    lake_gb = sum(day[t] * inputs.lake_bytes.get(t, 0.0) for t in EVENT_TYPES) / 1e9
    dbt_cpu = inputs.dbt_cpu_s_per_m_events * sum(day.values()) / 1e6
    dbt_here = inputs.dbt_wall_fixed_s + inputs.dbt_s_per_m_events * sum(day.values()) / 1e6
    dbt_machine = inputs.dbt_fixed_s + dbt_cpu / (DUCKDB_MACHINE_CORES * DUCKDB_EFFICIENCY)
    share = dbt_machine / DUCKDB_DAY_BUDGET_S
    budget = f"{DUCKDB_DAY_BUDGET_S / 3600:g} h"
    if share <= 1:
        engine = f"**DuckDB** ({share:.0%} of its {budget})"
    else:
        engine = f"**Spark** (DuckDB would need {share:.0%} of its {budget})"
    return Stage(
        rate,
        events,
        bidders,
        redis,
        redis * inputs.redis_cpu_per_call / UTILISATION,
        kafka_bytes / 1e6,
        partitions,
        consumers,
        files_before,
        files_after,
        lake_gb,
        dbt_here,
        dbt_machine,
        engine,
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def render(inputs: Inputs, stages: list[Stage]) -> str:
    """The plan and its measured inputs, as markdown (what --write-docs puts in the doc)."""
    head = "| | " + " | ".join(f"{s.rate:,} req/s" for s in stages) + " |"
    lines = [head, "|---" * (len(stages) + 1) + "|"]

    def row(name: str, cells: list[str]) -> None:
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    row("events/s into the lake, all types", [f"{s.events_per_s:,.0f}" for s in stages])
    row(
        "bidder processes (= cores, at least 2), Redis state",
        [f"{s.bidder_processes}" for s in stages],
    )
    row(
        "Redis calls/s (scripts, claims, refreshes)",
        [f"{s.redis_calls_per_s:,.0f}" for s in stages],
    )
    row("Redis CPU, cores of its one thread", [f"{s.redis_cores:.2f}" for s in stages])
    row("Kafka in, protobuf (MB/s)", [f"{s.kafka_mb_per_s:.1f}" for s in stages])
    row("Kafka partitions per topic", [f"{s.partitions}" for s in stages])
    row("ingest consumers (= cores)", [f"{s.consumers}" for s in stages])
    row("Parquet files per day, before compaction", [f"{s.files_before:,}" for s in stages])
    row("Parquet files per day, after compaction", [f"{s.files_after:,}" for s in stages])
    row("lake GB per day (zstd Parquet, compacted)", [f"{s.lake_gb_per_day:,.1f}" for s in stages])
    row(
        "dbt full build per day of lake, DuckDB: this 2-core machine",
        [_duration(s.dbt_day_here_s) for s in stages],
    )
    row(
        f"... on one {DUCKDB_MACHINE_CORES}-core machine ({DUCKDB_EFFICIENCY:.0%} busy)",
        [_duration(s.dbt_day_machine_s) for s in stages],
    )
    row(
        "dbt on Spark, seconds per GB",
        ['see "dbt on Spark" (not measured per GB yet)', "", ""][: len(stages)],
    )
    row("the warehouse engine", [s.engine for s in stages])
    events_per_request = sum(inputs.per_request.values())
    crossover = (
        (DUCKDB_DAY_BUDGET_S - inputs.dbt_fixed_s)
        * DUCKDB_MACHINE_CORES
        * DUCKDB_EFFICIENCY
        * 1e6
        / (inputs.dbt_cpu_s_per_m_events * events_per_request * 86_400)
    )
    lines += [
        "",
        f"DuckDB on one {DUCKDB_MACHINE_CORES}-core machine stops being enough at about "
        f"**{crossover:,.0f} requests/s** sustained: there a day's lake "
        f"({crossover * events_per_request * 86_400 / 1e9:.1f}G events) takes "
        f"{DUCKDB_DAY_BUDGET_S / 3600:g} h to build. An hourly incremental build costs about "
        f"1/24 of a day's plus {inputs.dbt_fixed_s:.0f} s.",
    ]

    per_request = ", ".join(f"{t} {v:.3g}" for t, v in inputs.per_request.items())
    win_rate = inputs.per_request["impression"] / max(inputs.per_request["bid"], 1e-9)
    lake = ", ".join(f"{t} {v:.0f}" for t, v in inputs.lake_bytes.items())
    kafka = ", ".join(f"{t} {v:.0f}" for t, v in inputs.kafka_bytes.items())
    files = inputs.ingest_files
    measured = [
        "| measured input | value | how |",
        "|---|---|---|",
        f"| bidder, Redis state | {inputs.bidder_redis:,.0f} requests per CPU-second | one "
        "`bidlake serve` process, benchmarks/bidder's bodies, book and 200k-weight models, "
        f"its {inputs.bidder_note} |",
        f"| bidder, memory state | {inputs.bidder_memory:,.0f} requests per CPU-second | "
        "the same, one host's budgets only |",
        f"| redis-server CPU per command | {inputs.redis_cpu_per_call * 1e6:.1f} µs | its "
        "CPU time over the commands it processed under the Redis-state run |",
        f"| model load and verification | {inputs.model_load_s:.2f} s | a 200k-weight "
        "signed artifact (a promotion reaches a fleet within `--model-poll-s` + this) |",
        f"| ingest from files | protobuf {files['protobuf']:,.0f}, JSONL "
        f"{files['jsonl']:,.0f} events per CPU-second | benchmarks/ingest's bid requests, "
        "`ingest.pipeline.ingest` |",
        f"| ingest from Kafka | {inputs.ingest_kafka:,.0f} events per CPU-second | "
        f"{inputs.kafka_note} |",
        f"| events per bid request | {per_request} (win rate {win_rate:.1%}) | {inputs.sim_note} |",
        f"| Parquet bytes per event | {lake} | the same lake, compacted |",
        f"| Kafka bytes per event (protobuf) | {kafka} | the same events, encoded |",
        f"| files per (event type, hour) after compaction | {inputs.files_per_type_hour:.2f} "
        "| the same lake |",
        f"| dbt full build on DuckDB | {inputs.dbt_s_per_gb:,.0f} s per GB here "
        f"({inputs.dbt_s_per_m_events:.2f} s per million events); "
        f"{inputs.dbt_cpu_s_per_gb:,.0f} CPU-s per GB ({inputs.dbt_cpu_s_per_m_events:.2f} "
        f"CPU-s per million events); {inputs.dbt_fixed_s:.0f} CPU-s "
        f"fixed | benchmarks/warehouse's synthetic lake at 500 req/s: {inputs.dbt_note} |",
    ]
    assumptions = [f"- {a}" for a in ASSUMPTIONS]
    return "\n".join([*lines, "", *measured, "", "Assumptions:", "", *assumptions])


def figures(inputs: Inputs, stages: list[Stage]) -> list[Figure]:
    out = [
        Figure(PART, "bidder, Redis state, per CPU-second", inputs.bidder_redis, "req/cpu-s"),
        Figure(PART, "bidder, memory state, per CPU-second", inputs.bidder_memory, "req/cpu-s"),
        Figure(PART, "model load + verify, 200k weights", inputs.model_load_s, "s"),
        Figure(
            PART, "ingest from files, protobuf", inputs.ingest_files["protobuf"], "events/cpu-s"
        ),
        Figure(PART, "ingest from files, JSONL", inputs.ingest_files["jsonl"], "events/cpu-s"),
        Figure(
            PART,
            "ingest from Kafka, protobuf",
            inputs.ingest_kafka,
            "events/cpu-s",
            "ingest from files, protobuf",
            inputs.kafka_note,
        ),
        Figure(PART, "dbt on DuckDB, seconds per GB", inputs.dbt_s_per_gb, "s/GB"),
        Figure(PART, "Parquet bytes per bid_request", inputs.lake_bytes["bid_request"], "B"),
    ]
    for s in stages:
        out.append(
            Figure(
                PART,
                f"{s.rate:,} req/s: bidder processes",
                s.bidder_processes,
                "cores",
                note=(
                    f"{s.partitions} partitions, {s.consumers} consumers, "
                    f"{s.files_after:,} files/day, {s.lake_gb_per_day:,.1f} GB/day, {s.engine}"
                ),
            )
        )
    return out


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bidlake-bench-capacity-") as tmp:
        inputs = measure(Path(tmp))
    stages = [plan(inputs, rate) for rate in STAGES]
    print(render(inputs, stages), file=sys.stderr)
    return figures(inputs, stages)


def write_docs(text: str, doc: Path = DOC) -> None:
    """Replace what stands between the capacity-plan markers of docs/scaling.md."""
    content = doc.read_text()
    start, end = content.find(BEGIN), content.find(END)
    if start < 0 or end < start:
        raise RuntimeError(f"{doc} has no {BEGIN} ... {END} block to write the plan into")
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    how = f"<!-- written by `python -m benchmarks.capacity.bench --write-docs`, {stamp} -->"
    body = f"{BEGIN}\n{how}\n\n"
    doc.write_text(content[:start] + body + text + "\n\n" + content[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--write-docs", action="store_true", help=f"put the plan into {DOC.relative_to(REPO)}"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bidlake-bench-capacity-") as tmp:
        inputs = measure(Path(tmp))
    text = render(inputs, [plan(inputs, rate) for rate in STAGES])
    print(text)
    if args.write_docs:
        write_docs(text)
        print(f"written to {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
