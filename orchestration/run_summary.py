"""The one-screen summary `bidlake run` ends with: what each stage did, and where to look.

Everything in it comes from the runs' own records — materialization metadata and check
evaluations — plus, after a build, a campaign report read from the published read-only
catalog, so the summary shows what the platform stored, not what the CLI believes.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bidlake.paths import home
from orchestration.run_stages import MAIN_RUN_TAG, Stage

UI_URL = "http://127.0.0.1:3000"


def _n(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}"
    return str(value)


def _figures(stage: Stage) -> list[str]:
    m = stage.materializations
    if stage.name == "simulate" and "landing/simulated_logs" in m:
        s = m["landing/simulated_logs"]
        return [
            f"{_n(s.get('hours'))} h from {s.get('window_start')} "
            f"at {_n(s.get('rate_per_s'))} req/s",
            f"{_n(s.get('bid_requests'))} requests, {_n(s.get('bids'))} bids, "
            f"{_n(s.get('impressions'))} impressions, {_n(s.get('clicks'))} clicks, "
            f"{_n(s.get('conversions'))} conversions in {_n(s.get('files'))} log files",
        ]
    if stage.name == "ingest":
        lines = []
        for key in sorted(k for k in m if k.startswith("raw/")):
            c = m[key]
            lines.append(
                f"{key}: {_n(c.get('raw'))} rows"
                + (f", {_n(c.get('quarantined'))} quarantined" if c.get("quarantined") else "")
                + (f", {_n(c.get('duplicates'))} duplicates" if c.get("duplicates") else "")
                + (
                    f" ({_n(c.get('files_already_ingested'))} files were already in the lake)"
                    if c.get("files_already_ingested")
                    else ""
                )
            )
        return lines + _check_lines(stage)
    if stage.name == "build":
        models = [k for k in m if not k.startswith(("raw/", "landing/"))]
        return [f"{len(models)} dbt models built", *_check_lines(stage)]
    if stage.name == "train":
        lines = []
        for name in ("ctr", "cvr"):
            r = m.get(f"models/{name}")
            if not r:
                gate = [c for c in stage.checks if c[0] == f"models/{name}:quality_gate"]
                if gate:
                    lines.append(f"{name}: {gate[0][3]}")
                continue
            model = (
                f"AUC {_n(r.get('holdout_auc'))}, log loss {_n(r.get('holdout_log_loss'))}, "
                f"calibration {_n(r.get('holdout_calibration'))}"
            )
            oracle = (
                f" | oracle AUC {_n(r.get('oracle_auc'))}, log loss {_n(r.get('oracle_log_loss'))}"
                if r.get("oracle_auc") is not None
                else ""
            )
            # The gate's own words: "kept current: …" or "not promoted: no better than …".
            verdict = "promoted" if r.get("promoted") else str(r.get("gate_reason", "not promoted"))
            lines.append(f"{name} {r.get('version')}: {model}{oracle} — {verdict}")
        return lines
    if stage.name == "export-reporting" and m:
        r = next(iter(m.values()))
        return [f"{_n(r.get('rows'))} rows to {r.get('database')} schema {r.get('schema')}"]
    if stage.name == "replay" and m:
        r = next(iter(m.values()))
        keys = ("requests", "bids", "wins", "clicks", "conversions")
        return [
            ", ".join(f"{_n(r[k])} {k}" for k in keys if k in r),
            f"bidder latency p50 {_n(r.get('latency_p50_ms'))} ms, "
            f"p99 {_n(r.get('latency_p99_ms'))} ms",
            f"{_n(r.get('log_files'))} tracking-log files left in landing/ for the landing "
            "sensor (runs with `bidlake ui`)",
        ]
    return []


def _check_lines(stage: Stage) -> list[str]:
    if not stage.checks:
        return []
    passed = sum(1 for c in stage.checks if c[1])
    lines = [f"checks: {passed}/{len(stage.checks)} passed"]
    lines += [f"  FAILED {key} ({sev}): {text}" for key, ok, sev, text in stage.checks if not ok][
        :5
    ]
    return lines


def campaign_report() -> RenderableType | None:
    """Totals per campaign from the published catalog, or None when there is none."""
    try:
        from warehouse.catalog import connect_read_only
    except ImportError:
        return None
    try:
        con = connect_read_only()
        try:
            rows = con.execute(
                "select campaign_id, sum(impressions), sum(clicks), sum(conversions), "
                "sum(spend_micros) from rpt_campaign_daily group by campaign_id order by 1"
            ).fetchall()
        finally:
            con.close()
    except Exception as exc:  # the summary must not hide the stages behind a query error
        return Text(f"campaign report unavailable: {str(exc).splitlines()[0]}", style="yellow")
    table = Table(title="campaigns (rpt_campaign_daily)", title_justify="left")
    for column in ("campaign", "impressions", "clicks", "CTR", "conversions", "spend", "eCPC"):
        table.add_column(column, justify="left" if column == "campaign" else "right")
    for campaign, imps, clicks, convs, spend in rows:
        imps, clicks, convs, spend = (
            int(imps or 0),
            int(clicks or 0),
            int(convs or 0),
            int(spend or 0),
        )
        table.add_row(
            str(campaign),
            f"{imps:,}",
            f"{clicks:,}",
            f"{clicks / imps:.3%}" if imps else "—",
            f"{convs:,}",
            f"${spend / 1e6:,.2f}",
            f"${spend / 1e6 / clicks:,.2f}" if clicks else "—",
        )
    return table


def render(stages: list[Stage], main_run_id: str, total_seconds: float) -> RenderableType:
    table = Table(title=f"bidlake run {main_run_id} — {total_seconds:.0f} s", title_justify="left")
    table.add_column("stage")
    table.add_column("status")
    table.add_column("time", justify="right")
    table.add_column("what happened")
    colours = {"succeeded": "green", "failed": "red", "skipped": "yellow"}
    for stage in stages:
        lines = _figures(stage) if stage.status in ("succeeded", "failed") else []
        if stage.reason:
            lines = [stage.reason, *lines]
        table.add_row(
            stage.name,
            Text(stage.status, style=colours.get(stage.status, "dim")),
            f"{stage.seconds:.1f} s" if stage.seconds else "",
            "\n".join(lines),
        )
    root = home().root
    report = (
        campaign_report()
        if any(s.name == "build" and s.status == "succeeded" for s in stages)
        else None
    )
    next_steps = Text.from_markup(
        "[bold]where to look next[/]\n"
        f"  bidlake ui   → {UI_URL}/runs (these runs: tag {MAIN_RUN_TAG}={main_run_id}), "
        f"{UI_URL}/asset-groups (lineage, partitions, checks)\n"
        '  bidlake sql "select * from rpt_campaign_daily"   (the read-only catalog)\n'
        f"  models and their plots: {root / 'models'}/<ctr|cvr>/CURRENT, reliability.png, roc.png\n"
        f"  lake: {root / 'lake' / 'raw'}   quarantine: {root / 'lake' / 'quarantine'}\n"
        f"  Dagster instance: {root / 'dagster'}"
    )
    blocks: list[RenderableType] = [table]
    if report is not None:
        blocks.append(report)
    blocks.append(next_steps)
    return Group(*blocks)
