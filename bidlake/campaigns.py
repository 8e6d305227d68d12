"""The campaign book: budgets, goals, targeting and creatives, from `campaigns.json`.

One source of truth shared by the simulator's default bidder and the real bidder.
`BIDLAKE_CAMPAIGNS` points at another file of the same shape.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATH = Path(__file__).with_name("campaigns.json")
GOALS = ("cpc", "cpa")


@dataclass(frozen=True)
class Creative:
    creative_id: str
    width: int
    height: int
    format: str


@dataclass(frozen=True)
class Targeting:
    countries: frozenset[str]  # empty = any
    device_types: frozenset[str]  # empty = any
    hours: frozenset[int]  # UTC hours of day; empty = any
    blocked_domains: frozenset[str]

    def matches(self, country: str, device_type: str, hour: int, domain: str) -> bool:
        return (
            (not self.countries or country in self.countries)
            and (not self.device_types or device_type in self.device_types)
            and (not self.hours or hour in self.hours)
            and domain not in self.blocked_domains
        )


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    advertiser_id: str
    name: str
    goal: str  # "cpc" or "cpa"
    goal_micros: int  # what the advertiser pays per click (cpc) or conversion (cpa)
    max_bid_cpm_micros: int
    daily_budget_micros: int
    frequency_cap_per_day: int
    creatives: tuple[Creative, ...]
    adomain: tuple[str, ...]
    targeting: Targeting
    # IAB content categories of the ads (OpenRTB `cat`), matched against a request's `bcat`.
    categories: tuple[str, ...] = ()

    def creative_for(self, width: int, height: int) -> Creative | None:
        for creative in self.creatives:
            if creative.width == width and creative.height == height:
                return creative
        return None


class CampaignConfigError(ValueError):
    pass


def _campaign(raw: dict, where: str) -> Campaign:
    try:
        targeting = raw.get("targeting", {})
        campaign = Campaign(
            campaign_id=str(raw["campaign_id"]),
            advertiser_id=str(raw["advertiser_id"]),
            name=str(raw.get("name", raw["campaign_id"])),
            goal=str(raw["goal"]),
            goal_micros=int(raw["goal_micros"]),
            max_bid_cpm_micros=int(raw["max_bid_cpm_micros"]),
            daily_budget_micros=int(raw["daily_budget_micros"]),
            frequency_cap_per_day=int(raw.get("frequency_cap_per_day", 0)),
            creatives=tuple(Creative(**c) for c in raw["creatives"]),
            adomain=tuple(raw.get("adomain", ())),
            categories=tuple(str(c) for c in raw.get("categories", ())),
            targeting=Targeting(
                countries=frozenset(targeting.get("countries", ())),
                device_types=frozenset(targeting.get("device_types", ())),
                hours=frozenset(int(h) for h in targeting.get("hours", ())),
                blocked_domains=frozenset(targeting.get("blocked_domains", ())),
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CampaignConfigError(f"{where}: invalid campaign: {exc!r}") from exc
    if campaign.goal not in GOALS:
        raise CampaignConfigError(f"{where}: goal must be one of {GOALS}, got {campaign.goal!r}")
    if min(campaign.goal_micros, campaign.max_bid_cpm_micros, campaign.daily_budget_micros) <= 0:
        raise CampaignConfigError(f"{where}: goal, max bid and budget must be > 0")
    return campaign


def load_campaigns(path: Path | None = None) -> tuple[Campaign, ...]:
    path = path or Path(os.environ.get("BIDLAKE_CAMPAIGNS", DEFAULT_PATH))
    data = json.loads(Path(path).read_text())
    campaigns = tuple(
        _campaign(raw, f"{path}: campaigns[{i}]") for i, raw in enumerate(data["campaigns"])
    )
    ids = [c.campaign_id for c in campaigns]
    if len(set(ids)) != len(ids):
        raise CampaignConfigError(f"{path}: duplicate campaign_id")
    return campaigns
