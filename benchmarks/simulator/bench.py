"""How fast `bidlake simulate` writes tracking logs, against a bare orjson loop.

Figures (one process, this machine):
- records/s of a simulated hour at 200 requests/s (about 720k requests, 1.6M records)
  into JSONL, gzipped JSONL and delimited protobuf; all of it: traffic, policy, auction,
  truth, rendering dicts, the tracking-log writer, fsync and rename;
- the baseline: `orjson.dumps` over the same number of event dicts of the same mix,
  nothing else — the floor of any Python JSONL writer of these events;
- the same into JSONL with two worker processes (`--workers 2`), against one;
- the numpy part alone (generating requests, decisions, auction, outcomes) in requests/s;
- the projected time of a day at 500 requests/s (43.2M requests) from the JSONL figure;
- `bidlake replay --closed-loop` against a constant bidder (benchmarks/simulator/constant_bidder.py,
  uvicorn in another process) in bid requests/s, beside the baseline of the same HTTP
  client POSTing the same number of prebuilt request bodies to the same server: the
  ratio is what building requests, the auction, the truth and the notices cost.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import orjson

from benchmarks.harness import Figure, stopwatch
from simulator import ids
from simulator.bid_requests import RequestBuilder
from simulator.exchange import generate_minute, minute_rng
from simulator.http import HttpError, LoopbackClient
from simulator.replay import HEADERS, ReplayConfig, replay
from simulator.run import Simulation, simulate
from simulator.run_types import SimulationConfig
from simulator.traffic import TrafficWindow
from simulator.world import build_world

PART = "simulator"
START = datetime(2026, 1, 5, 14, tzinfo=UTC)
RATE = 200.0
WINDOW = TrafficWindow(START, rate=RATE, seed=1)  # one hour
DAY_REQUESTS = 500 * 86_400
REPLAY_RATE = 8.0  # about 29k requests in the simulated hour
CONCURRENCY = 16
REPO = Path(__file__).resolve().parents[2]


@contextmanager
def _constant_bidder() -> Iterator[str]:
    """uvicorn serving the constant bidder in another process, on a socket bound here
    (listening before the server starts, so no wait for readiness is needed)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.set_inheritable(True)
    command = [sys.executable, "-m", "uvicorn", "benchmarks.simulator.constant_bidder:app"]
    command += ["--fd", str(sock.fileno()), "--log-level", "warning", "--no-access-log"]
    command += ["--lifespan", "off", "--loop", "uvloop", "--http", "httptools"]
    process = subprocess.Popen(
        command,
        pass_fds=[sock.fileno()],
        cwd=REPO,
    )
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        sock.close()


async def _post_all(url: str, bodies: list[bytes], n: int) -> int:
    """POSTs n bodies, CONCURRENCY in flight; returns the number of failed calls."""
    failed = 0
    async with LoopbackClient(CONCURRENCY, timeout_s=10.0) as client:
        counter = iter(range(n))

        async def worker() -> None:
            nonlocal failed
            for i in counter:
                try:
                    await client.post(url, bodies[i % len(bodies)], HEADERS)
                except HttpError:
                    failed += 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return failed


def _replay_figures(world, root: Path) -> list[Figure]:
    first = int(START.timestamp()) // 60
    builder = RequestBuilder(world)
    bodies: list[bytes] = []
    for minute in range(first, first + 3):
        r = generate_minute(world, minute, REPLAY_RATE, minute_rng(1, minute))
        keys = ids.hex_ids(ids.event_keys(1, ids.REPLAY_REQUEST, minute, r.seq))
        bodies += [orjson.dumps(x) for x in builder.build(r, keys)]
    with _constant_bidder() as url:
        config = ReplayConfig(
            bidder=url,
            window=TrafficWindow(START, rate=REPLAY_RATE, seed=1),
            truth=root / "replay-truth",
            concurrency=CONCURRENCY,
            closed_loop=True,  # throughput: as fast as the bidder answers
        )
        summary = replay(config, world=world)
        with stopwatch() as elapsed:
            failed = asyncio.run(_post_all(f"{url}/openrtb2/bid", bodies, summary.requests))
        baseline = summary.requests / elapsed()
    calls = summary.requests + summary.impressions + summary.clicks + summary.conversions
    return [
        Figure(
            PART,
            f"replay 1 h at {REPLAY_RATE:g} req/s, closed loop, {CONCURRENCY} in flight",
            summary.requests / summary.elapsed_s,
            "requests/s",
            baseline="POST loop, same client and server (baseline)",
            note=f"{summary.requests:,} requests + {calls - summary.requests:,} notices, "
            f"p50 {summary.latency_ms(0.5):.1f} ms p99 {summary.latency_ms(0.99):.1f} ms, "
            f"{sum(summary.errors.values())} failed",
        ),
        Figure(
            PART,
            "POST loop, same client and server (baseline)",
            baseline,
            "requests/s",
            note=f"prebuilt bodies; constant bidder in another process; {failed} failed",
        ),
    ]


def _simulate(world, folder: Path, fmt: str, compress: bool, hours: int = 1, workers: int = 1):
    config = SimulationConfig(
        window=TrafficWindow(START, hours=hours, rate=RATE, seed=1),
        landing=folder / "landing",
        truth=folder / "truth",
        fmt=fmt,  # type: ignore[arg-type]
        compress=compress,
    )
    with stopwatch() as elapsed:
        summary = simulate(config, world=world, workers=workers)
    return summary, elapsed()


def _sample_dicts(world, folder: Path) -> list[dict[str, object]]:
    """The dicts of a few simulated minutes, in the mix the simulator writes."""
    config = SimulationConfig(WINDOW, landing=folder, truth=folder)
    sim = Simulation(config, world)
    first = int(START.timestamp()) // 60
    for minute in range(first, first + 5):
        rng = minute_rng(1, minute)
        requests = generate_minute(world, minute, RATE, rng)
        sim.outcomes(requests, sim.policy.decide(requests, rng), rng)
    dicts: list[dict[str, object]] = []
    for event_type, batch in sim.pending.pop_before(None).items():
        dicts += sim.render(event_type, batch)
    return dicts


def run() -> list[Figure]:
    world = build_world(1)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        root = Path(tmp)
        records = 0
        for name, fmt, compress in (
            ("jsonl", "jsonl", False),
            ("jsonl.gz", "jsonl", True),
            ("protobuf", "protobuf", False),
        ):
            summary, seconds = _simulate(world, root / name, fmt, compress)
            records = max(records, summary.records_written)
            figures.append(
                Figure(
                    PART,
                    f"simulate 1 h at {RATE:g} req/s -> {name}",
                    summary.records_written / seconds,
                    "records/s",
                    baseline="orjson.dumps loop, same dicts (baseline)",
                    note=f"{summary.records_written:,} records, {summary.requests:,} requests "
                    f"in {seconds:.1f} s",
                )
            )
            if name == "jsonl":
                figures.append(
                    Figure(
                        PART,
                        "day at 500 req/s -> jsonl (projected)",
                        DAY_REQUESTS / (summary.requests / seconds),
                        "s",
                        note=f"{summary.requests / seconds:,.0f} requests/s",
                    )
                )

        # Two processes on this 2-core machine; each rebuilds the world (~1 s) on start.
        summary, seconds = _simulate(world, root / "workers", "jsonl", False, hours=2, workers=2)
        figures.append(
            Figure(
                PART,
                f"simulate 2 h at {RATE:g} req/s -> jsonl, 2 workers",
                summary.records_written / seconds,
                "records/s",
                baseline=f"simulate 1 h at {RATE:g} req/s -> jsonl",
                note=f"{summary.records_written:,} records in {seconds:.1f} s; "
                f"day at 500 req/s: {DAY_REQUESTS / (summary.requests / seconds):,.0f} s",
            )
        )

        sample = _sample_dicts(world, root / "sample")
        repeats, rest = divmod(records, len(sample))
        dumps = orjson.dumps
        with stopwatch() as elapsed:
            for _ in range(repeats):
                for event in sample:
                    dumps(event)
            for event in sample[:rest]:
                dumps(event)
        figures.append(
            Figure(
                PART,
                "orjson.dumps loop, same dicts (baseline)",
                records / elapsed(),
                "records/s",
                note=f"{records:,} dicts",
            )
        )

        first = int(START.timestamp()) // 60
        sim = Simulation(SimulationConfig(WINDOW, landing=root, truth=root), world)
        requests = 0
        with stopwatch() as elapsed:
            for minute in range(first, first + 30):
                rng = minute_rng(1, minute)
                batch = generate_minute(world, minute, RATE, rng)
                sim.outcomes(batch, sim.policy.decide(batch, rng), rng)
                sim.pending.pop_before((minute + 1) * 60_000)
                requests += len(batch)
        figures.append(
            Figure(
                PART,
                "numpy part only (requests, policy, auction, truth)",
                requests / elapsed(),
                "requests/s",
                note="no rendering, no writing",
            )
        )

        figures += _replay_figures(world, root)
    return figures
