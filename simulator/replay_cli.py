"""`bidlake replay --bidder URL`: play the simulated exchange against a running bidder.

    bidlake serve --port 8080 &
    bidlake replay --bidder http://127.0.0.1:8080 --seed 7 --start 2026-01-05T00 --rate 5

Loopback only; see `simulator.replay` for what is sent and the URL shapes assumed.
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
        rate_help="mean requests per simulated second; sent as fast as the bidder answers",
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="HTTP requests in flight at most (default 16)"
    )


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
