"""The bidder on fresh traffic: start it, replay the exchange to it, stop it.

`bidder/replay` starts the real bidder (`bidlake serve`) as a subprocess on a free
loopback port, serving the models the gate promoted (`models/<name>_artifact`, read from
the registry's CURRENT), waits until it is ready (`/readyz`: models loaded), plays a
window of simulated exchange traffic to it over HTTP (`simulator.replay`: OpenRTB
requests, then win notices, clicks and conversions through the bidder's own URLs), reads
its `/metrics`, and stops it with SIGTERM — which drains in-flight requests and publishes
its tracking logs into the landing folder, where the landing sensor picks them up.

Not partitioned: a replay is a window chosen by config, like a simulation. It holds no
pool: the bidder only reads the registry and writes its own uniquely named log files.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from orchestration.models.assets import artifact_key
from orchestration.resources import PlatformResource

REPLAY_KEY = AssetKey(["bidder", "replay"])
READY_TIMEOUT_S = 60.0  # model load + uvicorn start; a cold start here takes ~2 s
STOP_TIMEOUT_S = 30.0  # drain (10 s) + publishing the open log files


class ReplaySettings(Config):
    """The traffic replayed to the bidder (the flags of `bidlake replay`)."""

    seed: int = Field(default=1, description="traffic seed")
    start: str = Field(default="2026-01-07T00", description="first UTC hour, ISO")
    hours: int = Field(default=1, description="hours of traffic")
    rate: float = Field(default=5.0, description="mean bid requests per simulated second")
    concurrency: int = Field(default=16, description="HTTP requests in flight at most")


def free_port() -> int:
    """A TCP port free on loopback now (the bidder binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Failure(
                description=f"the bidder exited with status {proc.returncode} before it was ready",
                metadata={"bidder_log": MetadataValue.text(_tail(log))},
            )
        try:
            if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.2)
    raise Failure(
        description=f"the bidder was not ready within {READY_TIMEOUT_S:.0f} s",
        metadata={"bidder_log": MetadataValue.text(_tail(log))},
    )


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _metric(text: str, name: str) -> float:
    """Sum of a Prometheus metric's samples (all label sets), 0 when absent."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in (" ", "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


@asset(
    key=REPLAY_KEY,
    deps=[artifact_key("ctr"), artifact_key("cvr")],
    group_name="bidder",
    kinds={"python"},
    description="A replay of fresh exchange traffic against the bidder serving the current "
    "models: its bids, wins, latency, and the tracking logs it wrote.",
)
def bidder_replay(
    context: AssetExecutionContext, config: ReplaySettings, platform: PlatformResource
) -> MaterializeResult:
    """Start the bidder, replay a window of traffic to it, stop it.

    Grain: one replay window per run. Inputs: the CURRENT CTR/CVR artifacts, the campaign
    book. Cost: the bidder answers a few thousand requests/s on one core, so an hour at
    5 requests/s (18k requests plus notices) takes about ten seconds, plus ~2 s to start.
    """
    import httpx

    from simulator.replay import ReplayConfig, replay
    from simulator.traffic import TrafficWindow

    home = platform.home
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    writer_id = f"bidder-replay-{context.run.run_id[:8]}"
    log = home.root / "dagster" / "bidder" / f"{writer_id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BIDLAKE_HOME": str(home.root)}
    command = [
        sys.executable,
        "-m",
        "bidlake.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--writer-id",
        writer_id,
    ]
    context.log.info(f"starting the bidder on {url} (log {log})")
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_ready(proc, url, log)
        context.log.info("bidder ready; replaying")
        summary = replay(
            ReplayConfig(
                bidder=url,
                window=TrafficWindow.parse(
                    config.start, hours=config.hours, rate=config.rate, seed=config.seed
                ),
                concurrency=config.concurrency,
            )
        )
        metrics = httpx.get(f"{url}/metrics", timeout=5.0).text
    finally:
        status = _stop(proc)
    if status != 0:
        raise Failure(
            description=f"the bidder exited with status {status} when stopped",
            metadata={"bidder_log": MetadataValue.text(_tail(log))},
        )
    # The bidder names its files <writer_id>.<worker>-<hour>-<seq>.<ext>, one writer per worker.
    logs = sorted(home.landing.glob(f"*/{writer_id}.*"))
    spend = sum(summary.spend_micros.values())
    metadata: dict[str, Any] = {
        "window_start": config.start,
        "hours": config.hours,
        "requests": summary.requests,
        "bids": summary.bids,
        "no_bids": summary.no_bids,
        "late": summary.late,
        "wins": summary.impressions,
        "clicks": summary.clicks,
        "conversions": summary.conversions,
        "spend_micros": spend,
        "latency_p50_ms": summary.latency_ms(0.5),
        "latency_p99_ms": summary.latency_ms(0.99),
        "http_errors": sum(summary.errors.values()),
        "invalid_responses": sum(summary.invalid.values()),
        "bidder_requests_counted": _metric(metrics, "bidder_requests_total"),
        "log_files": len(logs),
        "landing": MetadataValue.path(str(home.landing)),
        "bidder_log": MetadataValue.path(str(log)),
        "seconds": round(summary.elapsed_s, 2),
    }
    if summary.requests and summary.answered < summary.requests:
        raise Failure(
            description=f"the bidder answered {summary.answered} of {summary.requests} requests",
            metadata=metadata,
        )
    return MaterializeResult(metadata=metadata)
