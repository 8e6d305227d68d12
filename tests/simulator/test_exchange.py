from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from simulator.exchange import generate_minute, local_hour, minute_rng, region_rates
from simulator.world import World

DAY_START = int(datetime(2026, 1, 6, tzinfo=UTC).timestamp()) // 60


def test_rate_follows_the_sun_and_averages_to_qps(small_world: World) -> None:
    w = small_world
    qps = 3.0
    hourly = np.zeros(24)
    us_hourly = np.zeros(24)
    us = w.country_codes.index("US")
    for m in range(1440):
        r = generate_minute(w, DAY_START + m, qps, minute_rng(1, DAY_START + m))
        hourly[m // 60] += len(r)
        us_hourly[m // 60] += int(np.sum(r.country == us))
    mean_rate = hourly.sum() / 86_400
    assert abs(mean_rate - qps) / qps < 0.02
    # global traffic: a clear diurnal shape (the geo mix flattens it a bit) ...
    assert hourly.max() / hourly.min() > 1.4
    # ... and much stronger within one country, peaking in the US evening (00-04 UTC)
    assert us_hourly.max() / us_hourly.min() > 3
    assert int(np.argmax(us_hourly)) in range(0, 5)
    assert int(np.argmin(us_hourly)) in range(8, 13)


def test_expected_rate_integrates_to_one_per_day(small_world: World) -> None:
    rates = [region_rates(small_world, DAY_START + m).sum() for m in range(1440)]
    assert abs(np.mean(rates) - 1.0) < 1e-9


def test_a_minute_is_the_same_whatever_else_is_drawn(small_world: World) -> None:
    a = generate_minute(small_world, DAY_START + 5, 20, minute_rng(3, DAY_START + 5))
    b = generate_minute(small_world, DAY_START + 5, 20, minute_rng(3, DAY_START + 5))
    assert np.array_equal(a.user, b.user) and np.array_equal(a.time_ms, b.time_ms)
    c = generate_minute(small_world, DAY_START + 5, 20, minute_rng(4, DAY_START + 5))
    assert not np.array_equal(a.user[:10], c.user[:10])


def test_requests_are_consistent(small_world: World) -> None:
    w = small_world
    r = generate_minute(w, DAY_START + 600, 200, minute_rng(0, DAY_START + 600))
    assert np.all(np.diff(r.time_ms) >= 0)
    assert r.time_ms.min() >= (DAY_START + 600) * 60_000
    assert r.time_ms.max() < (DAY_START + 601) * 60_000
    assert (w.plc_pub[r.placement] == r.publisher).all()
    assert (w.pub_is_app[r.publisher] == np.isin(w.user_env[r.user], [2, 4])).all()
    assert (r.local_hour == local_hour(w, w.user_region[r.user], r.time_ms)).all()
    # apps have no page URL
    assert (r.page_article[w.pub_is_app[r.publisher]] == -1).all()
    # the generic "mobile" device type comes only from the exchange that reports it
    mobile = r.reported_device == 3
    assert (r.exchange[mobile] == 4).all()
