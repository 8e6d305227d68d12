"""The traffic flags and progress bar shared by `bidlake simulate` and `bidlake replay`.

Both commands generate the same simulated exchange traffic (a world and a seed, a window of
whole UTC hours, a request rate) and write the truth of it, so they take the same flags
with the same meaning, read into one `simulator.traffic.TrafficWindow`; only the rate's
default differs (replay waits on a real bidder, so it defaults to a far lower rate). Keep
this module's top-level imports light: it is imported when the CLI builds its parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.traffic import DEFAULT_START, TrafficWindow, check_share

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


def add_traffic_arguments(
    parser: argparse.ArgumentParser, *, rate_default: float, rate_help: str
) -> None:
    """--seed, --start, --hours, --rate, --first-price-share and --truth; `rate_help` ends
    before the default."""
    parser.add_argument("--seed", type=int, default=0, help="world and traffic seed (default 0)")
    parser.add_argument(
        "--start",
        default=DEFAULT_START,
        help=f"first UTC hour of the traffic, e.g. {DEFAULT_START} (default)",
    )
    parser.add_argument("--hours", type=int, default=1, help="hours of traffic (default 1)")
    parser.add_argument(
        "--rate", type=float, default=rate_default, help=f"{rate_help} (default {rate_default:g})"
    )
    parser.add_argument(
        "--first-price-share",
        type=_share,
        default=0.0,
        metavar="SHARE",
        help="share of the requests the exchange auctions at first price (OpenRTB at=1, the "
        "winner pays its bid, competitors shade), 0..1 (default 0: all second price)",
    )
    parser.add_argument(
        "--truth", type=Path, default=None, help="truth folder (default: $BIDLAKE_HOME/truth)"
    )


def _share(text: str) -> float:
    try:
        return check_share(float(text), "share")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def window_from_args(args: argparse.Namespace) -> TrafficWindow:
    """The window of the traffic flags; ValueError naming the flag's field when wrong."""
    return TrafficWindow.parse(args.start, hours=args.hours, rate=args.rate, seed=args.seed)


def minute_progress(console: Console, command: str, counted: str) -> Progress:
    """A transient bar over simulated minutes with a running count of `counted` (the task
    field of that name); the caller adds the task with total = hours * 60."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn(f"[bold]{command}[/bold] {{task.description}}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} min"),
        TextColumn(f"{{task.fields[{counted}]:,}} {counted}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
