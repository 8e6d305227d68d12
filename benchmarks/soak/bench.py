"""Soak: the bidder at a steady open-loop rate for a bounded time, while `bidlake ingest`
and `bidlake build` keep running beside it on the same data home.

What runs (everything on this machine, nothing pinned: the point is the neighbours):
- `bidlake serve` (one worker, in-memory budgets, JSONL logs published every 10 s), the
  shared campaign book with every budget x1000 (so pacing does not turn the run into
  no-bids) and a CTR and a CVR model of 20k weights each;
- an open-loop client in this process (the scheme of benchmarks/bidder/loadgen.py):
  BIDLAKE_BENCH_SOAK_RATE (default 200) bid requests per second, each *scheduled* at
  start + i / rate, for BIDLAKE_BENCH_SOAK_SECONDS (default 60), over 16 keep-alive
  connections, the 2,000 distinct bodies of benchmarks/bidder; latency runs from the
  scheduled time to the end of the answer (a stall shows in every request it delayed).
  30 % of the bids get their win notice (GET nurl, on 4 other connections, as an
  exchange's notice servers send them) and 2 % of those a click;
- beside it, in a loop until the load ends: `bidlake ingest` of the bidder's landing
  folder, then `bidlake build` (dbt + publish), then 5 s of rest;
- every second: the bidder's resident memory (VmRSS, /proc).

Figures: latency percentiles per 10 s window and for the whole run, every error (a broken
connection) and every non-2xx answer by endpoint, answers after the request's tmax, the
bidder's RSS (after 10 s of warm-up, at the end, its growth), and how many ingest and
build runs completed beside the load. The ratio of the last window's p99 to the first's
shows drift.

    .venv/bin/python -m benchmarks soak                       # default: 60 s at 200 req/s
    .venv/bin/python -m benchmarks.soak.bench --seconds 1800  # longer (or the env variables)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson

from benchmarks.bidder.bench import bodies, install_models, write_book
from benchmarks.bidder.loadgen import percentile
from benchmarks.harness import Figure, render

PART = "soak"
REPO = Path(__file__).resolve().parent.parent.parent
WINDOW_S = 10.0
CONNECTIONS = 16
NOTICE_CONNECTIONS = 4
WIN_SHARE = 0.3
CLICK_SHARE = 0.02
SIDE_REST_S = 5.0


# --------------------------------------------------------------------------- set-up


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _bidder(home: Path, env: dict[str, str], log: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    port = _port()
    command = [sys.executable, "-m", "bidlake.cli", "serve", "--port", str(port)]
    command += ["--log-rotate-s", "10", "--log-flush-s", "1", "--writer-id", "soak"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bidlake serve did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()  # SIGTERM: drain, publish the open log files
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ----------------------------------------------------------------------- the load


@dataclass
class Window:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    late: int = 0


@dataclass
class Load:
    windows: dict[int, Window] = field(default_factory=dict)
    notices: dict[str, dict[int, int]] = field(default_factory=dict)  # endpoint -> statuses
    notice_errors: int = 0
    scheduled: int = 0
    wall: float = 0.0

    def window(self, offset: float) -> Window:
        return self.windows.setdefault(int(offset // WINDOW_S), Window())


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _load(url: str, rate: float, seconds: float) -> Load:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    payloads = bodies(2000)
    tmaxes = [int(orjson.loads(b).get("tmax", 100)) for b in payloads]
    requests = [
        (
            f"POST /openrtb2/bid?exchange=adx HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(b)}\r\n\r\n"
        ).encode()
        + b
        for b in payloads
    ]
    rng = random.Random(11)
    result = Load(scheduled=int(rate * seconds))
    jobs: asyncio.Queue[int] = asyncio.Queue()
    notices: asyncio.Queue[str | None] = asyncio.Queue()
    start = time.perf_counter() + 0.2

    def notice_urls(body: bytes) -> list[str]:
        out = []
        for seat in orjson.loads(body).get("seatbid", []):
            for bid in seat.get("bid", []):
                if rng.random() < WIN_SHARE:
                    out.append(bid["nurl"].replace("${AUCTION_PRICE}", f"{bid['price']:.4f}"))
                    if rng.random() < CLICK_SHARE:
                        out.append(bid["ext"]["click_url"])
        return out

    async def bidding() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while (i := await jobs.get()) >= 0:
            scheduled = start + i / rate
            window = result.window(scheduled - start)
            k = i % len(requests)
            try:
                status, body = await _exchange(reader, writer, requests[k])
            except (OSError, asyncio.IncompleteReadError, ValueError):
                window.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            elapsed = time.perf_counter() - scheduled
            window.latencies.append(elapsed)
            window.statuses[status] = window.statuses.get(status, 0) + 1
            if elapsed * 1000 > tmaxes[k]:
                window.late += 1
            if status == 200:
                for notice in notice_urls(body):
                    notices.put_nowait(notice)
        writer.close()

    async def notifying() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while (notice := await notices.get()) is not None:
            target = urlsplit(notice)
            endpoint = target.path.strip("/")
            request = f"GET {target.path}?{target.query} HTTP/1.1\r\nHost: {host}\r\n\r\n"
            try:
                status, _ = await _exchange(reader, writer, request.encode())
            except (OSError, asyncio.IncompleteReadError, ValueError):
                result.notice_errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            counts = result.notices.setdefault(endpoint, {})
            counts[status] = counts.get(status, 0) + 1
        writer.close()

    bidders = [asyncio.create_task(bidding()) for _ in range(CONNECTIONS)]
    notifiers = [asyncio.create_task(notifying()) for _ in range(NOTICE_CONNECTIONS)]
    for i in range(result.scheduled):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        jobs.put_nowait(i)
    for _ in bidders:
        jobs.put_nowait(-1)
    await asyncio.gather(*bidders)
    for _ in notifiers:
        notices.put_nowait(None)
    await asyncio.gather(*notifiers)
    result.wall = time.perf_counter() - start
    return result


# --------------------------------------------------------------- the neighbours


@dataclass
class SideRuns:
    runs: list[tuple[str, int, float]] = field(default_factory=list)  # command, exit, seconds
    failures: list[str] = field(default_factory=list)


def _side_loop(env: dict[str, str], work: Path, stop: threading.Event, out: SideRuns) -> None:
    """`bidlake ingest`, then `bidlake build`, until `stop`; each runs to its end."""
    while not stop.is_set():
        for command in ("ingest", "build"):
            log = work / f"{command}-{len(out.runs)}.log"
            started = time.monotonic()
            with log.open("wb") as handle:
                done = subprocess.run(
                    [sys.executable, "-m", "bidlake.cli", command],
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                    timeout=600,
                    check=False,
                )
            out.runs.append((command, done.returncode, time.monotonic() - started))
            if done.returncode != 0:
                out.failures.append(f"{command}: exit {done.returncode}: {log.read_text()[-500:]}")
        stop.wait(SIDE_REST_S)


def _lake_events(home: Path) -> int:
    import pyarrow.parquet as pq

    from bidlake.paths import Home
    from contract.events import EVENT_TYPES
    from ingest.lake import live_files

    return sum(pq.read_metadata(f).num_rows for t in EVENT_TYPES for f in live_files(t, Home(home)))


# ----------------------------------------------------------------------------- run


def run(seconds: float | None = None, rate: float | None = None) -> list[Figure]:
    seconds = seconds or float(os.environ.get("BIDLAKE_BENCH_SOAK_SECONDS", "60"))
    rate = rate or float(os.environ.get("BIDLAKE_BENCH_SOAK_RATE", "200"))
    with tempfile.TemporaryDirectory(prefix="bidlake-bench-soak-") as tmp:
        work = Path(tmp)
        home = work / "home"
        install_models(home, n_weights=20_000, tag="soak")
        write_book(work / "campaigns.json")
        env = {
            **os.environ,
            "BIDLAKE_HOME": str(home),
            "BIDLAKE_CAMPAIGNS": str(work / "campaigns.json"),
            "BIDLAKE_BIDDER_SECRET": "soak-secret",
            "PYTHONPATH": str(REPO),
        }
        side = SideRuns()
        stop = threading.Event()
        rss: list[tuple[float, float]] = []
        with _bidder(home, env, work / "serve.log") as (url, process):
            started = time.monotonic()

            def sample() -> None:
                while not stop.is_set() and process.poll() is None:
                    with contextlib.suppress(OSError):
                        rss.append((time.monotonic() - started, _rss_mb(process.pid)))
                    stop.wait(1.0)

            sampler = threading.Thread(target=sample, name="rss", daemon=True)
            neighbours = threading.Thread(
                target=_side_loop, args=(env, work, stop, side), name="side", daemon=True
            )
            sampler.start()
            neighbours.start()
            try:
                load = asyncio.run(_load(url, rate, seconds))
            finally:
                stop.set()
                sampler.join(timeout=5)
                neighbours.join(timeout=900)  # the build under way finishes (bounded)
            process.terminate()
            drained = process.wait(timeout=60)
        ingested = _lake_events(home)
    return _figures(load, side, rss, seconds, rate, drained, ingested)


def _figures(
    load: Load,
    side: SideRuns,
    rss: list[tuple[float, float]],
    seconds: float,
    rate: float,
    drained: int,
    ingested: int,
) -> list[Figure]:
    figures = [Figure(PART, "bid requests scheduled (open loop)", rate, "req/s")]
    everything = sorted(x for w in load.windows.values() for x in w.latencies)
    answered = len(everything)
    figures.append(
        Figure(
            PART,
            "bid requests answered",
            answered / load.wall if load.wall else 0.0,
            "req/s",
            "bid requests scheduled (open loop)",
            f"{answered:,} of {load.scheduled:,} in {seconds:g} s",
        )
    )
    for q, label in ((50, "p50"), (99, "p99"), (99.9, "p99.9"), (100, "max")):
        value = everything[-1] if q == 100 and everything else percentile(everything, q)
        figures.append(Figure(PART, f"latency {label}, whole run", value * 1000, "ms"))
    for index in sorted(load.windows):
        w = load.windows[index]
        lat = sorted(w.latencies)
        non_2xx = sum(n for s, n in w.statuses.items() if not 200 <= s < 300)
        name = f"p99, window {index * WINDOW_S:g}-{(index + 1) * WINDOW_S:g} s"
        figures.append(
            Figure(
                PART,
                name,
                percentile(lat, 99) * 1000,
                "ms",
                "" if index == min(load.windows) else first_window_name(load),
                f"p50 {percentile(lat, 50) * 1000:.1f} p99.9 {percentile(lat, 99.9) * 1000:.1f}"
                f" max {lat[-1] * 1000 if lat else float('nan'):.1f} ms; n {len(lat)}, "
                f"errors {w.errors}, non-2xx {non_2xx}, after tmax {w.late}",
            )
        )
    statuses: dict[int, int] = {}
    for w in load.windows.values():
        for s, n in w.statuses.items():
            statuses[s] = statuses.get(s, 0) + n
    errors = sum(w.errors for w in load.windows.values())
    non_2xx = sum(n for s, n in statuses.items() if not 200 <= s < 300)
    late = sum(w.late for w in load.windows.values())
    figures += [
        Figure(PART, "bid requests: connection errors", errors, "count"),
        Figure(PART, "bid requests: non-2xx answers", non_2xx, "count", note=f"{statuses}"),
        Figure(PART, "bid requests: answers after tmax", late, "count", note="tmax 100 ms"),
    ]
    for endpoint, counts in sorted(load.notices.items()):
        bad = sum(n for s, n in counts.items() if not 200 <= s < 400)
        figures.append(
            Figure(PART, f"{endpoint} notices: non-2xx/3xx answers", bad, "count", note=f"{counts}")
        )
    figures.append(Figure(PART, "notices: connection errors", load.notice_errors, "count"))
    warm = [mb for t, mb in rss if t >= WINDOW_S] or [mb for _, mb in rss]
    if warm:
        growth = warm[-1] - warm[0]
        minutes = max((rss[-1][0] - WINDOW_S) / 60, 1e-9)
        figures += [
            Figure(PART, "bidder RSS after 10 s", warm[0], "MB"),
            Figure(PART, "bidder RSS at the end", warm[-1], "MB", "bidder RSS after 10 s"),
            Figure(
                PART,
                "bidder RSS growth",
                growth,
                "MB",
                note=f"{growth / minutes:+.2f} MB/min; peak {max(warm):.1f} MB",
            ),
        ]
    for command in ("ingest", "build"):
        runs = [r for r in side.runs if r[0] == command]
        ok = [r for r in runs if r[1] == 0]
        mean = sum(r[2] for r in runs) / len(runs) if runs else 0.0
        figures.append(
            Figure(
                PART,
                f"bidlake {command} runs beside the load (ok)",
                len(ok),
                "count",
                note=f"of {len(runs)}; {mean:.1f} s each on average"
                + (f"; FAILED: {side.failures[0][:200]}" if side.failures else ""),
            )
        )
    figures.append(Figure(PART, "events in the lake at the end", ingested, "events"))
    figures.append(
        Figure(PART, "bidder exit status after SIGTERM", drained, "code", note="0: drained")
    )
    return figures


def first_window_name(load: Load) -> str:
    index = min(load.windows)
    return f"p99, window {index * WINDOW_S:g}-{(index + 1) * WINDOW_S:g} s"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=None, help="default 60")
    parser.add_argument("--rate", type=float, default=None, help="requests/s, default 200")
    args = parser.parse_args(argv)
    print(render(run(args.seconds, args.rate)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
