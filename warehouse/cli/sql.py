"""`bidlake sql "..."`: a query against the published warehouse, read-only.

Every reporting and feature mart, staging model and `raw_<event_type>` view of the lake is
queryable by name (warehouse.catalog). Never blocked by a running build. Runs in the
analysts' sandbox (warehouse.sandbox): one read-only query per call, no file outside the
catalog and the lake, no setting, no extension.
`--format table` (default) prints at most --max-rows rows; csv and json stream them all
(json: one array of objects).
"""

from __future__ import annotations

import argparse
import sys

FETCH_ROWS = 10_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", help="the SQL; '-' reads it from stdin")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument(
        "--max-rows", type=int, default=1000, help="rows shown by --format table (default 1000)"
    )


def run(args: argparse.Namespace) -> int:
    import duckdb

    from warehouse.catalog import CatalogNotPublishedError, connect_analyst

    query = sys.stdin.read() if args.query == "-" else args.query
    try:
        con = connect_analyst()
    except CatalogNotPublishedError as exc:
        print(f"bidlake sql: {exc}", file=sys.stderr)
        return 2
    try:
        try:
            result = con.execute(query)
        except duckdb.Error as exc:
            print(f"bidlake sql: {exc}", file=sys.stderr)
            return 1
        if result.description is None:
            return 0
        names = [d[0] for d in result.description]
        if args.format == "csv":
            _csv(names, result)
        elif args.format == "json":
            _json(names, result)
        else:
            _table(names, result, args.max_rows)
    finally:
        con.close()
    return 0


def _batches(result: object) -> object:
    while batch := result.fetchmany(FETCH_ROWS):  # type: ignore[attr-defined]
        yield batch


def _csv(names: list[str], result: object) -> None:
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(names)
    for batch in _batches(result):  # type: ignore[attr-defined]
        writer.writerows(batch)


def _json(names: list[str], result: object) -> None:
    import orjson

    out = sys.stdout.buffer
    out.write(b"[")
    first = True
    for batch in _batches(result):  # type: ignore[attr-defined]
        for row in batch:
            out.write(b"" if first else b",\n")
            out.write(orjson.dumps(dict(zip(names, row, strict=True)), default=str))
            first = False
    out.write(b"]\n")
    out.flush()


def _table(names: list[str], result: object, max_rows: int) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = result.fetchmany(max_rows + 1)  # type: ignore[attr-defined]
    table = Table(*names)
    for row in rows[:max_rows]:
        table.add_row(*("NULL" if v is None else str(v) for v in row))
    console = Console()
    console.print(table)
    if len(rows) > max_rows:
        console.print(f"(first {max_rows} rows shown; use --max-rows or --format csv for all)")
    else:
        console.print(f"({len(rows)} rows)")
