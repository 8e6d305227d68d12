"""The known ground truth: why users click and convert, and when.

P(click | impression) is a logistic model over what the bidder can see in the bid
request (device, slot size, app or site, fold, OS, country, exchange, local hour, the
publisher and placement, the user's segments) and the campaign shown, with interactions:

    logit p_click = B0 + size + device + device×size + app + fold + os + exchange
                    + country + hour(local) + publisher + placement + user
                    + campaign + category×advertiser + segments×advertiser

P(conversion | click) (post-click, within the 7-day attribution window) likewise:

    logit p_conversion = C0 + advertiser + device×advertiser + segments×advertiser
                         + country price tier + hour(local) + publisher + user

The publisher, placement and user terms are hidden random effects drawn with the world
(`simulator.world`); publisher CTR and CVR effects are anti-correlated (click-bait
converts worse). A model trained on the logs can learn everything except the user terms
(user ids are not features), which keeps an irreducible part. Mean CTR comes out around
0.3-0.5 %, mean post-click CVR a few percent.

Conversions happen after a delay: a mixture of a fast lognormal (median 8 minutes) and a
slow one (median 20 hours), truncated to the 7-day attribution window, so `p_conversion`
is exactly P(an attributable conversion | click). Advertisers not in `PROFILES` (a
replaced campaign book) get the neutral profile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from simulator.world import World
from simulator.world_tables import CATEGORIES, ENV_DEVICE, SEGMENTS, SIZES

B0 = -6.55
C0 = -4.4

SIZE_CTR = np.array([0.0, -0.35, -0.20, 0.25, 0.15, -0.30, -0.10, 0.90, 0.50])
DEVICE_CTR = np.array([0.0, 0.25, 0.35])  # desktop, phone, tablet: fat fingers
# Additional effect of a size on a device class (the classic device × size interaction).
DEVICE_SIZE_CTR = np.zeros((len(SIZES), 3))
DEVICE_SIZE_CTR[7, 1] = 0.30  # phone interstitial
DEVICE_SIZE_CTR[3, 0] = 0.20  # desktop half page
DEVICE_SIZE_CTR[1, 2] = -0.30  # leaderboard on a tablet
DEVICE_SIZE_CTR[0, 1] = 0.20  # medium rectangle on a phone
DEVICE_SIZE_CTR[2, 0] = -0.15  # skyscraper on desktop (banner blindness)
APP_CTR = 0.20
VISIBILITY_CTR = np.array([0.30, -0.30, 0.0])  # above, below, unknown
OS_CTR = np.array([0.0, -0.05, -0.20, 0.10, 0.05])  # windows macos linux android ios
EXCHANGE_CTR = np.array([0.0, 0.05, -0.05, 0.0, -0.40, 0.10])  # openx: low-quality traffic

CONVERSION_WINDOW_MS = 7 * 24 * 3600 * 1000
CONVERSION_ID_KNOWN = 0.95  # share of conversions whose postback carries the click's bid id


@dataclass(frozen=True)
class AdvertiserProfile:
    """How an advertiser's ads perform, beyond the shared terms."""

    ctr: float = 0.0
    cvr: float = 0.0
    category_ctr: dict[str, float] = field(default_factory=dict)
    segment_ctr: dict[str, float] = field(default_factory=dict)
    segment_cvr: dict[str, float] = field(default_factory=dict)
    device_cvr: tuple[float, float, float] = (0.0, 0.0, 0.0)  # desktop, phone, tablet
    conversion_type: str = "purchase"
    value_median_usd: float = 50.0
    value_sigma: float = 0.5


PROFILES: dict[str, AdvertiserProfile] = {
    "adv-shoes": AdvertiserProfile(
        ctr=0.10,
        cvr=0.0,
        category_ctr={"fashion": 0.5, "shopping": 0.4, "sports": 0.2},
        segment_ctr={"rt:adv-shoes": 1.2, "fashion": 0.4, "shopper": 0.2, "fitness": 0.2},
        segment_cvr={"rt:adv-shoes": 1.5, "shopper": 0.4, "fashion": 0.3},
        device_cvr=(0.3, 0.0, 0.1),
        conversion_type="purchase",
        value_median_usd=85.0,
        value_sigma=0.5,
    ),
    "adv-travel": AdvertiserProfile(
        ctr=0.0,
        cvr=-1.0,
        category_ctr={"travel": 0.6, "weather": 0.2, "news": 0.1},
        segment_ctr={"travel-intender": 0.8, "rt:adv-travel": 1.0, "business": 0.2},
        segment_cvr={"travel-intender": 0.6, "rt:adv-travel": 1.4, "business": 0.3},
        device_cvr=(0.4, -0.3, 0.1),
        conversion_type="purchase",
        value_median_usd=420.0,
        value_sigma=0.7,
    ),
    "adv-games": AdvertiserProfile(
        ctr=0.20,
        cvr=0.8,
        category_ctr={"games": 0.7, "entertainment": 0.3, "social": 0.2},
        segment_ctr={"gamer": 0.9, "rt:adv-games": 0.8, "students": 0.2},
        segment_cvr={"gamer": 0.5, "rt:adv-games": 1.0},
        device_cvr=(-2.0, 0.5, 0.2),  # an install from a desktop click almost never happens
        conversion_type="install",
        value_median_usd=2.5,
        value_sigma=0.1,
    ),
    "adv-bank": AdvertiserProfile(
        ctr=-0.20,
        cvr=-0.3,
        category_ctr={"finance": 0.5, "news": 0.2, "tech": 0.1},
        segment_ctr={"finance-pro": 0.6, "rt:adv-bank": 1.0, "business": 0.3},
        segment_cvr={"finance-pro": 0.5, "rt:adv-bank": 1.2, "business": 0.2},
        device_cvr=(0.3, -0.2, 0.0),
        conversion_type="signup",
        value_median_usd=40.0,
        value_sigma=0.05,
    ),
}
NEUTRAL_PROFILE = AdvertiserProfile()


def hour_ctr(local_hour: np.ndarray) -> np.ndarray:
    """Evening browsing clicks more (peak at 21:00 local)."""
    return 0.20 * np.cos(2 * np.pi * (local_hour - 21) / 24)


def hour_cvr(local_hour: np.ndarray) -> np.ndarray:
    """Daytime clicks convert more (peak at 13:00 local)."""
    return 0.25 * np.cos(2 * np.pi * (local_hour - 13) / 24)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class Shown:
    """The impressions to score: one entry per impression (arrays of equal length)."""

    user: np.ndarray  # user index
    placement: np.ndarray  # placement index
    exchange: np.ndarray  # exchange index
    local_hour: np.ndarray  # 0..23
    campaign: np.ndarray  # index into the campaign book


class GroundTruth:
    """The true click and conversion model of one world and campaign book."""

    def __init__(self, world: World, advertisers: Sequence[str]):
        """`advertisers[i]` is the advertiser of campaign index i in `Shown.campaign`."""
        self.world = world
        profiles = [PROFILES.get(a, NEUTRAL_PROFILE) for a in advertisers]
        self.profiles = profiles
        seg_index = {s: i for i, s in enumerate(SEGMENTS)}
        cat_index = {c: i for i, c in enumerate(CATEGORIES)}
        n = len(profiles)
        self.campaign_ctr = np.array([p.ctr for p in profiles])
        self.campaign_cvr = np.array([p.cvr for p in profiles])
        self.category_ctr = np.zeros((n, len(CATEGORIES)))
        self.segment_ctr = np.zeros((n, len(SEGMENTS)))
        self.segment_cvr = np.zeros((n, len(SEGMENTS)))
        self.device_cvr = np.array([p.device_cvr for p in profiles]).reshape(n, 3)
        for i, p in enumerate(profiles):
            for name, v in p.category_ctr.items():
                self.category_ctr[i, cat_index[name]] = v
            for name, v in p.segment_ctr.items():
                self.segment_ctr[i, seg_index[name]] = v
            for name, v in p.segment_cvr.items():
                self.segment_cvr[i, seg_index[name]] = v
        self.value_log_median = np.log([p.value_median_usd for p in profiles])
        self.value_sigma = np.array([p.value_sigma for p in profiles])
        self.conversion_type = [p.conversion_type for p in profiles]
        self._bits = np.uint32(1) << np.arange(len(SEGMENTS), dtype=np.uint32)

    def _segment_bits(self, user: np.ndarray) -> np.ndarray:
        return (self.world.user_segments[user][:, None] & self._bits) != 0

    def p_click(self, s: Shown) -> np.ndarray:
        w = self.world
        size = w.plc_size[s.placement]
        pub = w.plc_pub[s.placement]
        env = w.user_env[s.user]
        device = ENV_DEVICE[env]
        country = w.region_country[w.user_region[s.user]]
        logit = (
            B0
            + SIZE_CTR[size]
            + DEVICE_CTR[device]
            + DEVICE_SIZE_CTR[size, device]
            + APP_CTR * w.pub_is_app[pub]
            + VISIBILITY_CTR[w.plc_visibility[s.placement]]
            + OS_CTR[w.user_os[s.user]]
            + EXCHANGE_CTR[s.exchange]
            + w.country_ctr[country]
            + hour_ctr(s.local_hour)
            + w.pub_ctr_effect[pub]
            + w.plc_ctr_effect[s.placement]
            + w.user_ctr_effect[s.user]
            + self.campaign_ctr[s.campaign]
            + self.category_ctr[s.campaign, w.pub_category[pub]]
            + (self._segment_bits(s.user) * self.segment_ctr[s.campaign]).sum(axis=1)
        )
        return _sigmoid(logit)

    def p_conversion(self, s: Shown) -> np.ndarray:
        w = self.world
        pub = w.plc_pub[s.placement]
        device = ENV_DEVICE[w.user_env[s.user]]
        country = w.region_country[w.user_region[s.user]]
        logit = (
            C0
            + self.campaign_cvr[s.campaign]
            + self.device_cvr[s.campaign, device]
            + (self._segment_bits(s.user) * self.segment_cvr[s.campaign]).sum(axis=1)
            + 0.3 * w.country_price[country]
            + hour_cvr(s.local_hour)
            + w.pub_cvr_effect[pub]
            + w.user_cvr_effect[s.user]
        )
        return _sigmoid(logit)

    def conversion_value_micros(self, rng: np.random.Generator, campaign: np.ndarray):
        return self.conversion_value_from_normal(campaign, rng.standard_normal(len(campaign)))

    def conversion_value_from_normal(self, campaign: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Conversion values in micros (whole cents) from standard normal draws `z`."""
        usd = np.exp(self.value_log_median[campaign] + self.value_sigma[campaign] * z)
        return np.round(usd * 100).astype(np.int64) * 10_000


def click_delay_ms(rng: np.random.Generator, n: int) -> np.ndarray:
    """Impression → click: median 12 s, most within a minute, at least 1 s."""
    return np.maximum(1_000, np.exp(rng.normal(np.log(12_000), 1.0, n))).astype(np.int64)


def conversion_delay_ms(rng: np.random.Generator, n: int) -> np.ndarray:
    """Click → conversion: 55 % fast (median 8 min), 45 % slow (median 20 h), < 7 days."""
    fast = rng.random(n) < 0.55
    mu = np.where(fast, np.log(8 * 60_000), np.log(20 * 3_600_000))
    sigma = np.where(fast, 1.0, 1.2)
    delay = np.exp(rng.normal(mu, sigma))
    # Truncate to the attribution window by redrawing (not clipping: no spike at 7 days).
    over = np.flatnonzero(delay >= CONVERSION_WINDOW_MS - 60_000)
    while len(over):
        delay[over] = np.exp(rng.normal(mu[over], sigma[over]))
        over = over[delay[over] >= CONVERSION_WINDOW_MS - 60_000]
    return np.maximum(delay, 30_000).astype(np.int64)
