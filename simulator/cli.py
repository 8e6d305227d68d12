"""`bidlake simulate`: write a window of simulated tracking logs (and the truth).

    bidlake simulate --seed 7 --start 2026-01-05T00 --hours 24 --rate 500 --gzip --workers 2

Shows progress (simulated minutes, events written) and ends with a one-screen summary.
Heavy imports (numpy, the simulator) happen in `run`, so `bidlake --help` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from simulator.traffic_args import add_traffic_arguments, minute_progress, window_from_args


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=None, help="landing folder (default: $BIDLAKE_HOME/landing)"
    )
    add_traffic_arguments(parser, rate_default=50.0, rate_help="mean bid requests per second")
    parser.add_argument("--format", choices=("jsonl", "protobuf"), default="jsonl")
    parser.add_argument("--gzip", action="store_true", help="gzip the log files")
    parser.add_argument(
        "--duplicate-rate", type=_rate, default=0.0, help="share of events written twice"
    )
    parser.add_argument(
        "--corrupt-rate", type=_rate, default=0.0, help="garbage records per valid event"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes, each simulating consecutive hours (same records; default 1)",
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from simulator.run import simulate
    from simulator.run_types import SimulationConfig
    from simulator.summary import render_summary

    console = Console(stderr=True)
    try:
        config = SimulationConfig(
            window=window_from_args(args),
            landing=args.out,
            truth=args.truth,
            fmt=args.format,
            compress=args.gzip,
            duplicate_rate=args.duplicate_rate,
            corrupt_rate=args.corrupt_rate,
            first_price_share=args.first_price_share,
        )
        config.validate()
    except ValueError as exc:
        console.print(f"[red]bidlake simulate: {exc}[/red]")
        return 2

    window = config.window
    with minute_progress(console, "simulate", "events") as progress:
        task = progress.add_task(
            f"seed {window.seed} from {window.start:%Y-%m-%dT%H}", total=window.minutes, events=0
        )

        def report(done: int, total: int, records: int) -> None:
            progress.update(task, completed=done, events=records)

        summary = simulate(config, progress=report, workers=args.workers)
    Console().print(render_summary(summary))
    return 0
