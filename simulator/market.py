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

The auction is second price (OpenRTB `at = 2`) with the floor as reserve: the highest bid
at or above the floor wins and pays max(second bid, floor) plus one cent, never more than
its own bid. A tie with the market loses (the exchange breaks ties by arrival; we are not
first).

First price (`at = 1`), on the share of the traffic the exchange runs that way
(`--first-price-share`, drawn per request from its own generator stream, `AUCTION`, so
a share of 0 draws nothing and changes no output): the highest bid at or above the floor
wins and pays its own bid. The competitors know the auction type and shade, as DSPs do
in first price: the market price above is the top competitor's value (what it bids in
second price, where bidding the value is the dominant strategy); in first price it bids
that value times a shading factor drawn per request from Beta(15, 5) (mean 0.75, sd
0.09). The symmetric equilibrium of a first-price auction with n bidders of uniform
values bids (n - 1)/n of the value: 0.67-0.80 for the 3-5 serious bidders an
impression typically has; the spread stands for competitors that shade more or less.
So in first price the competing bids are lower, and whoever wins pays what it bid: a
bidder that does not shade wins more often and pays more per win.
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
FIRST_PRICE, SECOND_PRICE = 1, 2  # OpenRTB BidRequest.at
SHADE_BETA = (15.0, 5.0)  # the top competitor's first-price bid / its value


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


def first_price(
    bid_micros: np.ndarray, market_micros: np.ndarray, floor: np.ndarray, shade: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(won, clearing price micros) in a first-price auction: the top competitor bids its
    value `market_micros` times `shade`; the winner pays its own bid."""
    shaded = np.round(market_micros * shade).astype(np.int64)
    competing = np.where(shaded >= floor, shaded, 0)
    won = (bid_micros >= floor) & (bid_micros > competing)
    return won, np.where(won, bid_micros, 0)


def auction(
    bid_micros: np.ndarray,
    market_micros: np.ndarray,
    floor: np.ndarray,
    auction_type: np.ndarray,
    shade: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(won, clearing price micros) per request, by its auction type (`FIRST_PRICE` or
    `SECOND_PRICE`); `shade` is needed only when some are first price."""
    won, clearing = second_price(bid_micros, market_micros, floor)
    first = auction_type == FIRST_PRICE
    if first.any():
        if shade is None:
            raise ValueError("first-price auctions need the competitors' shading factors")
        won[first], clearing[first] = first_price(
            bid_micros[first], market_micros[first], floor[first], shade[first]
        )
    return won, clearing


def auction_types(
    rng: np.random.Generator | None, n: int, first_price_share: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """(auction type per request, the top competitor's first-price shading per request):
    each request is first price with probability `first_price_share`. A share of 0 draws
    nothing (no generator is needed) and gives (all second price, None)."""
    if not first_price_share:
        return np.full(n, SECOND_PRICE, dtype=np.int8), None
    if rng is None:
        raise ValueError("a first-price share > 0 needs a generator")
    first = rng.random(n) < first_price_share
    shade = rng.beta(*SHADE_BETA, n)
    return np.where(first, FIRST_PRICE, SECOND_PRICE).astype(np.int8), shade
