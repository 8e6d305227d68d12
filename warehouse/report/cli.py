"""`bidlake report`: write the HTML report of the published warehouse and print its path.

    bidlake report [--out FOLDER]

The page is self-contained (see `warehouse.report`); open it in any browser. Exit 0 with
the path even when the warehouse is still empty (the page says what is missing).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the page (default: $BIDLAKE_HOME/reports)",
    )


def run(args: argparse.Namespace) -> int:
    from warehouse.report import write_report

    path = write_report(out=args.out)
    print(path)
    return 0
