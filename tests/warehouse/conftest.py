"""Fixtures of the warehouse tests: a hand-picked scenario lake and one shared build of it.

dbt costs seconds per invocation, so the scenario is built once per session
(`built_scenario`) and the read-only tests share it; tests that change a lake build their
own copy. One PostgreSQL server (`postgres_url`) serves the export tests of the session.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from bidlake.paths import Home
from tests.support import postgres
from tests.warehouse.lake import ms, write_events
from warehouse.build import BuildResult, build

DAY = "2024-06-10"


def t(clock: str) -> int:
    """Epoch ms of a time on the scenario's day, e.g. t("00:05:00")."""
    return ms(f"{DAY}T{clock}")


def request(
    rid: str, clock: str, exchange: str, publisher: str, user: str, **extra: object
) -> dict:
    return {
        "event_id": f"{rid}:1",
        "event_time": t(clock),
        "request_id": rid,
        "imp_id": "1",
        "exchange": exchange,
        "publisher_id": publisher,
        "site_domain": f"{publisher}.example",
        "placement_id": f"{publisher}-top",
        "ad_format": "banner",
        "ad_width": 300,
        "ad_height": 250,
        "slot_visibility": "above_fold",
        "device_type": "phone",
        "os": "android",
        "browser": "chrome",
        "country": "US",
        "region": "CA",
        "city": "Oakland",
        "user_id": user,
        "user_segments": ["s1", "s2"],
        "bidfloor_micros": 100_000,
        "currency": "USD",
        "tmax_ms": 100,
        "auction_type": 1,
        "user_hour": 17,
        **extra,
    }


def bid(bid_id: str, rid: str, clock: str, campaign: str, price: int) -> dict:
    return {
        "event_id": bid_id,
        "event_time": t(clock),
        "request_id": rid,
        "imp_id": "1",
        "campaign_id": campaign,
        "creative_id": f"cr-{campaign[4:]}-300x250",
        "advertiser_id": {"cmp-101": "adv-shoes", "cmp-102": "adv-travel"}[campaign],
        "bid_price_micros": price,
        "pctr": 0.002,
        "pcvr": 0.05,
    }


def impression(bid_id: str, rid: str, clock: str, campaign: str, price: int, user: str) -> dict:
    return {
        "event_id": f"imp-{bid_id}",
        "event_time": t(clock),
        "bid_id": bid_id,
        "request_id": rid,
        "campaign_id": campaign,
        "creative_id": f"cr-{campaign[4:]}-300x250",
        "clearing_price_micros": price,
        "user_id": user,
    }


def click(click_id: str, bid_id: str, clock: str, campaign: str, user: str) -> dict:
    return {
        "event_id": click_id,
        "event_time": t(clock),
        "bid_id": bid_id,
        "campaign_id": campaign,
        "user_id": user,
    }


def conversion(conv_id: str, clock: str, campaign: str, user: str, value: int) -> dict:
    return {
        "event_id": conv_id,
        "event_time": t(clock),
        "campaign_id": campaign,
        "user_id": user,
        "conversion_value_micros": value,
        "conversion_type": "purchase",
    }


def write_scenario(raw: Path) -> None:
    """The first batch of the scenario (see test_models.py for what it must report).

    adx: r1..r4 (r4 not bid: pacing); openx: r5 (bid lands in hour 01), r6 (below floor).
    Bids b1, b2 (cmp-101) and b3, b5 (cmp-102); b3 loses. Impressions i1, i2, i5 (hour 01).
    Click c1 on b1. Conversions: v1 after c1 (post-click), v2 after seeing i2 (post-view),
    v3 unexplained (none). Duplicates: r1 in two files, i1 twice, c1 in two files.
    """
    r1 = request("r1", "00:00:10", "adx", "pub-a", "u1")
    requests = [
        r1,
        request("r2", "00:01:00", "adx", "pub-a", "u2"),
        request("r3", "00:02:00", "adx", "pub-b", "u3", device_type="desktop", os="windows"),
        request("r4", "00:03:00", "adx", "pub-b", "u4", no_bid_reason="pacing"),
        request("r5", "00:59:59.950", "openx", "pub-c", "u5", app_bundle="com.x", site_domain=""),
        request("r6", "00:10:00", "openx", "pub-c", "u6", no_bid_reason="below_floor"),
    ]
    write_events(raw, "bid_request", requests, "batch-1")
    write_events(raw, "bid_request", [r1], "batch-1-resent")  # at-least-once delivery
    write_events(
        raw,
        "bid",
        [
            bid("b1", "r1", "00:00:10.020", "cmp-101", 3_000_000),
            bid("b2", "r2", "00:01:00.020", "cmp-101", 2_500_000),
            bid("b3", "r3", "00:02:00.020", "cmp-102", 2_000_000),
            bid("b5", "r5", "01:00:00.010", "cmp-102", 2_200_000),
        ],
        "batch-1",
    )
    i1 = impression("b1", "r1", "00:00:10.500", "cmp-101", 2_000_000, "u1")
    write_events(
        raw,
        "impression",
        [
            i1,
            i1,
            impression("b2", "r2", "00:01:01", "cmp-101", 1_500_000, "u2"),
            impression("b5", "r5", "01:00:01", "cmp-102", 1_000_000, "u5"),
        ],
        "batch-1",
    )
    c1 = click("c1", "b1", "00:05:00", "cmp-101", "u1")
    write_events(raw, "click", [c1], "batch-1")
    write_events(raw, "click", [c1], "batch-1-resent")
    write_events(
        raw,
        "conversion",
        [
            conversion("v1", "02:05:00", "cmp-101", "u1", 5_000_000),
            conversion("v2", "00:31:01", "cmp-101", "u2", 2_000_000),
            conversion("v3", "03:00:00", "cmp-102", "u9", 1_000_000),
        ],
        "batch-1",
    )


def write_late_batch(raw: Path) -> None:
    """A second batch: late events for hour 00, a new hour 02, a late click and conversion.

    r7/b7/i7 (cmp-102, adx) land in the already-built hour 00; r8 opens hour 02 (openx, no
    bid); click c2 on b2 at 02:30 relabels i2 (clicked) without re-attributing v2 (the
    click is after it); conversion v4 of u7 is post-view on i7.
    """
    write_events(
        raw,
        "bid_request",
        [
            request("r7", "00:20:00", "adx", "pub-a", "u7"),
            request("r8", "02:00:00", "openx", "pub-c", "u8", no_bid_reason="budget_exhausted"),
        ],
        "batch-2",
    )
    write_events(raw, "bid", [bid("b7", "r7", "00:20:00.020", "cmp-102", 2_000_000)], "batch-2")
    write_events(
        raw,
        "impression",
        [impression("b7", "r7", "00:20:01", "cmp-102", 3_000_000, "u7")],
        "batch-2",
    )
    write_events(raw, "click", [click("c2", "b2", "02:30:00", "cmp-101", "u2")], "batch-2")
    write_events(
        raw, "conversion", [conversion("v4", "02:40:00", "cmp-102", "u7", 4_000_000)], "batch-2"
    )


@dataclass(frozen=True)
class Built:
    home: Home
    result: BuildResult


@pytest.fixture(scope="session")
def built_scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """The scenario's first batch, built with warnings as errors and published once."""
    home = Home(tmp_path_factory.mktemp("scenario") / "home")
    write_scenario(home.raw)
    result = build(home=home, warn_error=True)
    if not result.success:
        failures = "\n".join(f"{n.name}: {n.message}" for n in result.failed)
        pytest.fail(f"scenario build failed: {result.error or ''}\n{failures}")
    yield Built(home, result)


def copy_lake(source: Home, target_root: Path) -> Home:
    """A new home holding a copy of `source`'s lake (nothing built)."""
    target = Home(target_root)
    shutil.copytree(source.raw, target.raw)
    return target


@pytest.fixture
def scenario_home(built_scenario: Built, monkeypatch: pytest.MonkeyPatch) -> Built:
    """The shared build, as this test's BIDLAKE_HOME (for the CLI)."""
    monkeypatch.setenv("BIDLAKE_HOME", str(built_scenario.home.root))
    return built_scenario


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres.running() as server:
        yield server.sqlalchemy_url


def pg(url: str, sql: str) -> list[tuple]:
    """The rows of `sql` in the PostgreSQL at `url` (a SQLAlchemy URL)."""
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as con:
        return con.execute(sql).fetchall()
