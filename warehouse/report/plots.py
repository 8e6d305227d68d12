"""The report's charts: matplotlib figures as SVG data URIs (`<img src="data:…">`).

SVG keeps them sharp at any zoom and small; matplotlib draws text as paths, so no font
is needed to view them, and a data URI keeps each chart's internal ids to itself (two
inline SVGs of one page would share ids). Nothing is fetched when the page is opened.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from warehouse.report.data import Bin, CampaignDay

COLORS = ("#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#65a30d", "#db2777")


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, alpha=0.25)
    return fig, ax


def _uri(fig: Figure) -> str:
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "path"}):
        fig.tight_layout()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def funnel(stages: Sequence[str], counts: Sequence[int]) -> str:
    """Horizontal bars on a log scale: each stage is a small fraction of the one before."""
    fig, ax = _figure(6.2, 2.6)
    y = list(range(len(stages)))[::-1]
    bars = ax.barh(y, [max(c, 0.8) for c in counts], color=COLORS[0], height=0.6)
    ax.set_xscale("log")
    ax.set_yticks(y, list(stages))
    ax.set_xlim(0.8, max(max(counts), 1) * 8)
    for bar, count in zip(bars, counts, strict=True):
        ax.annotate(
            f"{count:,}",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    ax.set_xlabel("events (log scale)")
    ax.grid(False, axis="y")
    return _uri(fig)


def spend(labels: Sequence[str], spend_usd: Sequence[float]) -> str:
    fig, ax = _figure(7.5, 0.45 * len(labels) + 1.0)
    y = list(range(len(labels)))[::-1]
    bars = ax.barh(y, spend_usd, color=COLORS[1], height=0.6)
    ax.set_yticks(y, list(labels))
    ax.set_xlim(0, max(max(spend_usd, default=0), 0.01) * 1.2)
    for bar, value in zip(bars, spend_usd, strict=True):
        ax.annotate(
            f"${value:,.2f}",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    ax.set_xlabel("spend, USD")
    ax.grid(False, axis="y")
    return _uri(fig)


def by_day(rows: Sequence[CampaignDay], metric: str, label: str) -> str:
    """One line per campaign of `metric` (an attribute of CampaignDay) by day, over the
    days with spend (a later day holds only late clicks and conversions)."""
    fig, ax = _figure(5.6, 3.0)
    days = sorted({r.report_date for r in rows if r.spend_micros > 0})
    position = {day: i for i, day in enumerate(days)}
    campaigns = sorted({r.campaign_id for r in rows})
    for i, campaign in enumerate(campaigns):
        points = [
            (position[r.report_date], getattr(r, metric))
            for r in rows
            if r.campaign_id == campaign
            and r.report_date in position
            and r.spend_micros > 0
            and getattr(r, metric) is not None
        ]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", label=campaign, color=COLORS[i % len(COLORS)])
    ax.set_xticks(range(len(days)), [d.isoformat() for d in days])
    ax.set_xlim(-0.3, max(len(days) - 0.7, 0.3))
    ax.set_ylim(bottom=0)
    ax.set_ylabel(label)
    ax.legend(fontsize=8, ncols=min(4, max(len(campaigns), 1)), loc="lower left")
    return _uri(fig)


def reliability(curves: dict[str, Sequence[Bin]], title: str) -> str:
    """Observed rate against mean prediction per bin, log-log; the diagonal is perfect."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    fig, ax = _figure(4.6, 4.2)
    values = [v for bins in curves.values() for b in bins for v in (b.mean_predicted, b.observed)]
    positive = [v for v in values if v > 0]
    lo = max(min(positive, default=1e-4) / 1.5, 1e-6)
    hi = min(max(values, default=1.0) * 1.5, 1.0)
    ax.plot([lo, hi], [lo, hi], color="grey", linestyle="--", linewidth=1, label="perfect")
    for i, (label, bins) in enumerate(curves.items()):
        xs = [b.mean_predicted for b in bins]
        ys = [max(b.observed, lo) for b in bins]  # a bin without clicks sits on the floor
        ax.plot(xs, ys, marker="o", label=label, color=COLORS[i % len(COLORS)])
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):  # 1-2-5 ticks as percents; minor ones unlabelled
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(_percent))
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("mean predicted CTR (bin), log scale")
    ax.set_ylabel("observed CTR, log scale")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return _uri(fig)


def _percent(value: float, _position: object) -> str:
    return f"{100 * value:.2g} %"


def roc(fpr: Sequence[float], tpr: Sequence[float], auc: float | None, title: str) -> str:
    fig, ax = _figure(4.6, 4.2)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="random")
    label = f"model (AUC {auc:.3f})" if auc is not None else "model"
    ax.plot([0.0, *fpr], [0.0, *tpr], color=COLORS[0], label=label, drawstyle="default")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate (unclicked shown)")
    ax.set_ylabel("true positive rate (clicks caught)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return _uri(fig)


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
