"""`bidlake build`: dbt build of the warehouse, then publication of the read-only catalog.

Shows one progress bar over dbt's nodes and ends with a one-screen summary: what ran,
what failed (and why), what was published. Exit status 0 when everything passed, 1 when a
model or test failed or the publication failed (a full disk, a refused write: nothing is
published then, readers keep the last catalog, and the next build publishes), 2 when
another build holds the home.

`--target spark` builds the same models on Spark (docs/scaling.md, "dbt on Spark"): every
model rebuilt whole, into <home>/spark/; nothing is published (the catalog is DuckDB's),
and the summary says where the Spark tables are.
"""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-s", "--select", nargs="+", help="dbt node selection, e.g. rpt_campaign_daily+"
    )
    parser.add_argument("--exclude", nargs="+", help="dbt nodes to leave out")
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild incremental models from the whole lake instead of what changed",
    )
    parser.add_argument("--vars", type=json.loads, help="dbt vars as JSON, e.g. '{\"a\": 1}'")
    parser.add_argument(
        "--warn-error",
        action="store_true",
        help="fail on dbt warnings and warn-severity tests (CI does)",
    )
    parser.add_argument(
        "--no-publish", action="store_true", help="build only; keep the published catalog"
    )
    parser.add_argument(
        "--target",
        help="dbt target of dbt_project/profiles.yml: dev (DuckDB, the default) or spark "
        "(the same models on Spark, not published); default $BIDLAKE_DBT_TARGET or dev",
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bidlake.paths import home
    from warehouse.build import BuildEvent, UnknownTargetError, build
    from warehouse.locking import WarehouseBusyError
    from warehouse.publish import PublishError

    console = Console(stderr=True)
    target = home()
    with Progress(
        TextColumn(f"[bold]dbt build[/bold] {args.target or ''}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("starting dbt", total=None)

        def on_event(event: BuildEvent) -> None:
            if event.kind == "start":
                progress.update(task, total=event.total, description=event.name)
            else:
                progress.update(task, total=event.total, completed=event.index)

        try:
            result = build(
                select=args.select,
                exclude=args.exclude,
                vars=args.vars,
                full_refresh=args.full_refresh,
                warn_error=args.warn_error or None,
                publish=not args.no_publish,
                home=target,
                on_event=on_event,
                target=args.target,
            )
        except WarehouseBusyError as exc:
            console.print(f"[red]{exc}[/red]")
            return 2
        except UnknownTargetError as exc:
            console.print(f"[red]{exc}[/red]")
            return 2
        except PublishError as exc:
            console.print(f"[red]publication failed:[/red] {exc}", soft_wrap=True)
            console.print("dbt's models are built; the next `bidlake build` publishes them")
            return 1
    _summary(console, target.root, result)
    return 0 if result.success else 1


def _summary(console: object, root: object, result: object) -> None:
    from rich.console import Console
    from rich.table import Table

    from warehouse.build import BuildResult

    assert isinstance(console, Console) and isinstance(result, BuildResult)
    on = "" if result.adapter == "duckdb" else f" on {result.adapter} (target {result.target})"
    table = Table(title=f"dbt build of {root}{on}", title_justify="left")
    for column in ("", "ran", "passed", "failed", "seconds"):
        table.add_column(column, justify="right" if column else "left")
    kinds = {"model": "models", "test": "data tests", "unit_test": "unit tests"}
    for kind, label in kinds.items():
        nodes = [n for n in result.nodes if n.resource_type == kind]
        if nodes:
            failed = sum(1 for n in nodes if not n.ok)
            table.add_row(
                label,
                str(len(nodes)),
                str(len(nodes) - failed),
                f"[red]{failed}[/red]" if failed else "0",
                f"{sum(n.seconds for n in nodes):.1f}",
            )
    console.print(table)
    if result.error:
        console.print(f"[red]dbt could not run:[/red] {result.error}")
    for node in result.failed[:10]:
        message = " ".join(node.message.split())[:300]
        console.print(f"[red]{node.status}[/red] {node.resource_type} {node.name}: {message}")
    if len(result.failed) > 10:
        console.print(f"... and {len(result.failed) - 10} more (see <home>/build/logs/dbt.log)")
    publication = result.publication
    if result.adapter == "spark":
        _spark_summary(console, root, result)
    elif publication is not None:
        written = sum(r.files_written for r in publication.relations)
        rows = sum(r.rows_written for r in publication.relations)
        console.print(
            f"[green]published[/green] {publication.publication_id}: "
            f"{len(publication.relations)} relations, {written} new files, {rows:,} rows, "
            f"{publication.elapsed_s:.1f} s; dbt {result.dbt_seconds:.1f} s"
        )
        console.print('query it: bidlake sql "select * from rpt_campaign_daily"')
    elif result.success:
        console.print(f"built in {result.dbt_seconds:.1f} s; not published (--no-publish)")
    else:
        console.print("[red]build failed[/red]: the published catalog is unchanged")


def _spark_summary(console: object, root: object, result: object) -> None:
    """Where a Spark build's tables are: the catalog is DuckDB's and stays as it was."""
    from pathlib import Path

    from rich.console import Console

    from bidlake.paths import Home
    from warehouse.build import BuildResult, spark_dir, spark_tables, spark_warehouse

    assert isinstance(console, Console) and isinstance(result, BuildResult)
    if not result.success:
        console.print("[red]build failed[/red]: the Spark tables are as the failed run left them")
        return
    home = Home(Path(str(root)))
    marts = [t for t in spark_tables(home) if t.split(".")[0] in ("reporting", "features")]
    console.print(
        f"built on Spark in {result.dbt_seconds:.1f} s: {len(marts)} marts as Parquet tables "
        f"under {spark_warehouse(home)}/<schema>.db/<table>/ (metastore "
        f"{spark_dir(home) / 'metastore_db'}); the read-only catalog is DuckDB's: not published",
        soft_wrap=True,
    )
    console.print(
        "query them with Spark SQL (select * from reporting.rpt_campaign_daily, in a session "
        "with this home's profile) or read the Parquet folders with any Parquet reader",
        soft_wrap=True,
    )
