"""`bidlake run`: the platform's main job, end to end, through Dagster.

    bidlake run [--seed 0] [--start 2026-01-05T00] [--hours 48] [--rate 10]

simulate → ingest → build → train (+ export) → replay the bidder on fresh traffic, each
stage a Dagster run on the instance under `$BIDLAKE_HOME/dagster` (see
`orchestration.run_stages`); then a one-screen summary and where to look next. Exit status
0 when every stage succeeded (or was skipped: the reporting export without a database),
1 otherwise.

The default volume — two simulated days at 10 bid requests/s (≈1.7M requests, ≈290k
impressions, ≈1.6k clicks, ≈90 conversions) — gives the models a day to train on and the
next day to be judged on, and runs in about two minutes on two cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from orchestration.run_stages import Stage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from orchestration.run_stages import Settings

    d = Settings()
    parser.add_argument(
        "--seed", type=int, default=d.seed, help="simulation seed (default %(default)s)"
    )
    parser.add_argument(
        "--start", default=d.start, help="first simulated UTC hour (default %(default)s)"
    )
    parser.add_argument(
        "--hours", type=int, default=d.hours, help="hours to simulate (default %(default)s)"
    )
    parser.add_argument(
        "--rate", type=float, default=d.rate, help="bid requests per second (default %(default)s)"
    )
    parser.add_argument(
        "--format",
        dest="log_format",
        choices=("jsonl", "protobuf"),
        default=d.log_format,
        help="tracking-log format (default %(default)s)",
    )
    parser.add_argument(
        "--replay-hours",
        type=int,
        default=d.replay_hours,
        help="hours of fresh traffic replayed to the bidder (default %(default)s)",
    )
    parser.add_argument(
        "--replay-rate",
        type=float,
        default=d.replay_rate,
        help="bid requests per second in the replay (default %(default)s)",
    )
    parser.add_argument(
        "--reporting-url",
        default=None,
        help="also copy the reporting marts to this PostgreSQL (postgresql+psycopg://…; "
        "default $BIDLAKE_REPORTING_URL; none: that stage is skipped)",
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from bidlake.paths import home
    from orchestration.instance import StorageUrlError, open_instance
    from orchestration.resources import REPORTING_URL_ENV
    from orchestration.run_stages import Settings, StageRunner, recover_dead_runs

    console = Console(stderr=True)
    settings = Settings(
        seed=args.seed,
        start=args.start,
        hours=args.hours,
        rate=args.rate,
        log_format=args.log_format,
        replay_hours=args.replay_hours,
        replay_rate=args.replay_rate,
        reporting_url=args.reporting_url or os.environ.get(REPORTING_URL_ENV, ""),
    )
    from simulator.traffic import TrafficWindow

    try:  # the one check of a traffic window, as simulate and replay do it
        TrafficWindow.parse(
            settings.start, hours=settings.hours, rate=settings.rate, seed=args.seed
        )
        TrafficWindow.parse(
            settings.start, hours=settings.replay_hours, rate=settings.replay_rate, seed=args.seed
        )
    except ValueError as error:
        console.print(f"[red]bidlake run: {error}[/red]")
        return 2
    root = home().root
    console.print(f"[bold]bidlake run[/] — home {root}")
    started = time.perf_counter()
    try:
        with open_instance() as instance:
            recovered = recover_dead_runs(instance)
            if recovered:
                console.print(f"marked {len(recovered)} run(s) of dead processes as failed")
            console.print("loading the Dagster definitions (parses dbt only if it changed) …")
            runner = StageRunner(instance, settings, on_stage=lambda s: _show(console, s))
            output = root / "dagster" / "logs" / f"bidlake-run-{runner.main_run_id}.log"
            console.print(f"raw output of the steps (dbt, simulator, bidder): {output}")
            with stdout_to(output):
                stages = runner.run()
            main_run_id = runner.main_run_id
    except StorageUrlError as exc:
        console.print(f"[red]bidlake run: {exc}[/red]")
        return 2
    total = time.perf_counter() - started
    from orchestration.run_summary import render

    console.print(render(stages, main_run_id, total))
    ok = all(s.status in ("succeeded", "skipped") for s in stages)
    return 0 if ok else 1


@contextmanager
def stdout_to(path: Path) -> Iterator[None]:
    """Send file descriptor 1 to `path` while running the stages.

    dbt, the simulator and the bidder print hundreds of lines to stdout; the terminal
    gets the compact step log (stderr) and the summary instead. Redirecting the
    descriptor, not `sys.stdout`, also catches subprocesses; Dagster's own capture of each
    step's output (the compute logs in the UI) is unaffected.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    saved = os.dup(1)
    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(target, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(target)


def _show(console: Console, stage: Stage) -> None:
    if stage.status == "not run" and not stage.reason:
        console.rule(f"[bold]{stage.name}[/] ({stage.job})", align="left")
        return
    colour = {"succeeded": "green", "failed": "red", "skipped": "yellow"}.get(stage.status, "dim")
    extra = f" in {stage.seconds:.1f} s" if stage.seconds else ""
    reason = f" — {stage.reason}" if stage.reason else ""
    console.print(f"[{colour}]{stage.name}: {stage.status}{extra}{reason}[/]")
