"""Competing bidders and the exchange's auction.

The other buyers are one number per request: the highest competing bid (the market
price), lognormal with a log-median that depends on the request — slot size, device,
app or site, above the fold, exchange, the user's country (price tier), local hour, how
many segments the user carries (more data, more buyers) and the publisher (good
inventory is priced up: the publisher's price effect is correlated with its hidden CTR
effect, so a CTR model finds bargains a constant bidder does not). With probability
`NO_COMPETITION` nobody else bids.

Floors: each placement has a base floor; the exchange scales it by the country's price
tier and rounds to whole cents.

The auction is second price with the floor as reserve: the highest bid at or above the
floor wins and pays max(second bid, floor) plus one cent, never more than its own bid.
A tie with the market loses (the exchange breaks ties by arrival; we are not first).
"""

from __future__ import annotations

import numpy as np

from simulator.world import World
from simulator.world_tables import ENV_DEVICE

MARKET_LOG_MEDIAN_USD = np.log(6.0)
MARKET_SIGMA = 0.7
NO_COMPETITION = 0.05
SIZE_PRICE = np.array([0.0, -0.20, -0.30, 0.30, 0.40, -0.60, -0.40, 0.50, 1.20])
DEVICE_PRICE = np.array([0.0, -0.10, 0.0])
APP_PRICE = 0.10
VISIBILITY_PRICE = np.array([0.15, -0.15, 0.0])
EXCHANGE_PRICE = np.array([0.10, 0.0, -0.05, 0.0, -0.15, 0.05])
SEGMENT_PRICE = 0.05  # per segment the user carries
FLOOR_TIER = 0.8  # floors follow the country's price tier, a bit less than the market
MICROS = 1_000_000
INCREMENT_MICROS = 10_000  # one cent CPM


def hour_price(local_hour: np.ndarray) -> np.ndarray:
    return 0.10 * np.cos(2 * np.pi * (local_hour - 20) / 24)


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x)


def floor_micros(world: World, placement: np.ndarray, country: np.ndarray) -> np.ndarray:
    cpm = world.plc_floor_cpm[placement] * np.exp(FLOOR_TIER * world.country_price[country])
    cents = np.maximum(1, np.round(cpm * 100))
    return cents.astype(np.int64) * INCREMENT_MICROS


def market_price_micros(
    world: World,
    rng: np.random.Generator,
    user: np.ndarray,
    placement: np.ndarray,
    exchange: np.ndarray,
    local_hour: np.ndarray,
) -> np.ndarray:
    """The highest competing bid per request, CPM micros; 0 where nobody else bids."""
    pub = world.plc_pub[placement]
    country = world.region_country[world.user_region[user]]
    log_median = (
        MARKET_LOG_MEDIAN_USD
        + SIZE_PRICE[world.plc_size[placement]]
        + DEVICE_PRICE[ENV_DEVICE[world.user_env[user]]]
        + APP_PRICE * world.pub_is_app[pub]
        + VISIBILITY_PRICE[world.plc_visibility[placement]]
        + EXCHANGE_PRICE[exchange]
        + world.country_price[country]
        + hour_price(local_hour)
        + SEGMENT_PRICE * _popcount(world.user_segments[user])
        + world.pub_price_effect[pub]
    )
    n = len(user)
    usd = np.exp(log_median + MARKET_SIGMA * rng.standard_normal(n))
    price = np.round(usd * MICROS).astype(np.int64)
    price[rng.random(n) < NO_COMPETITION] = 0
    return price


def second_price(
    bid_micros: np.ndarray, market_micros: np.ndarray, floor: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(won, clearing price micros) of our bids against the market, floor as reserve."""
    competing = np.where(market_micros >= floor, market_micros, 0)
    won = (bid_micros >= floor) & (bid_micros > competing)
    clearing = np.minimum(bid_micros, np.maximum(competing, floor) + INCREMENT_MICROS)
    return won, np.where(won, clearing, 0)
