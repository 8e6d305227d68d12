"""`bidlake export-reporting --url postgresql+psycopg://...`: the reporting marts to
PostgreSQL, whole and idempotently (warehouse.export)."""

from __future__ import annotations

import argparse
import os
import sys

from warehouse.export import DEFAULT_SCHEMA


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("BIDLAKE_REPORTING_URL"),
        help="SQLAlchemy URL of the PostgreSQL database, postgresql+psycopg://user:pw@host/db "
        "(default: $BIDLAKE_REPORTING_URL)",
    )
    parser.add_argument(
        "--schema", default=DEFAULT_SCHEMA, help="target schema (default reporting)"
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from warehouse.catalog import CatalogNotPublishedError
    from warehouse.export import ExportedTable, ExportError, export_reporting

    console = Console(stderr=True)
    if not args.url:
        console.print("bidlake export-reporting: give --url or set BIDLAKE_REPORTING_URL")
        return 2

    def on_table(table: ExportedTable) -> None:
        console.print(f"  {table.name}: {table.rows:,} rows")

    try:
        report = export_reporting(args.url, schema=args.schema, on_table=on_table)
    except (ExportError, CatalogNotPublishedError) as exc:
        console.print(f"[red]bidlake export-reporting: {exc}[/red]")
        return 2
    except Exception as exc:  # a database error: say what and where, without a traceback
        console.print(f"[red]bidlake export-reporting failed: {type(exc).__name__}: {exc}[/red]")
        return 1
    summary = Table(title=f"exported to {report.url} schema {report.schema}", title_justify="left")
    summary.add_column("table")
    summary.add_column("rows", justify="right")
    for table in report.tables:
        summary.add_row(
            table.name + (" (re-created)" if table.recreated else ""), f"{table.rows:,}"
        )
    console.print(summary)
    console.print(
        f"publication {report.publication_id}: {report.rows:,} rows in {report.elapsed_s:.1f} s"
    )
    print(report.publication_id, file=sys.stdout)
    return 0
