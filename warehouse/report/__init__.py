"""`bidlake report`: one self-contained HTML page on how the platform is doing.

    bidlake report            # -> $BIDLAKE_HOME/reports/report-<UTC timestamp>.html

What it shows (each section says where its numbers come from, with its SQL):
- the funnel, requests → bids → wins → clicks → conversions, with spend, eCPC and CPA;
- spend, win rate, eCPC and CPA per campaign, and per campaign and day;
- the current CTR model on its holdout (from the registry ml writes: eval.json's metrics
  and deciles, its ROC plot) beside the simulator's oracle;
- the CTR model in the auction: the pCTR the bidder logged with each bid it won, joined
  in SQL to clicks — its calibration (reliability diagram) and ROC;
- "not measured yet" placeholders for the loop day by day, strategies and bid shading.

Data: SQL over the published catalog (`warehouse.catalog.connect_read_only()`), so it
never blocks or waits for a build; the registry is read as files (the warehouse does not
import ml). The page has no script and fetches nothing: CSS inline, charts as SVG data
URIs (`warehouse.report.plots`), so it can be mailed or opened from a file share.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bidlake.atomic_files import atomic_write
from bidlake.paths import Home
from bidlake.paths import home as current_home


def collect(home: Home | None = None, now: datetime | None = None):  # -> ReportData
    """Everything the page shows, read now."""
    from warehouse.catalog import CatalogNotPublishedError, connect_read_only
    from warehouse.report import data
    from warehouse.report.page import ReportData

    h = home or current_home()
    generated = now or datetime.now(UTC)
    current_ctr = data.current_version(h.models, "ctr")
    common = {
        "generated_at": generated,
        "home": h.root,
        "holdout": data.holdout(h.models, "ctr"),
        "registry": data.registry(h.models),
        "current_ctr": current_ctr,
    }
    try:
        con = connect_read_only(h)
    except CatalogNotPublishedError as exc:
        return ReportData(catalog_error=str(exc), **common)  # type: ignore[arg-type]
    try:
        return ReportData(
            publication=data.publication(con),
            funnel=data.funnel(con),
            campaigns=data.campaigns(con),
            days=data.campaign_days(con),
            live=data.live(con, current_ctr),
            auction_types=data.auction_types(con),
            **common,  # type: ignore[arg-type]
        )
    finally:
        con.close()


def report_path(folder: Path, now: datetime) -> Path:
    """`report-<YYYYMMDDTHHMMSSZ>.html`, with a suffix if that second already has one."""
    stem = f"report-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    path, n = folder / f"{stem}.html", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.html"
    return path


def write_report(
    home: Home | None = None, out: Path | None = None, now: datetime | None = None
) -> Path:
    """Writes the report (atomically) and returns its path; `out` defaults to
    `<home>/reports`."""
    from warehouse.report.page import render

    h = home or current_home()
    generated = now or datetime.now(UTC)
    folder = out or h.root / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    page = render(collect(h, generated))
    return atomic_write(report_path(folder, generated), page)


__all__ = ["collect", "report_path", "write_report"]
