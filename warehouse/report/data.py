"""What the report shows, read with SQL from the published catalog and from the registry.

Every number comes from one query below, over the catalog bidlake's own code reads
(`warehouse.catalog.connect_read_only()`): the reporting marts for delivery and money, the
staging views for the bid-time predictions joined to what happened. The model registry is
read as files (the layout of docs/interfaces.md, written by ml/): the warehouse does not
import ml.

A section whose data is missing gets `None` (or an empty list), never zeros: the page
then says so instead of drawing an empty chart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

MICROS = 1_000_000
FEW_CLICKS = 30  # below this many clicks a calibration or ROC is mostly noise

# ---- the queries (one per section) ----

PUBLICATION_SQL = "select publication_id, published_at from _publication"

FUNNEL_SQL = """
select
    (select coalesce(sum(bid_requests), 0) from rpt_exchange_hourly) as requests,
    (select coalesce(sum(bids), 0) from rpt_campaign_daily) as bids,
    (select coalesce(sum(impressions), 0) from rpt_campaign_daily) as wins,
    (select coalesce(sum(clicks), 0) from rpt_campaign_daily) as clicks,
    (select coalesce(sum(conversions), 0) from rpt_campaign_daily) as conversions,
    (select coalesce(sum(spend_micros), 0) from rpt_campaign_daily) as spend_micros,
    (select min(report_hour) from rpt_exchange_hourly) as first_hour,
    (select max(report_hour) from rpt_exchange_hourly) as last_hour
"""

CAMPAIGNS_SQL = """
select
    campaign_id,
    max(campaign_name) as campaign_name,
    sum(bids)::bigint as bids,
    sum(impressions)::bigint as wins,
    sum(clicks)::bigint as clicks,
    sum(conversions)::bigint as conversions,
    sum(spend_micros)::bigint as spend_micros
from rpt_campaign_daily
group by campaign_id
order by spend_micros desc, campaign_id
"""

CAMPAIGN_DAYS_SQL = """
select
    report_date, campaign_id, campaign_name, bids, impressions as wins, win_rate,
    spend_micros, clicks, ecpc, conversions, cpa
from rpt_campaign_daily
order by report_date, campaign_id
"""

# Won impressions of model-priced bids, each with its logged pCTR and whether it was
# clicked. `ctr_model` is the CTR part of the bid's model_version ("ctr:<version>").
WON_SQL = """
with won as (
    select distinct bid_id from stg_tracker__impressions
),
clicked as (
    select distinct bid_id from stg_tracker__clicks
)
select
    b.bid_id,
    b.pctr,
    split_part(b.model_version, ';', 1) as ctr_model,
    (c.bid_id is not null) as clicked
from stg_tracker__bids as b
inner join won on won.bid_id = b.bid_id
left join clicked as c on c.bid_id = b.bid_id
where b.model_version is not null and b.pctr > 0
"""

MODEL_VERSIONS_SQL = f"""
select ctr_model, count(*) as wins, count(*) filter (where clicked) as clicks
from ({WON_SQL})
group by ctr_model
order by wins desc, ctr_model
"""

# $1: the ctr_model values to look at; $2: reliability bins.
LIVE_SUMMARY_SQL = f"""
select count(*) as wins, count(*) filter (where clicked) as clicks, avg(pctr) as mean_pctr,
       sum(pctr) as sum_pctr
from ({WON_SQL}) where list_contains($1, ctr_model)
"""

RELIABILITY_SQL = f"""
select bin, count(*) as wins, avg(pctr) as mean_pctr, avg(clicked::int) as ctr
from (
    select *, ntile($2) over (order by pctr, bid_id) as bin
    from ({WON_SQL}) where list_contains($1, ctr_model)
)
group by bin
order by bin
"""

# The ROC curve: one point per distinct pCTR, thresholds from high to low (ties move
# together, so the trapezoids give them half credit, as the Mann-Whitney AUC does).
ROC_SQL = f"""
with rows as (
    select pctr, clicked from ({WON_SQL}) where list_contains($1, ctr_model)
),
by_score as (
    select pctr, count(*) filter (where clicked) as pos, count(*) filter (where not clicked) as neg
    from rows group by pctr
),
totals as (
    select sum(pos) as p, sum(neg) as n from by_score
)
select
    sum(neg) over w / totals.n as fpr,
    sum(pos) over w / totals.p as tpr
from by_score, totals
window w as (order by pctr desc rows between unbounded preceding and current row)
order by pctr desc
"""

AUCTION_TYPES_SQL = """
select auction_type, count(*) as requests
from stg_tracker__bid_requests
group by auction_type
order by auction_type
"""


# ---- what the sections get ----


@dataclass(frozen=True)
class Funnel:
    requests: int
    bids: int
    wins: int
    clicks: int
    conversions: int
    spend_micros: int
    first_hour: datetime | None
    last_hour: datetime | None


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    campaign_name: str | None
    bids: int
    wins: int
    clicks: int
    conversions: int
    spend_micros: int

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.bids if self.bids else None

    @property
    def ecpc(self) -> float | None:
        """Spend per click, currency units (from the summed, rounded spend)."""
        return self.spend_micros / MICROS / self.clicks if self.clicks else None

    @property
    def cpa(self) -> float | None:
        return self.spend_micros / MICROS / self.conversions if self.conversions else None


@dataclass(frozen=True)
class CampaignDay:
    report_date: date
    campaign_id: str
    campaign_name: str | None
    bids: int
    wins: int
    win_rate: float | None
    spend_micros: int
    clicks: int
    ecpc: float | None
    conversions: int
    cpa: float | None


@dataclass(frozen=True)
class Bin:
    wins: int
    mean_predicted: float
    observed: float


@dataclass(frozen=True)
class Holdout:
    """The current CTR model's evaluation on its holdout, as ml wrote it (eval.json)."""

    name: str
    version: str
    folder: Path
    metrics: dict[str, Any]  # rows, positives, base_rate, auc, log_loss, ...
    oracle: dict[str, Any] | None  # the simulator's true probabilities on the same rows
    holdout_days: list[str]
    gate_reason: str
    model_bins: list[Bin]
    oracle_bins: list[Bin]
    roc_png: Path | None  # ml's own ROC plot: the holdout predictions are not stored


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    version: str
    promoted: bool
    current: bool
    reason: str
    log_loss: float | None
    created_at_ms: int | None


@dataclass(frozen=True)
class Live:
    """The CTR model in the auction: logged pCTR of the impressions won, against clicks."""

    ctr_models: list[str]  # the `ctr:<version>` values looked at
    scope: str  # which model versions, in words
    wins: int
    clicks: int
    mean_pctr: float
    sum_pctr: float
    bins: list[Bin]
    fpr: list[float]
    tpr: list[float]
    versions: list[tuple[str, int, int]] = field(default_factory=list)  # all seen

    @property
    def ctr(self) -> float:
        return self.clicks / self.wins if self.wins else 0.0

    @property
    def calibration(self) -> float | None:
        """Σ pCTR / clicks: above 1 the model over-predicts."""
        return self.sum_pctr / self.clicks if self.clicks else None

    @property
    def auc(self) -> float | None:
        if not self.clicks or self.clicks == self.wins:
            return None
        xs, ys = [0.0, *self.fpr], [0.0, *self.tpr]
        return sum((xs[i] - xs[i - 1]) * (ys[i] + ys[i - 1]) / 2 for i in range(1, len(xs)))


# ---- reading ----


def publication(con: duckdb.DuckDBPyConnection) -> tuple[str, datetime] | None:
    row = con.execute(PUBLICATION_SQL).fetchone()
    return (str(row[0]), row[1]) if row else None


def funnel(con: duckdb.DuckDBPyConnection) -> Funnel | None:
    row = con.execute(FUNNEL_SQL).fetchone()
    if row is None or not row[0]:
        return None
    requests, bids, wins, clicks, conversions, spend = (int(v) for v in row[:6])
    return Funnel(requests, bids, wins, clicks, conversions, spend, row[6], row[7])


def campaigns(con: duckdb.DuckDBPyConnection) -> list[Campaign]:
    return [
        Campaign(r[0], r[1], *(int(v or 0) for v in r[2:]))
        for r in con.execute(CAMPAIGNS_SQL).fetchall()
    ]


def campaign_days(con: duckdb.DuckDBPyConnection) -> list[CampaignDay]:
    return [CampaignDay(*row) for row in con.execute(CAMPAIGN_DAYS_SQL).fetchall()]


def auction_types(con: duckdb.DuckDBPyConnection) -> dict[int, int]:
    return {int(t): int(n) for t, n in con.execute(AUCTION_TYPES_SQL).fetchall()}


def live(con: duckdb.DuckDBPyConnection, current_ctr: str | None) -> Live | None:
    """The current CTR version's bids if it priced any, else every model-priced bid."""
    versions = [(str(v), int(w), int(c)) for v, w, c in con.execute(MODEL_VERSIONS_SQL).fetchall()]
    if not versions:
        return None
    wanted = f"ctr:{current_ctr}" if current_ctr else None
    if wanted is not None and any(v == wanted for v, _, _ in versions):
        models, scope = [wanted], f"the current CTR model, {current_ctr}"
    else:
        models = [v for v, _, _ in versions]
        scope = (
            f"every model version that priced bids (the current CTR model, {current_ctr}, "
            "priced none yet)"
            if current_ctr
            else "every model version that priced bids"
        )
    wins, clicks, mean_pctr, sum_pctr = con.execute(LIVE_SUMMARY_SQL, [models]).fetchone()  # type: ignore[misc]
    bins_wanted = max(2, min(10, int(clicks) // 5))
    bins = [
        Bin(int(n), float(p), float(y))
        for _, n, p, y in con.execute(RELIABILITY_SQL, [models, bins_wanted]).fetchall()
    ]
    fpr: list[float] = []
    tpr: list[float] = []
    if clicks and clicks < wins:
        for x, y in con.execute(ROC_SQL, [models]).fetchall():
            fpr.append(float(x))
            tpr.append(float(y))
    return Live(
        ctr_models=models,
        scope=scope,
        wins=int(wins),
        clicks=int(clicks),
        mean_pctr=float(mean_pctr),
        sum_pctr=float(sum_pctr),
        bins=bins,
        fpr=fpr,
        tpr=tpr,
        versions=versions,
    )


# ---- the registry (files written by ml/, docs/interfaces.md) ----


def current_version(models: Path, name: str) -> str | None:
    try:
        text = (models / name / "CURRENT").read_text().strip()
    except OSError:
        return None
    return text or None


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _bins(deciles: object) -> list[Bin]:
    if not isinstance(deciles, list):
        return []
    return [
        Bin(int(d["count"]), float(d["mean_predicted"]), float(d["observed_rate"]))
        for d in deciles
        if isinstance(d, dict)
    ]


def holdout(models: Path, name: str = "ctr") -> Holdout | None:
    """The current version's eval.json, when the registry has one."""
    version = current_version(models, name)
    if version is None:
        return None
    folder = models / name / version
    evaluation = _json(folder / "eval.json")
    if not isinstance(evaluation, dict) or not isinstance(evaluation.get("metrics"), dict):
        return None
    metrics = evaluation["metrics"]
    model = metrics.get("model")
    if not isinstance(model, dict):
        return None
    oracle = metrics.get("oracle") if isinstance(metrics.get("oracle"), dict) else None
    gate = _json(folder / "gate.json")
    window = evaluation.get("window")
    if not isinstance(window, dict):
        window = {}
    roc = folder / "roc.png"
    return Holdout(
        name=name,
        version=version,
        folder=folder,
        metrics=model,
        oracle=oracle,
        holdout_days=[str(d) for d in window.get("holdout_days", [])],
        gate_reason=str(gate.get("reason", "")) if isinstance(gate, dict) else "",
        model_bins=_bins(model.get("deciles")),
        oracle_bins=_bins(oracle.get("deciles")) if isinstance(oracle, dict) else [],
        roc_png=roc if roc.is_file() else None,
    )


def registry(models: Path, names: tuple[str, ...] = ("ctr", "cvr")) -> list[RegistryEntry]:
    """Every export of each model (history.jsonl), newest first."""
    out: list[RegistryEntry] = []
    for name in names:
        current = current_version(models, name)
        try:
            lines = (models / name / "history.jsonl").read_text().splitlines()
        except OSError:
            continue
        entries = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict) or "version" not in entry:
                continue
            entries.append(
                RegistryEntry(
                    name=name,
                    version=str(entry["version"]),
                    promoted=bool(entry.get("promoted")),
                    current=entry["version"] == current,
                    reason=str(entry.get("reason", "")),
                    log_loss=entry.get("log_loss"),
                    created_at_ms=entry.get("created_at_ms"),
                )
            )
        out += reversed(entries)
    return out
