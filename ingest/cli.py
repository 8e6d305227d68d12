"""`bidlake ingest [DIR] [--watch] [--compact]`: tracking logs -> the raw lake.

Exit status: 0 when every record of every source is accounted for (raw, quarantine or
duplicate); 1 when some file could not be read (it is retried by the next run); 2 for a
usage error such as a DIR that does not exist; 3 when the lake could not be written (disk
full, permission denied): the batches committed before stay, the failed one left nothing
visible, and a rerun once the cause is fixed completes it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # heavy imports stay inside run(): `bidlake --help` must be quick
    from rich.console import Console

    from ingest.compaction import CompactionReport
    from ingest.pipeline import IngestReport


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir",
        nargs="?",
        type=Path,
        help="landing folder: <dir>/<event_type>/<file>.{jsonl,jsonl.gz,pb,pb.gz} "
        "(default: $BIDLAKE_HOME/landing)",
    )
    parser.add_argument(
        "--watch", action="store_true", help="keep polling for new closed files until Ctrl-C"
    )
    parser.add_argument(
        "--interval", type=float, default=10.0, help="seconds between polls with --watch"
    )
    parser.add_argument(
        "--compact",
        action="store_true",
        help="then merge small files per partition and delete files retired longer than "
        "the grace period (with --watch: every --compact-every seconds)",
    )
    parser.add_argument("--compact-every", type=float, default=900.0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--grace-seconds",
        type=float,
        default=600.0,
        help="how long compacted-away files stay for readers that listed them (default 600)",
    )
    parser.add_argument(
        "--dedup-horizon-hours",
        type=int,
        default=1,
        help="look for an event_id already in the lake within this many hours of the "
        "event's own hour (default 1)",
    )
    parser.add_argument(
        "--batch-mb",
        type=int,
        default=1024,
        help="decompressed input per atomic batch, MB (bounds memory; default 1024)",
    )
    parser.add_argument(
        "--max-rejects-per-file",
        type=int,
        default=10_000,
        help="past this many refused records, a file is quarantined whole instead of record "
        "by record (default 10000)",
    )
    kafka = parser.add_argument_group(
        "Kafka", "consume the event topics instead of a landing folder (ingest/kafka_source.py)"
    )
    kafka.add_argument(
        "--kafka", metavar="BOOTSTRAP", help="the cluster's bootstrap servers, host:port[,...]"
    )
    kafka.add_argument("--group", default="bidlake-ingest", help="consumer group (bidlake-ingest)")
    kafka.add_argument("--once", action="store_true", help="stop when caught up (a drain)")
    kafka.add_argument(
        "--assign",
        action="store_true",
        help="take every partition without joining the group: no rebalance wait; for a "
        "single drainer, never beside members of the same group",
    )
    kafka.add_argument("--max-seconds", type=float, default=None, help="stop after this long")
    kafka.add_argument(
        "--batch-messages", type=int, default=500_000, help="messages per lake commit (500000)"
    )
    kafka.add_argument(
        "--batch-seconds", type=float, default=60.0, help="seconds per lake commit at most (60)"
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from bidlake.paths import home as current_home

    console = Console(soft_wrap=True)  # long paths stay on one line (greppable logs)
    if args.kafka:
        from ingest.kafka_source import run_cli

        return run_cli(args, console.print)
    home = current_home()
    if args.dir is not None and not args.dir.exists():
        console.print(f"[red]bidlake ingest: {args.dir} does not exist[/red]")
        return 2
    if args.dir is not None and not args.dir.is_dir():
        console.print(f"[red]bidlake ingest: {args.dir} is not a folder[/red]")
        return 2
    landing = args.dir if args.dir is not None else home.landing
    if not args.watch:
        try:
            if not landing.exists():
                console.print(f"nothing to ingest: {landing} does not exist yet")
                code = 0
            else:
                code = _once(args, landing, console).exit_code
            if args.compact:
                _print_compaction(console, _compact(args))
        except OSError as exc:
            return _stopped(console, exc)
        return code
    return _watch(args, landing, console)


WRITE_FAILED = 3


def _stopped(console: Console, exc: OSError) -> int:
    """Say which file could not be written and why, and what is left; exit status 3."""
    console.print(
        f"[red]bidlake ingest: stopped by a file system error: {exc}[/red]\n"
        "The batches committed before it are in the lake; the failed batch left nothing "
        "visible and its files stay in the landing folder. Free space or fix the "
        "permission, then run it again."
    )
    return WRITE_FAILED


def _ingest_kwargs(args: argparse.Namespace) -> dict[str, object]:
    return {
        "dedup_horizon_hours": args.dedup_horizon_hours,
        "batch_bytes": args.batch_mb << 20,
        "max_rejects_per_file": args.max_rejects_per_file,
    }


def _once(args: argparse.Namespace, landing: Path, console: Console) -> IngestReport:
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from ingest.pipeline import ingest
    from ingest.sources import discover

    total = sum(_size(p) for p in discover(landing))
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("ingesting", total=total)

        def progress(step: int, what: str) -> None:
            bar.update(task, advance=step, description=f"ingesting {what}")

        report = ingest(landing, progress=progress, **_ingest_kwargs(args))  # type: ignore[arg-type]
    _print_report(console, report, landing)
    return report


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size  # a symlink is never followed, not even to size it
    except OSError:
        return 0  # reported by ingest itself


def _compact(args: argparse.Namespace) -> CompactionReport:
    from ingest.compaction import compact

    return compact(grace_seconds=args.grace_seconds)


def _watch(args: argparse.Namespace, landing: Path, console: Console) -> int:
    from ingest.pipeline import ingest

    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        console.print("stopping after the current batch ...")
        stop.set()

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    told: set[str] = set()
    last_compaction = time.monotonic()
    console.print(f"watching {landing} every {args.interval:g}s (Ctrl-C to stop)")
    try:
        while not stop.is_set():
            if landing.exists():
                try:
                    report = ingest(landing, **_ingest_kwargs(args))  # type: ignore[arg-type]
                except OSError as exc:  # a full disk: say so, and try again next poll
                    code = _stopped(console, exc)
                    stop.wait(args.interval)
                    continue
                # An unreadable file is retried every poll; say so once, not every time.
                failed = {str(s.path) for s in report.sources if s.status == "failed"}
                news = [
                    s
                    for s in report.sources
                    if s.status not in ("already_ingested", "failed") or str(s.path) not in told
                ]
                told |= failed
                if news:
                    _print_report(console, report, landing, brief=True)
                if report.exit_code:
                    code = report.exit_code
            if args.compact and time.monotonic() - last_compaction >= args.compact_every:
                compaction = _compact(args)
                if compaction.files_in or compaction.deleted:
                    _print_compaction(console, compaction)
                last_compaction = time.monotonic()
            stop.wait(args.interval)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code


def _print_report(
    console: Console, report: IngestReport, landing: Path, brief: bool = False
) -> None:
    from rich.table import Table

    new = [s for s in report.sources if s.status not in ("already_ingested",)]
    skipped = len(report.sources) - len(new)
    totals = report.totals()
    rate = totals["records"] / report.seconds if report.seconds else 0.0
    mb = report.bytes_read / 1e6
    head = (
        f"{landing}: {len(new)} new file(s), {skipped} already ingested; "
        f"{totals['records']:,} records in {report.seconds:.1f}s "
        f"({rate:,.0f} records/s, {mb / max(report.seconds, 1e-9):,.1f} MB/s)"
    )
    if report.recovered:
        head += f"; completed {len(report.recovered)} interrupted commit(s)"
    if brief:
        console.print(
            f"{time.strftime('%H:%M:%S')} {head}; raw {totals['raw']:,}, "
            f"quarantined {totals['quarantined']:,}, duplicates {totals['duplicates']:,}"
        )
    else:
        console.print(head)
        by_type: dict[str, list[int]] = {}
        for s in new:
            row = by_type.setdefault(s.event_type or "(none)", [0, 0, 0, 0, 0])
            for k, v in enumerate((1, s.records, s.raw, s.quarantined, s.duplicates)):
                row[k] += v
        if by_type:
            table = Table(title="ingested (records = raw + quarantined + duplicates)")
            for name in ("event type", "files", "records", "raw", "quarantined", "duplicates"):
                table.add_column(name, justify="left" if name == "event type" else "right")
            for event_type, row in sorted(by_type.items()):
                table.add_row(event_type, *(f"{v:,}" for v in row))
            table.add_row(
                "total",
                f"{len(new):,}",
                *(f"{totals[k]:,}" for k in ("records", "raw", "quarantined", "duplicates")),
                style="bold",
            )
            console.print(table)
    problems = [
        s for s in new if s.status in ("failed", "file_quarantined", "refused") or s.warnings
    ]
    for s in problems[:10]:
        colour = "red" if s.status == "failed" else "yellow"
        what = s.message or "; ".join(s.warnings)
        console.print(f"[{colour}]{s.status} {s.error_code or 'warning'}[/{colour}]: {what}")
    if len(problems) > 10:
        console.print(f"... and {len(problems) - 10} more problem file(s); see the ledger")
    unaccounted = [s for s in report.sources if not s.accounted]
    if unaccounted:
        console.print(
            f"[red]{len(unaccounted)} file(s) not accounted for: they stay in the landing "
            f"folder and are tried again by the next run[/red]"
        )
    if not brief and totals["quarantined"]:
        console.print(f"quarantined records: read_parquet('{_quarantine_glob()}')")


def _quarantine_glob() -> str:
    from bidlake.paths import home as current_home

    return str(current_home().quarantine / "records" / "*.parquet")


def _print_compaction(console: Console, report: CompactionReport) -> None:
    console.print(
        f"compaction: {report.files_in} file(s) in {report.partitions} partition(s) -> "
        f"{report.files_out} file(s), {report.rows:,} rows, "
        f"{report.bytes_in / 1e6:,.1f} MB -> {report.bytes_out / 1e6:,.1f} MB in "
        f"{report.seconds:.1f}s; {len(report.deleted)} retired file(s) deleted"
    )


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(prog="bidlake ingest")
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
