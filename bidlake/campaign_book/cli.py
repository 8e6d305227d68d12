"""`bidlake campaigns`: read and change the campaign book; every change is versioned.

    bidlake campaigns list [--status paused] [--format json]
    bidlake campaigns show cmp-101
    bidlake campaigns create campaign.json            (or - for stdin, or --json '{…}')
    bidlake campaigns update cmp-101 --set daily_budget_micros=500000000 --set targeting.hours=[8,9]
    bidlake campaigns update cmp-101 --patch '{"targeting": {"countries": ["US"]}}'
    bidlake campaigns pause cmp-101 --by alice --note "creative review"
    bidlake campaigns resume cmp-101
    bidlake campaigns import book.json [--replace]
    bidlake campaigns export [book.json]              (stdout without a file)
    bidlake campaigns history [cmp-101] [--limit 20] [--format json]
    bidlake campaigns version | migrate | dbt-export [FILE]

The database is $BIDLAKE_CAMPAIGNS_URL, else $BIDLAKE_HOME/campaigns.sqlite3 (`--url`
overrides both). Changes are signed `--by` (default $USER). Exit status: 0 done (or
nothing to change), 1 no such campaign, 2 refused (the message names the field).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FORMATS = ("table", "json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        help="the book's database (default $BIDLAKE_CAMPAIGNS_URL, else "
        "sqlite:///$BIDLAKE_HOME/campaigns.sqlite3)",
    )
    writing = argparse.ArgumentParser(add_help=False, parents=[common])
    writing.add_argument("--by", help="who makes the change (default $USER)")
    writing.add_argument("--note", default="", help="why, kept in the history")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = sub.add_parser("list", parents=[common], help="the campaigns of the book")
    p.add_argument("--status", choices=("active", "paused"))
    p.add_argument("--format", choices=FORMATS, default="table")

    p = sub.add_parser("show", parents=[common], help="one campaign, in the JSON format")
    p.add_argument("campaign_id")

    p = sub.add_parser("create", parents=[writing], help="add a campaign from JSON")
    p.add_argument("file", nargs="?", help="a JSON file with one campaign, or - for stdin")
    p.add_argument("--json", dest="inline", help="the campaign as a JSON string")

    p = sub.add_parser("update", parents=[writing], help="change fields of a campaign")
    p.add_argument("campaign_id")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a field (dotted for targeting.*), VALUE as JSON (a bare word is a string)",
    )
    p.add_argument("--patch", help="a JSON merge patch (RFC 7386); null resets a field")
    p.add_argument("--patch-file", type=Path, help="a JSON merge patch in a file")

    for name, what in (("pause", "stop bidding (within a bidder's poll)"), ("resume", "bid again")):
        p = sub.add_parser(name, parents=[writing], help=what)
        p.add_argument("campaign_id")

    p = sub.add_parser("import", parents=[writing], help="bring the book in line with a file")
    p.add_argument("file", type=Path)
    p.add_argument(
        "--replace", action="store_true", help="also delete the campaigns the file lacks"
    )

    p = sub.add_parser("export", parents=[common], help="the book in the JSON format")
    p.add_argument("file", nargs="?", type=Path, help="default: stdout")

    p = sub.add_parser("history", parents=[common], help="who changed what, when")
    p.add_argument("campaign_id", nargs="?")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--format", choices=FORMATS, default="table")

    sub.add_parser("version", parents=[common], help="the book's version number")
    sub.add_parser("migrate", parents=[common], help="create or upgrade the schema (and seed)")
    p = sub.add_parser("dbt-export", parents=[common], help="write the history file dbt reads")
    p.add_argument("file", nargs="?", type=Path, help="default $BIDLAKE_HOME/campaign_book/…")


def run(args: argparse.Namespace) -> int:
    from bidlake.campaign_book.migrate import SchemaError
    from bidlake.campaign_book.store import UnknownCampaign, opened
    from bidlake.campaigns import CampaignConfigError

    try:
        with opened(args.url) as store:
            return int(_ACTIONS[args.action](store, args) or 0)
    except CampaignConfigError as exc:
        print(f"bidlake campaigns: refused: {exc}", file=sys.stderr)
        return 2
    except UnknownCampaign as exc:
        print(f"bidlake campaigns: {exc.args[0]}", file=sys.stderr)
        return 1
    except SchemaError as exc:
        print(f"bidlake campaigns: {exc}", file=sys.stderr)
        return 2


# ---- actions ----


def _list(store: Any, args: argparse.Namespace) -> None:
    state = store.state()
    docs = [d for d in state.campaigns if not args.status or _status(d) == args.status]
    if args.format == "json":
        print(json.dumps(docs, indent=2, ensure_ascii=False))
        return
    rows = [
        (
            d["campaign_id"],
            d["advertiser_id"],
            _status(d),
            d["goal"],
            _money(d["goal_micros"]),
            _money(d["max_bid_cpm_micros"]),
            _money(d["daily_budget_micros"]),
            str(len(d["creatives"])),
            d["name"],
        )
        for d in docs
    ]
    header = (
        "campaign",
        "advertiser",
        "status",
        "goal",
        "pays",
        "max cpm",
        "budget/day",
        "cr",
        "name",
    )
    _table(header, rows)
    print(f"book version {state.version} ({len(docs)} campaigns, {state.currency})")


def _show(store: Any, args: argparse.Namespace) -> None:
    doc = store.get(args.campaign_id)
    info = store.info(args.campaign_id)
    print(json.dumps(doc, indent=2, ensure_ascii=False))
    print(
        f"# status {info['status']}, last changed at book version {info['version']} "
        f"({info['updated_at']}); created {info['created_at']}",
        file=sys.stderr,
    )


def _create(store: Any, args: argparse.Namespace) -> None:
    from bidlake.campaigns import CampaignConfigError

    if args.inline:
        text, where = args.inline, "--json"
    elif args.file:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text()
        where = args.file
    else:
        raise CampaignConfigError("create: give a JSON file, - for stdin, or --json")
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise CampaignConfigError(f"{where}: not JSON: {exc}") from exc
    _report(store.create(raw, by=args.by, note=args.note))


def _update(store: Any, args: argparse.Namespace) -> None:
    from bidlake.campaign_book.store import apply_patch
    from bidlake.campaigns import CampaignConfigError

    patch: dict[str, Any] = {}
    for source, text in (("--patch", args.patch), ("--patch-file", args.patch_file)):
        if text is None:
            continue
        try:
            loaded = json.loads(text if source == "--patch" else Path(text).read_text())
        except (OSError, ValueError) as exc:
            raise CampaignConfigError(f"{source}: not a JSON object: {exc}") from exc
        if not isinstance(loaded, dict):
            raise CampaignConfigError(f"{source}: a merge patch is a JSON object")
        patch = apply_patch(patch, loaded)  # type: ignore[assignment]
    if args.set:
        current = store.get(args.campaign_id)
        for assignment in args.set:
            path, value = _assignment(assignment, current)
            patch = apply_patch(patch, _nested(path, value))  # type: ignore[assignment]
    if not patch:
        raise CampaignConfigError("update: nothing to change (--set FIELD=VALUE or --patch)")
    _report(store.update(args.campaign_id, patch, by=args.by, note=args.note), args.campaign_id)


def _pause(store: Any, args: argparse.Namespace) -> None:
    change = store.set_status(args.campaign_id, "paused", by=args.by, note=args.note)
    _report(change, args.campaign_id)


def _resume(store: Any, args: argparse.Namespace) -> None:
    change = store.set_status(args.campaign_id, "active", by=args.by, note=args.note)
    _report(change, args.campaign_id)


def _import(store: Any, args: argparse.Namespace) -> None:
    from bidlake.campaigns import read_book

    changes = store.import_book(
        read_book(args.file, strict=True), by=args.by, note=args.note, replace=args.replace
    )
    if not changes:
        print(f"{args.file}: the book already matches it (version {store.version()})")
        return
    for change in changes:
        _report(change)


def _export(store: Any, args: argparse.Namespace) -> None:
    from bidlake.atomic_files import atomic_write

    state = store.state()
    text = state.to_file().to_json()
    if args.file is None:
        sys.stdout.write(text)
    else:
        atomic_write(args.file, text)
        print(f"{args.file}: {len(state.campaigns)} campaigns, book version {state.version}")


def _history(store: Any, args: argparse.Namespace) -> None:
    from bidlake.campaign_book.store import UnknownCampaign

    changes = store.history(args.campaign_id, args.limit)
    if args.campaign_id and not changes:
        raise UnknownCampaign(f"no campaign {args.campaign_id!r} in the book, ever")
    if args.format == "json":
        print(json.dumps([c.to_json() for c in changes], indent=2, ensure_ascii=False))
        return
    for change in changes:
        _report(change)


def _version(store: Any, args: argparse.Namespace) -> None:
    print(store.version())


def _migrate(store: Any, args: argparse.Namespace) -> None:
    from bidlake.campaign_book import migrate
    from bidlake.redact import redact_url

    did = store.ensure_ready()
    print(
        f"{redact_url(store.url)}: schema {migrate.HEAD}, book version {store.version()}"
        + (" (migrated/seeded now)" if did else " (already up to date)")
    )


def _dbt_export(store: Any, args: argparse.Namespace) -> None:
    from bidlake.campaign_book.config import history_export_path

    path = store.export_history(args.file or history_export_path())
    print(f"{path}: the book's history for dbt, at version {store.version()}")


_ACTIONS = {
    "list": _list,
    "show": _show,
    "create": _create,
    "update": _update,
    "pause": _pause,
    "resume": _resume,
    "import": _import,
    "export": _export,
    "history": _history,
    "version": _version,
    "migrate": _migrate,
    "dbt-export": _dbt_export,
}


# ---- helpers ----


def _status(doc: dict) -> str:
    return str(doc.get("status", "active"))


def _money(micros: int) -> str:
    return f"{micros / 1_000_000:,.2f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    for line in (header, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def _assignment(text: str, current: dict) -> tuple[list[str], object]:
    """FIELD=VALUE -> (path, value). VALUE is JSON, except that a field holding a string
    takes the text as it is (`--set name=2025` names it "2025")."""
    from bidlake.campaigns import CampaignConfigError

    field, sep, raw = text.partition("=")
    if not sep or not field.strip():
        raise CampaignConfigError(f"--set {text!r}: expected FIELD=VALUE", field)
    path = field.strip().split(".")
    target: object = current
    for key in path:
        target = target.get(key) if isinstance(target, dict) else None
    try:
        value: object = json.loads(raw)
    except ValueError:
        value = raw
    if isinstance(target, str) and not isinstance(value, str):
        value = raw
    if value is None:
        raise CampaignConfigError(f"--set {field}: null is not a value (use --patch to reset)")
    return path, value


def _nested(path: list[str], value: object) -> dict:
    out: object = value
    for key in reversed(path):
        out = {key: out}
    assert isinstance(out, dict)
    return out


def _report(change: Any, campaign_id: str = "") -> None:
    if change is None:
        print(f"{campaign_id}: nothing to change")
        return
    what = change.campaign_id or "(book)"
    note = f" - {change.note}" if change.note else ""
    when = change.changed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    print(f"v{change.book_version} {when} {change.changed_by}: {change.action} {what}{note}")
    if change.action in ("create", "seed") or (change.action == "import" and not change.before):
        return
    for path, before, after in change.diff():
        print(f"    {path}: {_short(before)} -> {_short(after)}")


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."
