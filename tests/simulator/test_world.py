from __future__ import annotations

import numpy as np

from simulator.world import WeightedRows, World, build_world
from simulator.world_tables import ENV_DEVICE, SIZE_ON_DEVICE
from tests.simulator.conftest import SMALL


def test_same_seed_same_world_other_seed_other_world(small_world: World) -> None:
    again = build_world(11, SMALL)
    other = build_world(12, SMALL)
    assert again.pub_name == small_world.pub_name
    assert np.array_equal(again.user_key, small_world.user_key)
    assert np.array_equal(again.pub_ctr_effect, small_world.pub_ctr_effect)
    assert not np.array_equal(other.user_key, small_world.user_key)


def test_weighted_rows_draw_within_the_row_by_weight() -> None:
    rows = np.array([1, 0, 1, 1, 0])
    weights = np.array([1.0, 3.0, 2.0, 7.0, 1.0])
    items = np.array([10, 20, 30, 40, 50])
    table = WeightedRows(rows, weights, items, n_rows=2)
    rng = np.random.default_rng(0)
    n = 200_000
    drawn = table.sample(np.ones(n, dtype=np.int64), rng.random(n))
    assert set(drawn.tolist()) == {10, 30, 40}
    shares = {item: float(np.mean(drawn == item)) for item in (10, 30, 40)}
    assert abs(shares[10] - 0.1) < 0.005 and abs(shares[40] - 0.7) < 0.005
    assert set(table.sample(np.zeros(1000, dtype=np.int64), rng.random(1000)).tolist()) <= {20, 50}


def test_every_publisher_has_a_slot_for_every_device_class(small_world: World) -> None:
    w = small_world
    for device in range(3):
        rows = np.arange(len(w.pub_ids)) * 3 + device
        assert (w.plc_by_pub_device.count[rows] > 0).all()
        drawn = w.plc_by_pub_device.sample(rows, np.full(len(rows), 0.999))
        assert (w.plc_pub[drawn] == np.arange(len(w.pub_ids))).all()
        assert SIZE_ON_DEVICE[w.plc_size[drawn], device].all()


def test_users_are_consistent(small_world: World) -> None:
    w = small_world
    # every user's city belongs to the user's region; apps browse with "app" only
    assert (w.user_city >= w.region_city_start[w.user_region]).all()
    is_app = np.isin(w.user_env, [2, 4])
    assert (w.user_browser[is_app] == 5).all() and (w.user_browser[~is_app] != 5).all()
    desktop = ENV_DEVICE[w.user_env] == 0
    assert set(np.unique(w.user_os[desktop]).tolist()) <= {0, 1, 2}
    # some users are unknown to the exchange (no id), most are known
    unknown = float(np.mean(w.user_key == 0))
    assert 0.05 < unknown < 0.3


def test_publishers_are_zipf_popular(small_world: World) -> None:
    w = small_world
    rng = np.random.default_rng(1)
    n = 100_000
    pubs = w.pub_by_kind.sample(np.zeros(n, dtype=np.int64), rng.random(n))
    counts = np.sort(np.bincount(pubs, minlength=len(w.pub_ids)))[::-1]
    assert not w.pub_is_app[pubs].any()
    # the top 1 % of publishers take a large share of the traffic (a long tail)
    top = counts[: len(counts) // 100].sum() / n
    assert top > 0.3
