"""The exchange: which bid requests arrive in one minute, drawn from the world.

The rate follows the sun: every region contributes its traffic share times the local-hour
curve of `world_tables.LOCAL_HOUR_TRAFFIC`, so the geo mix changes through the UTC day (Asia in
the UTC morning, the Americas at night) and the rate averages exactly `qps` over a day.
The count of a minute is Poisson; arrival times are uniform within it.

Each request: region ∝ its current traffic → a recurring user of that region (heavy-
tailed activity) → the user's environment decides site or app → a publisher of that kind
(Zipf) → one of its placements shown on the user's device class → one of the publisher's
exchanges → floor, page URL, the device type as that exchange reports it.

One minute is drawn from its own generator, seeded by (seed, minute since epoch), so a
minute's traffic does not depend on the window it is simulated in: simulating 00-24 and
then 24-48 gives the same requests as 00-48.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator import market
from simulator.world import World
from simulator.world_tables import (
    ENV_DEVICE,
    ENV_IS_APP,
    EXCHANGE_GENERIC_MOBILE,
    LOCAL_HOUR_TRAFFIC,
    SECTIONS,
)

MINUTE_MS = 60_000
# Reported device types: the world's device classes, plus OpenRTB's generic "mobile".
REPORTED_DEVICE_TYPES = ("desktop", "phone", "tablet", "mobile")
MOBILE_REPORTED = 3


# Generator streams of a minute: what the exchange sends (and, in `simulate`, everything
# it causes), the simulated log faults, the outcomes of a replay against a bidder, and
# which auctions are first price (with the competitors' shading; drawn only when the
# first-price share is above 0, so the other streams never depend on it).
TRAFFIC, FAULTS, REPLAY, AUCTION = 1, 2, 3, 4


def minute_rng(seed: int, minute: int, stream: int = TRAFFIC) -> np.random.Generator:
    """The generator of one minute and stream; stream 0 is taken by the world."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, minute)))


def local_traffic(minute_of_day: np.ndarray) -> np.ndarray:
    """The local-hour traffic curve, linearly interpolated per minute, cyclic."""
    hours = (minute_of_day % 1440) / 60.0
    lo = np.floor(hours).astype(int) % 24
    frac = hours - np.floor(hours)
    return LOCAL_HOUR_TRAFFIC[lo] * (1 - frac) + LOCAL_HOUR_TRAFFIC[(lo + 1) % 24] * frac


def region_rates(world: World, minute: int) -> np.ndarray:
    """Relative traffic of each region at `minute` (minutes since epoch); sums to the
    multiplier of the mean rate (1.0 on average over a day)."""
    local = local_traffic(minute + world.region_offset_min)
    return world.region_share * local / LOCAL_HOUR_TRAFFIC.mean()


def local_hour(world: World, region: np.ndarray, time_ms: np.ndarray) -> np.ndarray:
    minutes = time_ms // MINUTE_MS + world.region_offset_min[region]
    return ((minutes % 1440) // 60).astype(np.int8)


@dataclass
class Requests:
    """The bid requests of one minute, in arrival order (arrays of equal length)."""

    minute: int
    seq: np.ndarray  # position within the minute: the id counter (simulator.ids)
    time_ms: np.ndarray  # int64 arrival, epoch ms
    user: np.ndarray
    region: np.ndarray
    country: np.ndarray
    publisher: np.ndarray
    placement: np.ndarray
    exchange: np.ndarray
    device: np.ndarray  # true device class (0 desktop, 1 phone, 2 tablet)
    reported_device: np.ndarray  # index into REPORTED_DEVICE_TYPES
    local_hour: np.ndarray
    floor_micros: np.ndarray
    page_section: np.ndarray  # index into SECTIONS
    page_article: np.ndarray  # -1: the exchange hides the page URL (or an app)

    def __len__(self) -> int:
        return len(self.seq)


def generate_minute(world: World, minute: int, qps: float, rng: np.random.Generator):
    """The requests arriving in `minute` at an average rate of `qps` requests/s."""
    rates = region_rates(world, minute)
    n = int(rng.poisson(qps * 60.0 * rates.sum()))
    time_ms = minute * MINUTE_MS + np.sort(rng.integers(0, MINUTE_MS, n))
    region = rng.choice(len(rates), n, p=rates / rates.sum()).astype(np.int16)
    user = world.user_by_region.sample(region, rng.random(n))
    env = world.user_env[user]
    device = ENV_DEVICE[env]
    is_app = ENV_IS_APP[env]
    publisher = world.pub_by_kind.sample(is_app.astype(np.int64), rng.random(n))
    placement = world.plc_by_pub_device.sample(
        publisher.astype(np.int64) * 3 + device, rng.random(n)
    )
    n_exch = world.pub_n_exchanges[publisher]
    exchange = world.pub_exchanges[publisher, (rng.random(n) * n_exch).astype(np.int64)]
    reported = np.where(
        EXCHANGE_GENERIC_MOBILE[exchange] & (device > 0), MOBILE_REPORTED, device
    ).astype(np.int8)
    country = world.region_country[region]
    section = rng.integers(0, len(SECTIONS), n).astype(np.int8)
    article = np.minimum(rng.zipf(1.3, n), world.config.articles_per_section)
    hidden = is_app | (rng.random(n) < world.config.page_hidden_rate)
    return Requests(
        minute=minute,
        seq=np.arange(n, dtype=np.int64),
        time_ms=time_ms.astype(np.int64),
        user=user,
        region=region,
        country=country,
        publisher=publisher,
        placement=placement,
        exchange=exchange,
        device=device,
        reported_device=reported,
        local_hour=local_hour(world, region, time_ms),
        floor_micros=market.floor_micros(world, placement, country),
        page_section=section,
        page_article=np.where(hidden, -1, article).astype(np.int32),
    )
