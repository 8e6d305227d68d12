"""The `bidlake` command line: one subcommand per step of the platform.

Each subcommand lives in the package that owns it, as a module exposing
`add_arguments(parser)` and `run(args) -> int`. This module only routes, and imports a
subcommand's module lazily so `bidlake sql` never pays for Dagster or scikit-learn.
A subcommand whose module does not exist yet says which part provides it and exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass

from bidlake import __version__


@dataclass(frozen=True)
class Command:
    name: str
    module: str  # "<package>.<module>" exposing add_arguments(parser) and run(args)
    part: str  # the part of the platform that provides it
    help: str


COMMANDS: tuple[Command, ...] = (
    Command("simulate", "simulator.cli", "simulator/", "write simulated tracking logs"),
    Command("ingest", "ingest.cli", "ingest/", "tracking logs -> partitioned Parquet lake"),
    Command("build", "warehouse.cli.build", "dbt_project/", "run dbt build on the lake"),
    Command("sql", "warehouse.cli.sql", "dbt_project/", "query the warehouse read-only"),
    Command("docs", "warehouse.cli.docs", "dbt_project/", "generate and serve dbt docs"),
    Command(
        "export-reporting",
        "warehouse.cli.export_reporting",
        "dbt_project/",
        "copy reporting marts to PostgreSQL",
    ),
    Command("report", "warehouse.report.cli", "warehouse/", "write the HTML report"),
    Command("train", "ml.cli", "ml/", "train, evaluate and export CTR/CVR models"),
    Command("campaigns", "bidlake.campaign_book.cli", "bidlake/", "the campaign book, versioned"),
    Command("serve", "bidder.cli", "bidder/", "serve OpenRTB bids over HTTP"),
    Command("replay", "simulator.replay_cli", "simulator/", "play the exchange to a bidder"),
    Command("run", "orchestration.run_cli", "orchestration/", "the main job, end to end"),
    Command("ui", "orchestration.ui_cli", "orchestration/", "start the Dagster UI"),
)


def _load(command: Command):
    try:
        return importlib.import_module(command.module)
    except ModuleNotFoundError as exc:
        if exc.name and command.module.startswith(exc.name):
            return None  # not built yet
        raise


def build_parser(
    wanted: str | None = None,
) -> tuple[argparse.ArgumentParser, dict[str, object]]:
    """The parser; only `wanted`'s module is imported when a subcommand is named.

    `bidlake sql` must not pay for importing Dagster or scikit-learn, so the other
    subcommands get a placeholder parser; `bidlake --help` (wanted=None) loads them all
    to tell which are built.
    """
    parser = argparse.ArgumentParser(
        prog="bidlake",
        description="SQL-first lakehouse for real-time bidding. Data goes to $BIDLAKE_HOME "
        "(default ./data).",
    )
    parser.add_argument("--version", action="version", version=f"bidlake {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules: dict[str, object] = {}
    for command in COMMANDS:
        if wanted is not None and command.name != wanted:
            sub.add_parser(command.name, help=command.help)
            continue
        module = _load(command)
        help_text = command.help if module else f"{command.help} (not built yet: {command.part})"
        command_parser = sub.add_parser(command.name, help=help_text, description=help_text)
        if module is not None:
            module.add_arguments(command_parser)  # type: ignore[attr-defined]
        else:
            command_parser.add_argument("rest", nargs=argparse.REMAINDER)
        modules[command.name] = module
    return parser, modules


def _named_command(argv: list[str]) -> str | None:
    names = {c.name for c in COMMANDS}
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in names else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser, modules = build_parser(_named_command(argv))
    args = parser.parse_args(argv)
    module = modules[args.command]
    if module is None:
        part = next(c.part for c in COMMANDS if c.name == args.command)
        print(
            f"bidlake {args.command}: not built yet; it is provided by {part}",
            file=sys.stderr,
        )
        return 2
    return int(module.run(args) or 0)  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
