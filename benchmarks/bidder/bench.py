"""The bidder under load, over loopback, against the ceiling of its own server stack.

Every server runs as its own process pinned to CPU 0 (`taskset`), one worker, uvicorn with
httptools and uvloop, no access log, no proxy-headers middleware (as `bidlake serve`
runs it); the load generator runs pinned to CPU 1. So every figure is "what one core
serves". Two readings of each throughput run:
- wall: requests per second of the run — the figure the target is stated in, but it
  drops whenever other processes take CPU 0 from the server;
- per CPU-second: requests per second of CPU the server process actually got (user +
  system, /proc) — robust to such contention, and what one core serves when it is the
  server's alone. The server's CPU share of the run is in the note: near 100 % means the
  two readings agree (and that wrk, not the server, was never the bottleneck).

Throughput (wrk, closed loop: 1 thread, 50 keep-alive connections, 2 s warm-up, then
BIDLAKE_BENCH_BIDDER_SECONDS, default 10 s), every server POSTed the same 2,000 distinct
OpenRTB 2.6 bodies in turn (wrk Lua script): site and app traffic, eight slot sizes, 15
countries, four device types, audience segments, 1-2 imps, floors 0.05-3.00, plus the ten
OpenRTB fixture requests of tests/fixtures/openrtb:
- ceiling: a raw ASGI app answering a constant JSON body (benchmarks/bidder/ceiling.py);
- starlette: the same constant body through Starlette's router/Request/Response — what a
  routing layer would cost, the reason bidder.app is raw ASGI;
- parse only: the ceiling plus orjson and bidder.bid_request.parse_request — what reading an
  OpenRTB request costs in Python before any decision;
- bidder: `bidlake serve` (the real CLI) with in-memory budgets and JSONL tracking logs;
  about 40 % of the imps get a bid. The campaign book is the shared one with every budget
  x1000, so pacing does not turn the run into no-bids half way (pacing still computes its
  factor on every bid). Models: a CTR and a CVR artifact with 200k non-zero weights each
  over the default feature spec (2^20 buckets), like a trained export;
- bidder with `--state redis://` (a redis-server started here): every bid reserves budget
  in Redis with one Lua script call.

Latency at a fixed rate (benchmarks/bidder/loadgen.py, open loop, 1,000 req/s for
BIDLAKE_BENCH_BIDDER_SECONDS): p50/p99/p99.9 measured from each request's scheduled send
time, and how many answers arrived after the request's tmax (100 ms in the bodies).

    .venv/bin/python -m benchmarks bidder
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson

from benchmarks.harness import Figure

PART = "bidder"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OPENRTB_FIXTURES = REPO / "tests" / "fixtures" / "openrtb"
SERVER_CPU, LOAD_CPU = "0", "1"

WRK_SCRIPT = """
local bodies = {}
local n = 0
local i = 0
function init(args)
  for line in io.lines(args[1]) do n = n + 1; bodies[n] = line end
end
function request()
  i = i % n + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, bodies[i])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests":%d,"duration_us":%d,"errors":%d,"non_2xx":%d,' ..
    '"p50_us":%d,"p99_us":%d,"p999_us":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"""

UAS = {
    "desktop": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/120.0.0.0 Safari/537.36",
    "phone": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "tablet": "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "mobile": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36",
}
DEVICETYPE = {"desktop": 2, "phone": 4, "tablet": 5, "mobile": 1}
SIZES = [
    (300, 250),
    (728, 90),
    (320, 50),
    (160, 600),
    (300, 600),
    (320, 480),
    (970, 250),
    (468, 60),
]
COUNTRIES = [
    "USA",
    "GBR",
    "DEU",
    "FRA",
    "CAN",
    "USA",
    "USA",
    "GBR",
    "ESP",
    "ITA",
    "NLD",
    "BRA",
    "IND",
    "JPN",
    "AUS",
]
SEGMENTS = [
    "rt:adv-shoes",
    "rt:adv-travel",
    "rt:adv-games",
    "rt:adv-bank",
    "fashion",
    "shopper",
    "fitness",
    "travel-intender",
    "business",
    "gamer",
    "students",
    "finance-pro",
]


def bodies(n: int, seed: int = 1) -> list[bytes]:
    """n distinct OpenRTB 2.6 bid requests shaped like exchange traffic."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        device = rng.choice(list(UAS))
        imps = []
        for k in range(rng.choice([1, 1, 1, 2])):
            w, h = rng.choice(SIZES)
            imps.append(
                {
                    "id": str(k + 1),
                    "tagid": f"slot-{rng.randrange(400)}",
                    "bidfloor": round(rng.uniform(0.05, 3.0), 2),
                    "bidfloorcur": "USD",
                    "banner": {"w": w, "h": h, "pos": rng.choice([0, 1, 3])},
                }
            )
        request: dict = {
            "id": f"bench-{i}",
            "at": rng.choice([1, 2]),
            "tmax": 100,
            "cur": ["USD"],
            "imp": imps,
            "device": {
                "ua": UAS[device],
                "devicetype": DEVICETYPE[device],
                "ip": f"198.51.{rng.randrange(256)}.{rng.randrange(256)}",
                "geo": {
                    "country": rng.choice(COUNTRIES),
                    "city": f"city-{rng.randrange(300)}",
                    "utcoffset": rng.choice([-480, -300, 0, 60, 120]),
                },
            },
            "user": {
                "id": f"user-{rng.randrange(200_000)}",
                "data": [
                    {
                        "id": "dmp",
                        "segment": [{"id": s} for s in rng.sample(SEGMENTS, rng.randrange(4))],
                    }
                ],
            },
        }
        if device in ("phone", "mobile") and rng.random() < 0.6:
            request["app"] = {
                "id": f"app-{i % 300}",
                "bundle": f"com.example.app{rng.randrange(300)}",
                "publisher": {"id": f"pub-app-{rng.randrange(80)}"},
            }
        else:
            domain = f"news-{rng.randrange(60)}.example"
            request["site"] = {
                "id": f"site-{i % 500}",
                "domain": domain,
                "page": f"https://{domain}/article/{rng.randrange(10_000)}?ref=home",
                "publisher": {"id": f"pub-{rng.randrange(120)}"},
            }
        out.append(orjson.dumps(request))
    return out


def fixture_bodies() -> list[bytes]:
    """The OpenRTB fixture requests, one line each (they join the mix as is); an error when
    the folder is missing or has none, so the mix never silently loses them."""
    paths = sorted(OPENRTB_FIXTURES.glob("*request*"))
    if not paths:
        raise FileNotFoundError(f"no OpenRTB fixture requests (*request*) in {OPENRTB_FIXTURES}")
    return [orjson.dumps(orjson.loads(p.read_bytes())) for p in paths]


def install_models(home: Path, *, n_weights: int = 200_000, tag: str = "bench") -> None:
    """A CTR and a CVR artifact, signed with the home's model-signing key (the one the
    bidder started with BIDLAKE_HOME=home verifies with, or $BIDLAKE_MODEL_SIGNING_KEY when
    set: both sides read the same), and promoted."""
    from ml import registry
    from ml.artifact import new_document, signing_key, write_artifact
    from ml.features import default_spec

    root, key = home / "models", signing_key(home)
    rng = random.Random(3)
    spec = default_spec()
    for name, intercept in (("ctr", -5.8), ("cvr", -2.9)):
        weights = {rng.randrange(spec.num_buckets): rng.gauss(0, 0.3) for _ in range(n_weights)}
        doc = new_document(
            name=name,
            version=f"{name}-{tag}",
            created_at_ms=0,
            feature_spec=spec.to_dict(),
            intercept=intercept,
            weights=weights,
        )
        with registry.staging(name, f"{name}-{tag}", root) as folder:
            write_artifact(doc, folder / registry.MODEL_FILE, key)
        registry.set_current(name, f"{name}-{tag}", root, key)


def write_book(path: Path) -> None:
    book = json.loads((REPO / "bidlake" / "campaigns.json").read_text())
    for campaign in book["campaigns"]:
        campaign["daily_budget_micros"] *= 1000
    path.write_text(json.dumps(book))


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pinned(cpu: str, command: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *command] if shutil.which("taskset") else command


class Server:
    def __init__(self, url: str, pid: int) -> None:
        self.url, self.pid = url, pid

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used (Linux /proc)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _server(
    command: list[str], env: dict[str, str], ready_path: str, log: Path
) -> Iterator[Server]:
    port = _port()
    command = [part.replace("{port}", str(port)) for part in command]
    with log.open("wb") as out:
        process = subprocess.Popen(
            _pinned(SERVER_CPU, command), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if ready_path == "/openrtb2/bid":
                    ok = httpx.post(url + ready_path, content=b"{}", timeout=1).status_code == 200
                else:
                    ok = httpx.get(url + ready_path, timeout=1).status_code == 200
                if ok:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {' '.join(command)}\n{log.read_text()}")
            time.sleep(0.1)
        yield Server(url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wrk(server: Server, bodies_file: Path, script: Path, seconds: int) -> dict:
    url = server.url

    def once(duration: int) -> dict:
        command = [
            "wrk",
            "-t1",
            "-c50",
            f"-d{duration}s",
            "--timeout",
            "2s",
            "-s",
            str(script),
            url + "/openrtb2/bid?exchange=adx",
            "--",
            str(bodies_file),
        ]
        result = subprocess.run(
            _pinned(LOAD_CPU, command), capture_output=True, text=True, check=True
        )
        line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
        return json.loads(line.removeprefix("RESULT "))

    once(2)  # warm-up: connections, the scorer's memos, the allocator
    cpu_before = server.cpu_seconds()
    stats = once(seconds)
    cpu = server.cpu_seconds() - cpu_before
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    # Requests per second of server CPU: what one core serves when the server has it to
    # itself; robust to other load on the machine, which the wall-clock rate is not.
    stats["per_cpu_second"] = stats["requests"] / cpu if cpu > 0 else float("nan")
    stats["cpu_share"] = cpu / (stats["duration_us"] / 1e6)
    return stats


def _loadgen(server: Server, bodies_file: Path, seconds: int, rate: int = 1000) -> dict:
    url = server.url
    command = [
        sys.executable,
        "-m",
        "benchmarks.bidder.loadgen",
        "--url",
        url + "/openrtb2/bid?exchange=adx",
        "--bodies",
        str(bodies_file),
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
    ]
    result = subprocess.run(_pinned(LOAD_CPU, command), capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def _redis() -> Iterator[str | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = _port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait()


def run() -> list[Figure]:
    seconds = int(os.environ.get("BIDLAKE_BENCH_BIDDER_SECONDS", "10"))
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (scripts/system-deps.sh installs it)")
    with tempfile.TemporaryDirectory(prefix="bidlake-bench-bidder-") as tmp:
        work = Path(tmp)
        home = work / "home"
        install_models(home)
        write_book(work / "campaigns.json")
        bodies_file = work / "bodies.jsonl"
        bodies_file.write_bytes(b"\n".join(bodies(2000) + fixture_bodies()) + b"\n")
        script = work / "bodies.lua"
        script.write_text(WRK_SCRIPT)
        env = {
            **os.environ,
            "BIDLAKE_HOME": str(home),
            "BIDLAKE_CAMPAIGNS": str(work / "campaigns.json"),
            "BIDLAKE_BIDDER_SECRET": "bench-secret",
            "PYTHONPATH": str(REPO),
        }
        uvicorn = [sys.executable, "-m", "uvicorn", "--port", "{port}", "--http", "httptools"]
        uvicorn += ["--loop", "uvloop", "--no-access-log", "--no-proxy-headers"]
        uvicorn += ["--log-level", "warning"]  # the ceiling gets the bidder's uvicorn settings
        serve = [sys.executable, "-m", "bidlake.cli", "serve", "--port", "{port}", "--workers", "1"]

        def measure(command: list[str], ready: str, name: str) -> tuple[dict, str]:
            with _server(command, env, ready, work / f"{name}.log") as server:
                stats = _wrk(server, bodies_file, script, seconds)
                metrics = httpx.get(server.url + "/metrics").text if ready == "/readyz" else ""
            return stats, metrics

        ceiling, _ = measure(
            [*uvicorn, "benchmarks.bidder.ceiling:app"], "/openrtb2/bid", "ceiling"
        )
        starlette, _ = measure(
            [*uvicorn, "benchmarks.bidder.ceiling:starlette_app"], "/openrtb2/bid", "starlette"
        )
        parse, _ = measure(
            [*uvicorn, "benchmarks.bidder.ceiling:parse_app"], "/openrtb2/bid", "parse"
        )
        bidder, metrics = measure(serve, "/readyz", "bidder")
        with _server(serve, env, "/readyz", work / "bidder-rate.log") as server:
            fixed = _loadgen(server, bodies_file, seconds)
        redis = None
        with _redis() as redis_url:
            if redis_url:
                redis, _ = measure([*serve, "--state", redis_url], "/readyz", "bidder-redis")
    return _figures(ceiling, starlette, parse, bidder, redis, fixed, metrics)


def _figures(
    ceiling: dict,
    starlette: dict,
    parse: dict,
    bidder: dict,
    redis: dict | None,
    fixed: dict,
    metrics: str,
) -> list[Figure]:
    imps = {
        line.split('"')[1]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("bidder_imps_total{")
    }
    bid_share = imps.get("bid", 0) / max(1.0, sum(imps.values()))

    def note(stats: dict) -> str:
        return (
            f"p50 {stats['p50_us'] / 1000:.2f} / p99 {stats['p99_us'] / 1000:.2f} / "
            f"p99.9 {stats['p999_us'] / 1000:.2f} ms; server CPU {stats['cpu_share']:.0%}; "
            f"errors {stats['errors']}, non-2xx {stats['non_2xx']}"
        )

    wall = "ceiling: constant JSON, raw ASGI (wall)"
    cpu = "ceiling: constant JSON, raw ASGI (per CPU-second)"
    figures = [
        Figure(PART, wall, ceiling["rps"], "req/s", note=note(ceiling)),
        Figure(PART, cpu, ceiling["per_cpu_second"], "req/cpu-s"),
        Figure(
            PART,
            "starlette routing, constant JSON (wall)",
            starlette["rps"],
            "req/s",
            wall,
            note(starlette),
        ),
        Figure(
            PART,
            "starlette routing, constant JSON (per CPU-second)",
            starlette["per_cpu_second"],
            "req/cpu-s",
            cpu,
        ),
        Figure(
            PART,
            "bidder, memory state (wall)",
            bidder["rps"],
            "req/s",
            wall,
            note(bidder) + f"; {bid_share:.0%} of imps bid",
        ),
        Figure(
            PART,
            "bidder, memory state (per CPU-second)",
            bidder["per_cpu_second"],
            "req/cpu-s",
            cpu,
            "target ratio >= 0.5",
        ),
    ]
    if redis is not None:
        figures += [
            Figure(
                PART,
                "bidder, Redis state (wall)",
                redis["rps"],
                "req/s",
                "bidder, memory state (wall)",
                note(redis),
            ),
            Figure(
                PART,
                "bidder, Redis state (per CPU-second)",
                redis["per_cpu_second"],
                "req/cpu-s",
                "bidder, memory state (per CPU-second)",
                "bidder process only; redis-server's CPU not counted",
            ),
        ]
    detail = (
        f"open loop; {fixed['answered']:,} of {fixed['scheduled']:,} answered at "
        f"{fixed['achieved_rate']:.0f}/s, errors {fixed['errors']}, statuses {fixed['statuses']}, "
        f"max {fixed['max_ms']:.1f} ms"
    )
    figures += [
        Figure(PART, "bidder @1000 req/s: p50", fixed["p50_ms"], "ms", note=detail),
        Figure(PART, "bidder @1000 req/s: p99", fixed["p99_ms"], "ms", note="target <= 10 ms"),
        Figure(PART, "bidder @1000 req/s: p99.9", fixed["p999_ms"], "ms"),
        Figure(
            PART,
            "bidder @1000 req/s: answers after tmax",
            fixed["after_tmax"],
            "requests",
            note="tmax 100 ms in every body; target 0",
        ),
        Figure(
            PART,
            "bidder cores for 50k req/s (at per-CPU-second rate)",
            50_000 / bidder["per_cpu_second"],
            "cores",
            note="bidder processes only, no headroom; see the report for sizing",
        ),
    ]
    return figures


if __name__ == "__main__":
    from benchmarks.harness import render

    print(render(run()))
