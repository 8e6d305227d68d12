from __future__ import annotations

import numpy as np

from simulator import market
from simulator.world import World


def test_second_price_pays_the_second_bid_or_the_floor_plus_a_cent() -> None:
    bid = np.array([3_000_000, 3_000_000, 3_000_000, 3_000_000, 500_000, 2_000_000])
    mkt = np.array([1_000_000, 0, 400_000, 3_000_000, 0, 2_995_000])
    floor = np.array([500_000, 500_000, 500_000, 500_000, 600_000, 100_000])
    won, clearing = market.second_price(bid, mkt, floor)
    assert won.tolist() == [True, True, True, False, False, False]
    # market above floor: market + 1 cent; no (valid) competitor: floor + 1 cent
    assert clearing.tolist() == [1_010_000, 510_000, 510_000, 0, 0, 0]


def test_clearing_never_exceeds_the_bid() -> None:
    won, clearing = market.second_price(
        np.array([1_005_000]), np.array([1_000_000]), np.array([10_000])
    )
    assert won[0] and clearing[0] == 1_005_000


def test_market_price_depends_on_the_request(small_world: World) -> None:
    w = small_world
    rng = np.random.default_rng(0)
    n = 50_000
    users = rng.integers(0, len(w.user_key), n)
    placements = rng.integers(0, len(w.plc_ids), n)
    price = market.market_price_micros(
        w, rng, users, placements, np.zeros(n, dtype=np.int64), np.full(n, 20)
    )
    assert 0.02 < np.mean(price == 0) < 0.08  # sometimes nobody else bids
    country = w.region_country[w.user_region[users]]
    us, india = w.country_codes.index("US"), w.country_codes.index("IN")
    assert np.median(price[country == us]) > 2 * np.median(price[country == india])
    video = w.plc_size[placements] == 8
    assert np.median(price[video]) > np.median(price[~video])


def test_floors_are_whole_cents(small_world: World) -> None:
    floors = market.floor_micros(
        small_world, np.arange(len(small_world.plc_ids)), np.zeros(len(small_world.plc_ids), int)
    )
    assert (floors % 10_000 == 0).all() and (floors >= 10_000).all()
