from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from bidlake.campaigns import Campaign, Creative, Targeting, load_campaigns
from simulator.exchange import REPORTED_DEVICE_TYPES, generate_minute, minute_rng
from simulator.policy import (
    BELOW_FLOOR,
    BID,
    BLOCKED,
    NO_MATCH,
    POLICY,
    UNSUPPORTED,
    ConstantBidPolicy,
)
from simulator.world import World
from simulator.world_tables import SIZES

MINUTE = int(datetime(2026, 1, 6, 14, tzinfo=UTC).timestamp()) // 60  # all campaigns may bid


def _campaign(**targeting) -> Campaign:
    return Campaign(
        campaign_id="c1",
        advertiser_id="adv-x",
        name="c1",
        goal="cpc",
        goal_micros=1_000_000,
        max_bid_cpm_micros=10_000_000,
        daily_budget_micros=1_000_000_000,
        frequency_cap_per_day=0,
        creatives=(Creative("cr-1", 300, 250, "banner"),),
        adomain=("x.example",),
        targeting=Targeting(
            countries=frozenset(targeting.get("countries", ())),
            device_types=frozenset(targeting.get("device_types", ())),
            hours=frozenset(targeting.get("hours", ())),
            blocked_domains=frozenset(targeting.get("blocked_domains", ())),
        ),
    )


def test_bids_only_where_targeting_matches(small_world: World) -> None:
    w = small_world
    book = load_campaigns()
    policy = ConstantBidPolicy(w, book)
    rng = minute_rng(0, MINUTE)
    r = generate_minute(w, MINUTE, 300, rng)
    d = policy.decide(r, rng)
    bids = np.flatnonzero(d.reason == BID)
    assert len(bids) > 0
    hour = (r.time_ms // 3_600_000) % 24
    for i in bids[:2000].tolist():
        campaign = book[int(d.campaign[i])]
        width, height, fmt = SIZES[int(w.plc_size[r.placement[i]])]
        assert campaign.targeting.matches(
            w.country_codes[int(r.country[i])],
            REPORTED_DEVICE_TYPES[int(r.reported_device[i])],
            int(hour[i]),
            w.pub_name[int(r.publisher[i])],
        )
        creative = campaign.creative_for(width, height)
        assert creative is not None and creative.format == fmt
        assert policy.creatives[int(d.creative[i])] == (creative.creative_id, int(d.campaign[i]))
        assert d.bid_micros[i] >= r.floor_micros[i]
    no_bid = d.reason != BID
    assert (d.campaign[no_bid] == -1).all() and (d.bid_micros[no_bid] == 0).all()


def test_no_match_reasons_agree_with_targeting(small_world: World) -> None:
    w = small_world
    book = load_campaigns()
    policy = ConstantBidPolicy(w, book)
    rng = minute_rng(1, MINUTE)
    r = generate_minute(w, MINUTE, 300, rng)
    d = policy.decide(r, rng)
    hour = (r.time_ms // 3_600_000) % 24
    for i in np.flatnonzero(d.reason == NO_MATCH)[:500].tolist():
        width, height, _ = SIZES[int(w.plc_size[r.placement[i]])]
        for c in book:
            matches = c.targeting.matches(
                w.country_codes[int(r.country[i])],
                REPORTED_DEVICE_TYPES[int(r.reported_device[i])],
                int(hour[i]),
                "",  # blocks are a separate reason
            )
            assert not (matches and c.creative_for(width, height))
    unsupported = d.reason == UNSUPPORTED
    assert (w.plc_size[r.placement[unsupported]] == 8).all()  # video: no video creatives
    counts = np.bincount(d.reason, minlength=6)
    assert counts[POLICY] > 0 and counts[NO_MATCH] > 0 and counts[UNSUPPORTED] > 0


def test_reason_order_blocked_and_below_floor(small_world: World) -> None:
    w = small_world
    rng = minute_rng(2, MINUTE)
    r = generate_minute(w, MINUTE, 300, rng)
    blocked = ConstantBidPolicy(
        w, [_campaign(blocked_domains=set(w.pub_name))], holdout=0.0
    ).decide(r, rng)
    rect = w.plc_size[r.placement] == 0
    assert (blocked.reason[rect] == BLOCKED).all()
    assert (blocked.reason[~rect & (w.plc_size[r.placement] != 8)] == NO_MATCH).all()
    # a bid of a tenth of a cent is under every floor
    cheap = ConstantBidPolicy(w, [_campaign()], bid_fraction=0.0001, holdout=0.0)
    d = cheap.decide(r, rng)
    assert (d.reason[rect] == BELOW_FLOOR).all()


def test_campaigns_rotate_uniformly(small_world: World) -> None:
    w = small_world
    book = [
        _campaign(),
        Campaign(**{**_campaign().__dict__, "campaign_id": "c2"}),
    ]
    rng = minute_rng(3, MINUTE)
    r = generate_minute(w, MINUTE, 300, rng)
    d = ConstantBidPolicy(w, book, holdout=0.0).decide(r, rng)
    chosen = d.campaign[d.reason == BID]
    assert abs(np.mean(chosen == 1) - 0.5) < 0.05


def test_empty_book_is_refused(small_world: World) -> None:
    with pytest.raises(ValueError, match="empty"):
        ConstantBidPolicy(small_world, [])
