from __future__ import annotations

import numpy as np
import pytest

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


def test_first_price_pays_the_own_bid_against_shaded_competitors() -> None:
    bid = np.array([3_000_000, 3_000_000, 3_000_000, 500_000, 2_000_000, 700_000])
    mkt = np.array([3_500_000, 4_000_000, 0, 0, 2_500_000, 800_000])
    floor = np.array([500_000, 500_000, 500_000, 600_000, 100_000, 760_000])
    shade = np.array([0.8, 0.8, 0.8, 0.8, 0.8, 0.9])
    won, clearing = market.first_price(bid, mkt, floor, shade)
    # 3.5 shaded is 2.8 < 3.0: won; 4.0 -> 3.2 beats it; nobody else: the bid, not the floor;
    # under the floor: lost; a tie with the shaded market loses; a shaded competitor under
    # the floor does not count (720k < 760k floor), but our bid must clear the floor too
    assert won.tolist() == [True, False, True, False, False, False]
    assert clearing.tolist() == [3_000_000, 0, 3_000_000, 0, 0, 0]


def test_the_auction_follows_each_requests_type() -> None:
    bid = np.full(4, 3_000_000)
    mkt = np.full(4, 3_500_000)
    floor = np.full(4, 100_000)
    kind = np.array([market.SECOND_PRICE, market.FIRST_PRICE] * 2, dtype=np.int8)
    shade = np.full(4, 0.5)
    won, clearing = market.auction(bid, mkt, floor, kind, shade)
    # second price: the market outbids us; first price: it shades to 1.75 and we pay 3.0
    assert won.tolist() == [False, True, False, True]
    assert clearing.tolist() == [0, 3_000_000, 0, 3_000_000]
    with pytest.raises(ValueError, match="shading"):
        market.auction(bid, mkt, floor, kind, None)
    assert market.auction(bid, mkt, floor, np.full(4, 2, dtype=np.int8), None)[0].sum() == 0


def test_auction_types_respect_the_share_and_draw_nothing_at_zero() -> None:
    kind, shade = market.auction_types(None, 5, 0.0)
    assert kind.tolist() == [market.SECOND_PRICE] * 5 and shade is None
    rng = np.random.default_rng(1)
    n = 200_000
    for share in (0.1, 0.5, 1.0):
        kind, shade = market.auction_types(rng, n, share)
        first = np.mean(kind == market.FIRST_PRICE)
        assert abs(first - share) < 4 * np.sqrt(share * (1 - share) / n) + 1e-12
        assert shade is not None and 0.72 < shade.mean() < 0.78 and shade.min() > 0
        assert shade.max() < 1  # a competitor never bids above its value
    with pytest.raises(ValueError, match="generator"):
        market.auction_types(None, 5, 0.5)
