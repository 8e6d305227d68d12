"""The report as one self-contained HTML page: inline CSS, charts as data URIs, no script.

Every number shown is also in the markup as `data-key` / `data-value` (the exact value
before formatting), so a test, or anyone, can check the page against SQL. Sections
without data say why, and the sections later work fills say "not measured yet".
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from warehouse.report import plots
from warehouse.report.data import (
    FEW_CLICKS,
    MICROS,
    Bin,
    Campaign,
    CampaignDay,
    Funnel,
    Holdout,
    Live,
    RegistryEntry,
)


@dataclass(frozen=True)
class ReportData:
    generated_at: datetime
    home: Path
    publication: tuple[str, datetime] | None = None
    catalog_error: str = ""  # why there is no catalog to read, when there is none
    funnel: Funnel | None = None
    campaigns: list[Campaign] = field(default_factory=list)
    days: list[CampaignDay] = field(default_factory=list)
    holdout: Holdout | None = None
    registry: list[RegistryEntry] = field(default_factory=list)
    live: Live | None = None
    current_ctr: str | None = None
    auction_types: dict[int, int] = field(default_factory=dict)


# ---- formatting ----


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def num(key: str, value: object, text: str, tag: str = "span") -> str:
    """A number with its exact value in the markup."""
    return f'<{tag} data-key="{esc(key)}" data-value="{esc(_value(value))}">{esc(text)}</{tag}>'


def count(n: int | None) -> str:
    return "–" if n is None else f"{n:,}"


def usd(micros: int | None) -> str:
    return "–" if micros is None else f"${micros / MICROS:,.2f}"


def money(value: float | None) -> str:
    """A unit cost in currency units (eCPC, CPA)."""
    if value is None:
        return "–"
    return f"${value:,.2f}" if value >= 1 else f"${value:,.4f}"


def pct(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def fixed(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


# ---- building blocks ----

STATUS = {
    "measured": ("measured", "ok"),
    "no data": ("no data", "none"),
    "few": ("few clicks: noisy", "warn"),
    "later": ("not measured yet", "later"),
}


def section(anchor: str, title: str, status: str, body: str, intro: str = "") -> str:
    label, css = STATUS[status]
    intro_html = f'<p class="intro">{intro}</p>' if intro else ""
    return (
        f'<section id="{anchor}" data-status="{esc(status)}">'
        f'<h2>{esc(title)} <span class="pill {css}">{esc(label)}</span></h2>'
        f"{intro_html}{body}</section>"
    )


def empty(message: str) -> str:
    return f'<div class="empty">{message}</div>'


def card(value: str, label: str) -> str:
    return f"<div><b>{value}</b>{esc(label)}</div>"


def chart(uri: str, alt: str) -> str:
    return f'<figure><img src="{uri}" alt="{esc(alt)}"></figure>'


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    numeric_from: int = 1,
    css: str = "",
    numeric_to: int = 99,
) -> str:
    head = "".join(
        f'<th class="{"num" if numeric_from <= i < numeric_to else ""}">{esc(h)}</th>'
        for i, h in enumerate(headers)
    )
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def td(cell: str, numeric: bool = True) -> str:
    return f'<td class="{"num" if numeric else ""}">{cell}</td>'


def sql_note(*queries: str) -> str:
    text = "\n\n".join(q.strip() for q in queries)
    return (
        f"<details><summary>the SQL behind this section</summary><pre>{esc(text)}</pre></details>"
    )


# ---- the sections ----


def funnel_section(d: ReportData) -> str:
    from warehouse.report.data import FUNNEL_SQL

    f = d.funnel
    intro = (
        "Every auction the exchange offered, what the bidders answered, what they won, and "
        "what users did after. Conversions are the attributed ones (last click within 7 "
        "days, else an impression within 1 day)."
    )
    if f is None:
        return section("funnel", "Funnel", "no data", empty(_no_catalog(d)), intro)
    stages = [
        ("requests", "bid requests", f.requests, None),
        ("bids", "bids", f.bids, ratio(f.bids, f.requests)),
        ("wins", "wins (impressions)", f.wins, ratio(f.wins, f.bids)),
        ("clicks", "clicks", f.clicks, ratio(f.clicks, f.wins)),
        ("conversions", "conversions", f.conversions, ratio(f.conversions, f.clicks)),
    ]
    names = ["of requests", "of bids (win rate)", "of wins (CTR)", "of clicks (CVR)"]
    rows = []
    for i, (key, label, n, rate) in enumerate(stages):
        rows.append(
            [
                td(esc(label), False),
                td(num(f"funnel.{key}", n, count(n))),
                td(num(f"funnel.{key}_rate", rate, f"{pct(rate)} {names[i - 1]}") if i else ""),
            ]
        )
    ecpc = ratio(f.spend_micros, f.clicks * MICROS)
    cpa = ratio(f.spend_micros, f.conversions * MICROS)
    cards = (
        '<div class="cards">'
        + card(num("funnel.spend_micros", f.spend_micros, usd(f.spend_micros)), "spend")
        + card(num("funnel.ecpc", ecpc, money(ecpc)), "eCPC (spend per click)")
        + card(num("funnel.cpa", cpa, money(cpa)), "CPA (spend per conversion)")
        + "</div>"
    )
    body = (
        cards
        + '<div class="row">'
        + table(["stage", "count", "rate"], rows)
        + chart(
            plots.funnel([s[1] for s in stages], [s[2] for s in stages]),
            "funnel: " + ", ".join(f"{s[1]} {s[2]:,}" for s in stages),
        )
        + "</div>"
        + sql_note(FUNNEL_SQL)
    )
    return section("funnel", "Funnel", "measured", body, intro)


def campaigns_section(d: ReportData) -> str:
    from warehouse.report.data import CAMPAIGNS_SQL

    intro = (
        "Per campaign, over every day in the warehouse. Win rate is wins per bid; eCPC is "
        "spend per click and CPA spend per attributed conversion (a dash: none yet)."
    )
    if not d.campaigns:
        msg = _no_catalog(d) if d.funnel is None else "No campaign has bid yet."
        return section("campaigns", "Spend per campaign", "no data", empty(msg), intro)
    rows = []
    for c in d.campaigns:
        k = f"campaign.{c.campaign_id}"
        name = f"<b>{esc(c.campaign_id)}</b> {esc(c.campaign_name or '(not in the book)')}"
        rows.append(
            [
                td(name, False),
                td(num(f"{k}.bids", c.bids, count(c.bids))),
                td(num(f"{k}.wins", c.wins, count(c.wins))),
                td(num(f"{k}.win_rate", c.win_rate, pct(c.win_rate))),
                td(num(f"{k}.spend_micros", c.spend_micros, usd(c.spend_micros))),
                td(num(f"{k}.clicks", c.clicks, count(c.clicks))),
                td(num(f"{k}.ecpc", c.ecpc, money(c.ecpc))),
                td(num(f"{k}.conversions", c.conversions, count(c.conversions))),
                td(num(f"{k}.cpa", c.cpa, money(c.cpa))),
            ]
        )
    headers = ["campaign", "bids", "wins", "win rate", "spend", "clicks", "eCPC"]
    body = (
        table([*headers, "conversions", "CPA"], rows)
        + chart(
            plots.spend(
                [c.campaign_id for c in d.campaigns], [c.spend_micros / MICROS for c in d.campaigns]
            ),
            "spend per campaign: "
            + ", ".join(f"{c.campaign_id} {usd(c.spend_micros)}" for c in d.campaigns),
        )
        + sql_note(CAMPAIGNS_SQL)
    )
    return section("campaigns", "Spend per campaign", "measured", body, intro)


def days_section(d: ReportData) -> str:
    from warehouse.report.data import CAMPAIGN_DAYS_SQL

    intro = (
        "The same per UTC day (rpt_campaign_daily): each event counts in the day it "
        "happened, a conversion in the day it converted."
    )
    if not d.days:
        msg = _no_catalog(d) if d.funnel is None else "No campaign has bid yet."
        return section(
            "days", "Win rate, eCPC and CPA per campaign and day", "no data", empty(msg), intro
        )
    rows = []
    late_only = False
    for r in d.days:
        k = f"day.{r.report_date.isoformat()}.{r.campaign_id}"
        # A day after the traffic holds only late clicks and conversions: no spend, so
        # the mart's eCPC and CPA that day (0) say nothing; shown as "no spend".
        no_spend = r.spend_micros == 0
        late_only |= no_spend and bool(r.clicks or r.conversions)
        ecpc = "no spend" if no_spend and r.ecpc is not None else money(r.ecpc)
        cpa = "no spend" if no_spend and r.cpa is not None else money(r.cpa)
        rows.append(
            [
                td(esc(r.report_date.isoformat()), False),
                td(f"<b>{esc(r.campaign_id)}</b> {esc(r.campaign_name or '')}", False),
                td(num(f"{k}.bids", r.bids, count(r.bids))),
                td(num(f"{k}.wins", r.wins, count(r.wins))),
                td(num(f"{k}.win_rate", r.win_rate, pct(r.win_rate))),
                td(num(f"{k}.spend_micros", r.spend_micros, usd(r.spend_micros))),
                td(num(f"{k}.ecpc", r.ecpc, ecpc)),
                td(num(f"{k}.cpa", r.cpa, cpa)),
            ]
        )
    note = (
        '<p class="note">"no spend": a day after the traffic that holds only late clicks '
        "and conversions (a conversion can come up to 7 days after its click), so its "
        "eCPC and CPA say nothing.</p>"
        if late_only
        else ""
    )
    charts = '<div class="row">' + chart(
        plots.by_day(d.days, "win_rate", "win rate (wins / bids)"), "win rate per campaign and day"
    )
    if any(r.ecpc is not None for r in d.days):
        charts += chart(plots.by_day(d.days, "ecpc", "eCPC, USD"), "eCPC per campaign and day")
    charts += "</div>"
    body = (
        charts
        + table(
            ["day", "campaign", "bids", "wins", "win rate", "spend", "eCPC", "CPA"],
            rows,
            numeric_from=2,
            css="compact",
        )
        + note
        + sql_note(CAMPAIGN_DAYS_SQL)
    )
    return section("days", "Win rate, eCPC and CPA per campaign and day", "measured", body, intro)


def holdout_section(d: ReportData) -> str:
    intro = (
        "How the CTR model the bidder serves did on its holdout, the day after its training "
        "data, when it was trained (ml writes this to the model registry). A calibrated "
        "model lies on the diagonal; AUC says how well it ranks (0.5 is a coin)."
    )
    h = d.holdout
    registry = _registry_table(d.registry)
    if h is None:
        msg = (
            "No CTR model has been promoted yet (the registry has no CURRENT version with an "
            "evaluation): the bidder prices nothing with a model until one is."
        )
        return section(
            "holdout", "The CTR model on its holdout", "no data", empty(msg) + registry, intro
        )
    m, o = h.metrics, h.oracle or {}
    metric_rows = []
    for key, label, digits in (
        ("rows", "impressions", None),
        ("positives", "clicks", None),
        ("base_rate", "click rate", "pct"),
        ("auc", "AUC", 4),
        ("log_loss", "log loss", 5),
        ("normalized_entropy", "normalized entropy (< 1 beats the base rate)", 4),
        ("calibration", "calibration Σp / Σclicks (1 is perfect)", 3),
    ):
        cells = []
        for who, source in (("model", m), ("oracle", o)):
            value = source.get(key)
            if digits is None:
                text = count(value) if isinstance(value, int) else "–"
            elif digits == "pct":
                text = pct(value, 3)
            else:
                text = fixed(value, int(digits)) if isinstance(value, int | float) else "–"
            cells.append(td(num(f"holdout.{who}.{key}", value, text)))
        metric_rows.append([td(esc(label), False), *cells])
    curves: dict[str, Sequence[Bin]] = {f"model {h.version}": h.model_bins}
    if h.oracle_bins:
        curves["oracle (true p)"] = h.oracle_bins
    figures = '<div class="row">'
    if h.model_bins:
        figures += chart(
            plots.reliability(curves, f"holdout {', '.join(h.holdout_days)}: deciles"),
            "reliability diagram of the holdout",
        )
    if h.roc_png is not None:
        figures += (
            f'<figure><img class="png" src="{plots.png_uri(h.roc_png.read_bytes())}" '
            'alt="ROC on the holdout">'
            "<figcaption>ROC on the holdout, as ml drew it at training (the holdout's "
            "predictions are not stored, so it is not redrawn here)</figcaption></figure>"
        )
    figures += "</div>"
    body = (
        f"<p>Current version <b>{num('holdout.version', h.version, h.version)}</b>, holdout "
        f"{esc(', '.join(h.holdout_days) or '?')}. Gate: {esc(h.gate_reason)}</p>"
        + figures
        + table(["on the holdout", "model", "oracle (the simulator's true p)"], metric_rows)
        + registry
        + f'<p class="note">Read from {esc(h.folder)} (eval.json, gate.json, roc.png).</p>'
    )
    return section("holdout", "The CTR model on its holdout", "measured", body, intro)


def _registry_table(entries: list[RegistryEntry]) -> str:
    if not entries:
        return ""
    rows = [
        [
            td(esc(e.name), False),
            td(esc(e.version) + (" <b>(serving)</b>" if e.current else ""), False),
            td(esc(_when(e.created_at_ms)), False),
            td("yes" if e.promoted else "no", False),
            td(fixed(e.log_loss, 5) if isinstance(e.log_loss, int | float) else "–"),
            td(esc(e.reason), False),
        ]
        for e in entries
    ]
    return "<h3>Model registry</h3>" + table(
        ["model", "version", "exported", "promoted", "holdout log loss", "gate"],
        rows,
        numeric_from=4,
        numeric_to=5,
        css="compact",
    )


def _when(ms: int | None) -> str:
    if not isinstance(ms, int):
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def live_section(d: ReportData) -> str:
    from warehouse.report.data import RELIABILITY_SQL, ROC_SQL, WON_SQL

    title = "The CTR model in the auction: logged pCTR against clicks"
    intro = (
        "The impressions the bidder actually won with a model-priced bid: the pCTR it "
        "logged when it bid, joined in SQL to whether the impression was clicked. This is "
        "the model on the traffic it buys, which is not its holdout: the bidder wins where "
        "its pCTR is high, so over-prediction shows up here first."
    )
    live = d.live
    if live is None:
        msg = (
            "No model-priced bid has won an impression yet. Bids of the simulator's "
            "fixed-price logging policy carry no pCTR; the bidder's bids do once it serves a "
            "model. Its tracking logs reach the warehouse after the next ingest and build."
        )
        if d.funnel is None:
            msg = _no_catalog(d)
        return section("live", title, "no data", empty(msg), intro)
    status = "measured" if live.clicks >= FEW_CLICKS else "few"
    warning = ""
    if status == "few":
        warning = (
            f'<p class="warn">Only {live.clicks:,} clicks: the curves below are mostly noise '
            f"until about {FEW_CLICKS} clicks (a longer replay, or more days, gets there).</p>"
        )
    cards = (
        '<div class="cards">'
        + card(num("live.wins", live.wins, count(live.wins)), "impressions won")
        + card(num("live.clicks", live.clicks, count(live.clicks)), "clicks")
        + card(num("live.mean_pctr", live.mean_pctr, pct(live.mean_pctr, 3)), "mean logged pCTR")
        + card(num("live.ctr", live.ctr, pct(live.ctr, 3)), "realized CTR")
        + card(
            num("live.calibration", live.calibration, fixed(live.calibration)),
            "Σ pCTR / clicks (1 is calibrated)",
        )
        + card(num("live.auc", live.auc, fixed(live.auc)), "AUC")
        + "</div>"
    )
    figures = '<div class="row">'
    if live.clicks:
        figures += chart(
            plots.reliability({"logged pCTR": live.bins}, f"{len(live.bins)} equal-count bins"),
            "reliability of the logged pCTR",
        )
    if live.fpr:
        figures += chart(plots.roc(live.fpr, live.tpr, live.auc, "ROC of the logged pCTR"), "ROC")
    if not live.clicks:
        figures += empty("No clicks on these impressions yet: no calibration or ROC to draw.")
    figures += "</div>"
    bins = table(
        ["bin", "impressions", "mean pCTR", "observed CTR"],
        [
            [
                td(str(i + 1), False),
                td(num(f"live.bin.{i + 1}.wins", b.wins, count(b.wins))),
                td(num(f"live.bin.{i + 1}.mean_pctr", b.mean_predicted, pct(b.mean_predicted, 3))),
                td(num(f"live.bin.{i + 1}.ctr", b.observed, pct(b.observed, 3))),
            ]
            for i, b in enumerate(live.bins)
        ],
        css="compact",
    )
    versions = ", ".join(f"{esc(v)}: {w:,} wins, {c:,} clicks" for v, w, c in live.versions)
    body = (
        f"<p>Looking at {esc(live.scope)}. Model versions seen in the bids: {versions}.</p>"
        + warning
        + cards
        + figures
        + bins
        + sql_note(WON_SQL, RELIABILITY_SQL, ROC_SQL)
    )
    return section("live", title, status, body, intro)


def later_sections(d: ReportData) -> str:
    first = d.auction_types.get(1, 0)
    total = sum(d.auction_types.values())
    share = (
        f"For scale: {num('auctions.first_price', first, count(first))} of "
        f"{num('auctions.total', total, count(total))} bid requests in the warehouse "
        f"({pct(ratio(first, total))}) were first-price auctions (OpenRTB at=1)."
        if total
        else "No bid requests in the warehouse yet."
    )
    return (
        section(
            "loop",
            "The loop, day by day",
            "later",
            empty(
                "Not measured yet. This will follow the loop over the days: the model the "
                "bidder served each day, what it bought, and how the next model trained on "
                "that did."
            ),
        )
        + section(
            "strategies",
            "Strategies",
            "later",
            empty(
                "Not measured yet. This will compare bidding strategies (e.g. the fixed-price "
                "logging policy against model-priced bids) on the same traffic."
            ),
        )
        + section(
            "shading",
            "Bid shading",
            "later",
            empty(
                "Not measured yet. This will show what first-price auctions cost and what "
                "shading the bids saves. " + share
            ),
        )
    )


def _no_catalog(d: ReportData) -> str:
    return esc(d.catalog_error) if d.catalog_error else "No data in the warehouse yet."


CSS = """
:root { --fg: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f9fafb; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
header { background: #111827; color: #f9fafb; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 2px 0; color: #d1d5db; font-size: 13px; }
nav { padding: 10px 32px; border-bottom: 1px solid var(--line); background: var(--bg);
  font-size: 13px; position: sticky; top: 0; }
nav a { margin-right: 14px; color: #2563eb; text-decoration: none; white-space: nowrap; }
main { max-width: 1180px; padding: 8px 32px 40px; }
section { border-bottom: 1px solid var(--line); padding: 14px 0 22px; }
h2 { font-size: 19px; margin: 8px 0; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.intro { color: var(--muted); margin: 0 0 12px; max-width: 900px; }
.pill { font-size: 11px; font-weight: 600; padding: 2px 8px; border-radius: 10px;
  vertical-align: middle; margin-left: 6px; }
.pill.ok { background: #d1fae5; color: #065f46; }
.pill.none { background: #e5e7eb; color: #374151; }
.pill.warn { background: #fef3c7; color: #92400e; }
.pill.later { background: #ede9fe; color: #5b21b6; }
.empty { border: 1px dashed #cbd5e1; background: var(--bg); padding: 14px 16px;
  color: #4b5563; border-radius: 6px; max-width: 900px; }
.warn { background: #fffbeb; border-left: 4px solid #f59e0b; padding: 8px 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 6px 0 14px; }
.cards div { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px;
  min-width: 150px; color: var(--muted); font-size: 12px; }
.cards b { display: block; font-size: 20px; color: var(--fg); }
.row { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
figure { margin: 6px 0; }
figure img { max-width: 100%; height: auto; }
figure img.png { width: 460px; }
figcaption { font-size: 12px; color: var(--muted); max-width: 460px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; }
th { background: var(--bg); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.compact td, table.compact th { padding: 3px 8px; }
details { margin-top: 8px; font-size: 12px; }
summary { cursor: pointer; color: var(--muted); }
pre { background: var(--bg); border: 1px solid var(--line); padding: 10px; overflow-x: auto; }
.note { color: var(--muted); font-size: 12px; }
dl { font-size: 13px; } dt { font-weight: 600; } dd { margin: 0 0 6px 16px; color: #374151; }
"""

GLOSSARY = (
    ("win rate", "wins (impressions) per bid."),
    ("eCPC", "effective cost per click: spend / clicks, USD."),
    ("CPA", "cost per acquisition: spend / attributed conversions, USD."),
    ("pCTR", "the click probability the model predicted when the bidder bid."),
    (
        "calibration Σp / Σclicks",
        "the predicted clicks over the clicks that happened: 1 is calibrated, above 1 the "
        "model over-predicts (and the bidder over-pays).",
    ),
    (
        "AUC",
        "the chance that a clicked impression had a higher pCTR than an unclicked one: "
        "0.5 is a coin, 1 a perfect ranking.",
    ),
)

SECTIONS = (
    ("funnel", "Funnel"),
    ("campaigns", "Spend per campaign"),
    ("days", "Per campaign and day"),
    ("holdout", "CTR model: holdout"),
    ("live", "CTR model: in the auction"),
    ("loop", "The loop, day by day"),
    ("strategies", "Strategies"),
    ("shading", "Bid shading"),
)


def render(d: ReportData) -> str:
    if d.publication is not None:
        pub_id, pub_at = d.publication
        published = (
            f"warehouse publication {num('publication.id', pub_id, pub_id)}, built "
            f"{esc(pub_at.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC'))}"
        )
    else:
        published = esc(d.catalog_error or "no published warehouse")
    window = ""
    if d.funnel is not None and d.funnel.first_hour is not None and d.funnel.last_hour is not None:
        first = d.funnel.first_hour.astimezone(UTC).strftime("%Y-%m-%d %H:00")
        last = d.funnel.last_hour.astimezone(UTC).strftime("%Y-%m-%d %H:59")
        window = (
            f"<p>Events from {esc(first)} to {esc(last)} UTC. Simulated logs carry the "
            "simulated time; the bidder stamps a replay's events with its own clock, so a "
            "replay shows up on the day it ran.</p>"
        )
    nav = "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in SECTIONS)
    glossary = "".join(f"<dt>{esc(t)}</dt><dd>{esc(x)}</dd>" for t, x in GLOSSARY)
    body = (
        funnel_section(d)
        + campaigns_section(d)
        + days_section(d)
        + holdout_section(d)
        + live_section(d)
        + later_sections(d)
        + f'<section id="glossary"><h2>Words used here</h2><dl>{glossary}</dl></section>'
    )
    generated = d.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>bidlake report {esc(generated)}</title><style>{CSS}</style></head><body>"
        "<header><h1>bidlake report</h1>"
        f"<p>Generated {esc(generated)} from {published}.</p>"
        f"<p>Data home {esc(d.home)}.</p>{window}</header>"
        f"<nav>{nav}</nav><main>{body}</main></body></html>\n"
    )
