"""The default bidder of `bidlake simulate`: constant bids by campaign, with targeting.

What it does per opportunity, in the order a real bidder checks (the first failing
check is the logged `no_bid_reason`):

1. `unsupported`: no campaign has a creative of the requested format (video slots);
2. `no_matching_campaign`: no campaign targets the country, the device type as the
   exchange reports it, the UTC hour, and has a creative of the slot's size;
3. `blocked`: the only campaigns that match block the publisher's domain / bundle;
4. `below_floor`: every remaining campaign's constant bid is under the floor;
5. `policy`: the opportunity falls in the random holdout (`holdout`, 5 %);
6. otherwise bid: one of the remaining campaigns, chosen uniformly at random.

The constant bid of a campaign is `bid_fraction` (30 %) of its max bid, rounded to cents.
Rotating campaigns uniformly (instead of always the highest bid) is deliberate: the logs
are the first training set of the CTR/CVR models, and a logging policy that shows every
campaign on every inventory it targets gives them data without a selection bias
between campaigns. Budgets, pacing and frequency caps are the real bidder's business
(issue 6); this policy ignores them, and the summary reports spend against budgets.

Targeting semantics are those of `bidlake.campaigns.Targeting.matches`, evaluated as
lookup tables over the world's codes (tests check they agree with `matches`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bidlake.campaigns import Campaign
from simulator.exchange import REPORTED_DEVICE_TYPES, Requests
from simulator.world import World
from simulator.world_tables import SIZES

NO_BID_REASONS = (
    "",
    "unsupported",
    "no_matching_campaign",
    "blocked",
    "below_floor",
    "policy",
)
BID, UNSUPPORTED, NO_MATCH, BLOCKED, BELOW_FLOOR, POLICY = range(6)


@dataclass(frozen=True)
class Decisions:
    campaign: np.ndarray  # int16 index into the book, -1 = no bid
    creative: np.ndarray  # int16 index into ConstantBidPolicy.creatives, -1 = no bid
    bid_micros: np.ndarray  # int64, 0 = no bid
    reason: np.ndarray  # int8 index into NO_BID_REASONS (0 = bid)


class ConstantBidPolicy:
    def __init__(
        self,
        world: World,
        campaigns: Sequence[Campaign],
        bid_fraction: float = 0.3,
        holdout: float = 0.05,
    ):
        if not campaigns:
            raise ValueError("the campaign book is empty: nothing to bid for")
        self.campaigns = tuple(campaigns)
        self.holdout = holdout
        n = len(campaigns)
        self.bid_micros = np.array(
            [round(c.max_bid_cpm_micros * bid_fraction / 10_000) * 10_000 for c in campaigns],
            dtype=np.int64,
        )
        countries = world.country_codes
        self.country_ok = np.array(
            [
                [not c.targeting.countries or x in c.targeting.countries for x in countries]
                for c in campaigns
            ]
        )
        self.device_ok = np.array(
            [
                [
                    not c.targeting.device_types or d in c.targeting.device_types
                    for d in REPORTED_DEVICE_TYPES
                ]
                for c in campaigns
            ]
        )
        self.hour_ok = np.array(
            [
                [not c.targeting.hours or h in c.targeting.hours for h in range(24)]
                for c in campaigns
            ]
        )
        self.blocked = np.array(
            [[name in c.targeting.blocked_domains for name in world.pub_name] for c in campaigns]
        )
        # creative per (campaign, world size); formats must agree too.
        self.creatives: list[tuple[str, int]] = []  # (creative_id, campaign index)
        self.creative_of = np.full((n, len(SIZES)), -1, dtype=np.int16)
        for i, c in enumerate(campaigns):
            for s, (w, h, fmt) in enumerate(SIZES):
                creative = c.creative_for(w, h)
                if creative is not None and creative.format == fmt:
                    self.creative_of[i, s] = len(self.creatives)
                    self.creatives.append((creative.creative_id, i))
        formats = {cr.format for c in campaigns for cr in c.creatives}
        self.format_served = np.array([fmt in formats for _, _, fmt in SIZES])
        self.world = world

    def decide(self, r: Requests, rng: np.random.Generator) -> Decisions:
        w = self.world
        size = w.plc_size[r.placement]
        utc_hour = (r.time_ms // 3_600_000) % 24
        matches = (
            self.country_ok[:, r.country]
            & self.device_ok[:, r.reported_device]
            & self.hour_ok[:, utc_hour]
            & (self.creative_of[:, size] >= 0)
        )  # [campaign, request]
        eligible = matches & ~self.blocked[:, r.publisher]
        affordable = eligible & (self.bid_micros[:, None] >= r.floor_micros)
        holdout = rng.random(len(r)) < self.holdout
        pick_u = rng.random(len(r))

        reason = np.full(len(r), BID, dtype=np.int8)
        reason[holdout] = POLICY
        reason[~affordable.any(axis=0)] = BELOW_FLOOR
        reason[~eligible.any(axis=0)] = BLOCKED
        reason[~matches.any(axis=0)] = NO_MATCH
        reason[~self.format_served[size]] = UNSUPPORTED

        # Uniform choice among the affordable campaigns: the k-th true one, k ~ U{0..n-1}.
        count = affordable.sum(axis=0)
        k = (pick_u * count).astype(np.int64)
        chosen = np.argmax(np.cumsum(affordable, axis=0) > k, axis=0)
        bids = reason == BID
        campaign = np.where(bids, chosen, -1).astype(np.int16)
        creative = np.where(bids, self.creative_of[np.maximum(campaign, 0), size], -1)
        return Decisions(
            campaign=campaign,
            creative=creative.astype(np.int16),
            bid_micros=np.where(bids, self.bid_micros[np.maximum(campaign, 0)], 0),
            reason=reason,
        )
