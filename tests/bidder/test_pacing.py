"""Pacing: the allowance and the factor as functions, and one simulated day of auctions in
which a campaign whose budget the traffic could spend several times over spreads it over
the whole day instead of exhausting it in the first hours."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bidder.bid_request import parse_request
from bidder.budget import MemoryStore
from bidder.decision import CampaignPlan, Engine
from bidder.models import Models
from bidder.pacing import DAY_MS, Pacer, day_fraction
from bidlake.campaigns import Campaign, Creative, Targeting
from tests.bidder.conftest import iso_ms

DAY0 = iso_ms("2026-01-05T00:00:00Z")
HOUR_MS = 3_600_000


def test_allowance_is_the_even_spread_plus_the_slack() -> None:
    pacer = Pacer(slack_hours=1.0)
    budget = 24_000
    assert pacer.allowance(budget, DAY0) == 1_000  # one hour's worth at midnight
    assert pacer.allowance(budget, DAY0 + 6 * HOUR_MS) == 7_000
    assert pacer.allowance(budget, DAY0 + 23 * HOUR_MS + 30 * 60_000) == budget  # capped


def test_factor_is_one_behind_schedule_and_falls_to_the_floor_ahead_of_it() -> None:
    pacer = Pacer(slack_hours=1.0, min_factor=0.1)
    budget, noon = 24_000, DAY0 + 12 * HOUR_MS
    assert pacer.factor(budget, 5_000, noon) == 1.0  # behind the 12,000 line
    assert pacer.factor(budget, 12_000, noon) == 1.0  # on it
    assert pacer.factor(budget, 12_500, noon) == pytest.approx(0.5)  # half the slack ahead
    assert pacer.factor(budget, 12_990, noon) == pytest.approx(0.1)  # floor
    assert day_fraction(noon) == 0.5


def _campaign(budget_micros: int) -> Campaign:
    return Campaign(
        campaign_id="cmp-paced",
        advertiser_id="adv",
        name="paced",
        goal="cpc",
        goal_micros=1_500_000,
        max_bid_cpm_micros=10_000_000,
        daily_budget_micros=budget_micros,
        frequency_cap_per_day=0,
        creatives=(Creative("cr-1", 300, 250, "banner"),),
        adomain=("paced.example",),
        targeting=Targeting(frozenset(), frozenset(), frozenset(), frozenset()),
    )


def _request(i: int, now: int):  # type: ignore[no-untyped-def]
    body = {
        "id": f"r{i}",
        "imp": [{"id": "1", "bidfloor": 0.1, "banner": {"w": 300, "h": 250}}],
        "site": {"domain": "news.example"},
        "device": {"devicetype": 2},
    }
    return parse_request(body, now_ms=now)


@pytest.mark.anyio
async def test_a_day_of_traffic_spreads_the_budget(models_root: Path) -> None:
    budget = 2_000_000  # $2/day: ~440 impressions at ~4.5 CPM
    pacer = Pacer(slack_hours=1.0, min_factor=0.1)
    store = MemoryStore(reservation_ttl_s=60)
    plan = CampaignPlan.of(_campaign(budget))
    engine = Engine([plan], store, Models.open(models_root), pacer)
    rng = random.Random(7)
    step_ms = 15_000  # a request every 15 s: 5,760 in the day
    offered = 0  # what winning every auction at full value would have cost (CPM micros)
    spend_by_hour = [0] * 24
    factors = []
    reasons: dict[str, int] = {}
    for i in range(DAY_MS // step_ms):
        now = DAY0 + i * step_ms
        market = rng.uniform(0.5, 6.0) * 1_000_000  # the best other bid, CPM micros
        (decision,) = await engine.decide(_request(i, now), now, deadline=float("inf"))
        value_cpm = 4_527_624  # 1.50 CPC x pCTR 0.30 %: what an unpaced bid is
        offered += int(market) if market < value_cpm else 0
        reasons[decision.reason] = reasons.get(decision.reason, 0) + 1
        if decision.bid is None:
            continue
        factors.append(decision.bid.pacing_factor)
        if decision.bid.price_micros > market:  # second price: pay the market price
            assert await store.record_win(
                f"b{i}",
                plan.campaign.campaign_id,
                "",
                now,
                decision.bid.price_micros,
                int(market),
                now + 200,
            )
        spend_by_hour[(now - DAY0) // HOUR_MS] = store.spent(plan.campaign.campaign_id, now)

    budget_cpm = budget * 1000  # the store's unit
    max_auction = plan.campaign.max_bid_cpm_micros
    assert offered > 4 * budget_cpm, "the traffic could have spent the budget several times"
    for hour, spent in enumerate(spend_by_hour):
        allowance = budget_cpm * (hour + 2) / 24  # end of the hour plus one hour of slack
        assert spent <= allowance + max_auction, f"hour {hour}: spent too fast"
    assert spend_by_hour[5] <= budget_cpm * 7 / 24 + max_auction  # not exhausted early
    assert spend_by_hour[23] >= 0.95 * budget_cpm, "the budget is spent by the end of the day"
    assert spend_by_hour[23] <= budget_cpm + max_auction
    assert min(factors) < 0.5 < max(factors) == 1.0, "bids were shaded while ahead"
    assert set(reasons) <= {"", "pacing", "budget_exhausted"}


@pytest.mark.anyio
async def test_spend_at_the_allowance_throttles_with_reason_pacing(models_root: Path) -> None:
    budget = 2_400_000
    store = MemoryStore()
    plan = CampaignPlan.of(_campaign(budget))
    engine = Engine([plan], store, Models.open(models_root), Pacer(slack_hours=1.0))
    half_past_midnight = DAY0 + 30 * 60_000
    # 150,000 micros already spent: the allowance at 00:30 is 1.5/24 of 2.4 M = 150,000.
    await store.record_win("b0", "cmp-paced", "", DAY0, 0, 150_000 * 1000, DAY0)
    (decision,) = await engine.decide(
        _request(1, half_past_midnight), half_past_midnight, float("inf")
    )
    assert decision.reason == "pacing"
    (decision,) = await engine.decide(
        _request(2, DAY0 + 2 * HOUR_MS), DAY0 + 2 * HOUR_MS, float("inf")
    )
    assert decision.reason == "" and decision.bid is not None  # the line caught up
