"""The tables agree with each other: aligned lengths, weights that are distributions, a
user agent for every device/OS/browser the mixes can produce."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import world_tables as t


def test_per_value_tables_are_aligned() -> None:
    assert len(t.ENV_DEVICE) == len(t.ENV_IS_APP) == len(t.ENVIRONMENTS)
    assert set(t.ENV_DEVICE.tolist()) == set(range(len(t.DEVICE_CLASSES)))
    assert t.SIZE_ON_DEVICE.shape == (len(t.SIZES), len(t.DEVICE_CLASSES))
    assert len(t.SITE_SIZE_WEIGHTS) == len(t.APP_SIZE_WEIGHTS) == len(t.SIZES)
    exchange_tables = (t.EXCHANGE_WEIGHTS, t.EXCHANGE_TMAX_MS, t.EXCHANGE_GENERIC_MOBILE)
    assert {len(x) for x in exchange_tables} == {len(t.EXCHANGES)}
    assert len(t.SITE_CATEGORY_WEIGHTS) == len(t.APP_CATEGORY_WEIGHTS) == len(t.CATEGORIES)
    assert len(t.SEGMENT_RATES) == len(t.SEGMENTS)
    assert len(t.LOCAL_HOUR_TRAFFIC) == 24
    assert {r.country for r in t.REGIONS} == set(t.COUNTRIES)
    assert len(t.SITE_VISIBILITY_WEIGHTS) == len(t.APP_VISIBILITY_WEIGHTS) == len(t.VISIBILITIES)


@pytest.mark.parametrize(
    "weights",
    [
        t.SITE_SIZE_WEIGHTS,
        t.APP_SIZE_WEIGHTS,
        t.EXCHANGE_WEIGHTS,
        t.EXCHANGES_PER_PUBLISHER_WEIGHTS,
        t.SITE_VISIBILITY_WEIGHTS,
        t.APP_VISIBILITY_WEIGHTS,
    ],
)
def test_weights_are_distributions(weights) -> None:
    assert np.sum(weights) == pytest.approx(1.0) and min(weights) >= 0


def test_region_shares_sum_to_one_per_country() -> None:
    for country in t.COUNTRIES:
        shares = [r.share for r in t.REGIONS if r.country == country]
        assert sum(shares) == pytest.approx(1.0), country


def test_every_mixed_device_os_browser_has_user_agents() -> None:
    app = t.BROWSER_NAMES.index("app")
    os_of = {(d, is_app): {o for o, _ in mix} for (d, is_app), mix in t.OS_MIX.items()}
    web = {(d, o, b) for (d, o), mix in t.WEB_BROWSER_MIX.items() for b, _ in mix}
    apps = {(d, o, app) for (d, is_app), oses in os_of.items() if is_app for o in oses}
    assert web | apps <= set(t.USER_AGENTS)
    web_os = {(d, o) for (d, is_app), oses in os_of.items() if not is_app for o in oses}
    assert web_os <= set(t.WEB_BROWSER_MIX)
