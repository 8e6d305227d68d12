"""`bidlake replay --bidder URL`: play the simulated exchange against a running bidder.

    bidlake serve --port 8080 &
    bidlake replay --bidder http://127.0.0.1:8080 --seed 7 --start 2026-01-05T00 --rate 5
    bidlake replay --bidder http://127.0.0.1:8080 --speed 1            # real time
    bidlake replay --bidder http://127.0.0.1:8080 --closed-loop        # throughput

Open loop by default: each request is sent at its scheduled time (sped up `--speed`
times; by default so that ~600 requests/s are offered), and latency is measured from
that time. Loopback only; see `simulator.replay` for what is sent and the URL shapes
assumed.
Shows progress and ends with a one-screen summary; exits 1 when the bidder cannot be
reached, 2 on bad arguments.
"""

from __future__ import annotations

import argparse

from simulator.traffic_args import add_traffic_arguments, minute_progress, window_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bidder",
        required=True,
        help="the bidder's base URL (http://127.0.0.1:PORT) or its bid endpoint; loopback only",
    )
    add_traffic_arguments(
        parser,
        rate_default=5.0,
        rate_help="mean requests per simulated second",
    )
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument(
        "--speed",
        type=_speed,
        default=None,
        metavar="X",
        help="play the simulated time X times faster than real time (1: real time; an "
        "hour in 3600/X s); default: the speed that offers ~600 requests/s on average",
    )
    pace.add_argument(
        "--closed-loop",
        action="store_true",
        help="send as fast as the bidder answers, --concurrency in flight (throughput, not "
        "latency: its latency includes the queue it builds)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="HTTP requests in flight at most (default 16)"
    )


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from simulator.replay import ReplayConfig, ReplayError, replay
    from simulator.summary import render_replay_summary

    console = Console(stderr=True)
    try:
        config = ReplayConfig(
            bidder=args.bidder,
            window=window_from_args(args),
            truth=args.truth,
            concurrency=args.concurrency,
            speed=args.speed,
            closed_loop=args.closed_loop,
            first_price_share=args.first_price_share,
        )
        config.validate()
    except ValueError as exc:
        console.print(f"[red]bidlake replay: {exc}[/red]")
        return 2
    with minute_progress(console, "replay", "requests") as progress:
        task = progress.add_task(
            f"seed {config.window.seed} -> {config.bidder}",
            total=config.window.minutes,
            requests=0,
        )

        def report(done: int, total: int, requests: int) -> None:
            progress.update(task, completed=done, requests=requests)

        try:
            summary = replay(config, progress=report)
        except ReplayError as exc:
            console.print(f"[red]bidlake replay: {exc}[/red]")
            return 1
    Console().print(render_replay_summary(summary))
    return 0
