"""An open-loop, fixed-rate HTTP/1.1 load generator (what wrk2 does; Debian has only wrk).

Requests are *scheduled* at exact times (start + i / rate) and sent on a pool of
keep-alive connections; each latency is measured from the scheduled time to the end of the
response, so a stall of the server shows up in every request it delayed (no coordinated
omission: a closed-loop client like wrk would simply send less while the server stalls).
Prints one JSON object: counts, statuses, latency percentiles in ms, and how many answers
came later than each request's tmax.

    python -m benchmarks.bidder.loadgen --url http://127.0.0.1:8080/openrtb2/bid \\
        --bodies bodies.jsonl --rate 1000 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from urllib.parse import urlsplit

import orjson


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


async def run(url: str, bodies: list[bytes], rate: float, seconds: float, connections: int) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    tmaxes = [int(orjson.loads(b).get("tmax", 100)) for b in bodies]
    requests = [
        (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(b)}\r\n\r\n"
        ).encode()
        + b
        for b in bodies
    ]
    total = int(rate * seconds)
    queue: asyncio.Queue[int] = asyncio.Queue()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    late = 0
    errors = 0
    start = time.perf_counter() + 0.2

    async def connection() -> None:
        nonlocal late, errors
        reader, writer = await asyncio.open_connection(host, port)
        while True:
            i = await queue.get()
            if i < 0:
                writer.close()
                return
            scheduled = start + i / rate
            k = i % len(requests)
            try:
                writer.write(requests[k])
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                reader, writer = await asyncio.open_connection(host, port)
                continue
            elapsed = time.perf_counter() - scheduled
            latencies.append(elapsed)
            statuses[status] = statuses.get(status, 0) + 1
            if elapsed * 1000 > tmaxes[k]:
                late += 1

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(i)
    for _ in workers:
        queue.put_nowait(-1)
    await asyncio.gather(*workers)
    wall = time.perf_counter() - start
    latencies.sort()
    return {
        "scheduled": total,
        "answered": len(latencies),
        "errors": errors,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "achieved_rate": len(latencies) / wall,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "p999_ms": percentile(latencies, 99.9) * 1000,
        "max_ms": (latencies[-1] if latencies else float("nan")) * 1000,
        "after_tmax": late,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", required=True, help="file with one JSON body per line")
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    with open(args.bodies, "rb") as fh:
        bodies = [line.strip() for line in fh if line.strip()]
    import uvloop

    result = uvloop.run(run(args.url, bodies, args.rate, args.seconds, args.connections))
    print(orjson.dumps(result).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
