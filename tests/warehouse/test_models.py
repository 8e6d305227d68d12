"""The marts of the scenario (conftest.write_scenario), number by number.

The build ran every dbt test and unit test with warnings as errors (built_scenario); these
check the business answers against values worked out by hand from the scenario's events.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

import duckdb
import pytest

from tests.warehouse.conftest import Built
from warehouse import project
from warehouse.catalog import connect_read_only

DAY = date(2024, 6, 10)


def rows(built: Built, sql: str) -> list[tuple]:
    con = connect_read_only(built.home)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def dicts(built: Built, sql: str) -> list[dict]:
    con = connect_read_only(built.home)
    try:
        result = con.execute(sql)
        names = [d[0] for d in result.description]
        return [dict(zip(names, r, strict=True)) for r in result.fetchall()]
    finally:
        con.close()


def hour(h: int) -> datetime:
    return datetime(2024, 6, 10, h, tzinfo=UTC)


def test_every_node_ran_and_passed(built_scenario: Built) -> None:
    result = built_scenario.result
    assert result.success and not result.failed
    ran = Counter(n.resource_type for n in result.nodes)
    assert ran["model"] == 18
    assert ran["unit_test"] >= 5
    assert ran["test"] >= 60


def test_staging_removes_duplicate_deliveries(built_scenario: Built) -> None:
    counts = rows(
        built_scenario,
        "select (select count(*) from raw_bid_request),"
        " (select count(*) from stg_tracker__bid_requests),"
        " (select count(*) from raw_impression), (select count(*) from stg_tracker__impressions),"
        " (select count(*) from raw_click), (select count(*) from stg_tracker__clicks)",
    )
    assert counts == [(7, 6, 4, 3, 2, 1)]


def test_campaign_daily(built_scenario: Built) -> None:
    got = {
        r["campaign_id"]: r
        for r in dicts(built_scenario, "select * from rpt_campaign_daily order by campaign_id")
    }
    assert set(got) == {"cmp-101", "cmp-102"}
    shoes = got["cmp-101"]
    assert shoes["report_date"] == DAY and shoes["campaign_name"] == "Shoes - retargeting CPA"
    assert (shoes["bids"], shoes["impressions"], shoes["clicks"]) == (2, 2, 1)
    # v1 is post-click (after c1), v2 post-view (after seeing i2); spend = (2.0 + 1.5) / 1000 USD
    assert (
        shoes["conversions"],
        shoes["post_click_conversions"],
        shoes["post_view_conversions"],
    ) == (2, 1, 1)
    assert (shoes["spend_micros"], shoes["conversion_value_micros"]) == (3500, 7_000_000)
    assert shoes["win_rate"] == 1.0 and shoes["ctr"] == 0.5 and shoes["cvr"] == 1.0
    assert shoes["ecpm"] == pytest.approx(1.75) and shoes["ecpc"] == pytest.approx(0.0035)
    assert shoes["cpa"] == pytest.approx(0.00175) and shoes["roas"] == pytest.approx(2000.0)
    travel = got["cmp-102"]
    # b3 lost, b5 won (its notice arrives in hour 01); v3 has no touch: unattributed
    assert (travel["bids"], travel["impressions"], travel["clicks"], travel["conversions"]) == (
        2,
        1,
        0,
        0,
    )
    assert travel["spend_micros"] == 1000 and travel["win_rate"] == 0.5 and travel["ctr"] == 0.0
    # rates without a denominator are NULL, not 0
    assert travel["cvr"] is None and travel["ecpc"] is None and travel["cpa"] is None
    assert travel["roas"] == 0.0


def test_exchange_hourly(built_scenario: Built) -> None:
    got = {
        (r[0], r[1]): r[2:]
        for r in rows(
            built_scenario,
            "select exchange, report_hour, bid_requests, bids, bid_rate, impressions, win_rate,"
            " spend_micros, clicks from rpt_exchange_hourly",
        )
    }
    assert got == {
        ("adx", hour(0)): (4, 3, 0.75, 2, pytest.approx(2 / 3), 3500, 1),
        ("openx", hour(0)): (2, 0, 0.0, 0, None, 0, 0),
        # r5 came at 00:59:59.950; its bid and win notice are in hour 01
        ("openx", hour(1)): (0, 1, None, 1, 1.0, 1000, 0),
    }


def test_no_bid_reasons(built_scenario: Built) -> None:
    got = rows(
        built_scenario,
        "select exchange, no_bid_reason, no_bids, bid_requests, share_of_bid_requests"
        " from rpt_no_bid_reasons order by exchange",
    )
    assert got == [("adx", "pacing", 1, 4, 0.25), ("openx", "below_floor", 1, 2, 0.5)]


def test_publisher_daily(built_scenario: Built) -> None:
    got = rows(
        built_scenario,
        "select exchange, publisher_id, bid_requests, bids, impressions, spend_micros, clicks"
        " from rpt_publisher_daily order by 1, 2",
    )
    assert got == [
        ("adx", "pub-a", 2, 2, 2, 3500, 1),
        ("adx", "pub-b", 2, 1, 0, 0, 0),
        ("openx", "pub-c", 2, 1, 1, 1000, 0),
    ]


def test_pacing_against_the_books_budget(built_scenario: Built) -> None:
    got = rows(
        built_scenario,
        "select hour_of_day, spend_micros, day_spend_micros, daily_budget_micros,"
        " paced_budget_micros from rpt_pacing where campaign_id = 'cmp-101' order by 1",
    )
    # daily budget 400 USD in bidlake/campaigns.json; even pacing is 1/24 of it per hour
    assert got == [
        (0, 3500, 3500, 400_000_000, 400_000_000 // 24),
        (1, 0, 3500, 400_000_000, 400_000_000 * 2 // 24),
    ]
    campaigns = rows(built_scenario, "select count(distinct campaign_id) from rpt_pacing")
    assert campaigns == [(4,)]  # every campaign of the book, spend or not


def test_attribution(built_scenario: Built) -> None:
    # int_ models are not published; read this one from the build database (no build runs).
    con = duckdb.connect(str(project.build_database(built_scenario.home)), read_only=True)
    try:
        got = con.execute(
            "select conversion_id, attribution_type, attributed_click_id, attributed_bid_id"
            " from intermediate.int_conversions_attributed order by 1"
        ).fetchall()
    finally:
        con.close()
    assert got == [
        ("v1", "post_click", "c1", "b1"),
        ("v2", "post_view", None, "b2"),
        ("v3", "none", None, None),
    ]
    cvr = dicts(built_scenario, "select * from ftr_cvr_training")
    assert len(cvr) == 1 and cvr[0]["click_id"] == "c1"
    assert cvr[0]["is_converted"] is True
    # the newest event is v3 at 03:00: the click's 7-day window is far from over
    assert cvr[0]["is_label_mature"] is False


def test_ctr_training_rows_have_bid_time_features_and_labels(built_scenario: Built) -> None:
    got = {r["impression_id"]: r for r in dicts(built_scenario, "select * from ftr_ctr_training")}
    assert set(got) == {"imp-b1", "imp-b2", "imp-b5"}
    assert [got[i]["is_clicked"] for i in ("imp-b1", "imp-b2", "imp-b5")] == [True, False, False]
    first = got["imp-b1"]
    assert (first["exchange"], first["publisher_id"], first["device_type"]) == (
        "adx",
        "pub-a",
        "phone",
    )
    assert first["user_segments"] == ["s1", "s2"] and first["bidfloor_micros"] == 100_000
    assert (first["campaign_id"], first["creative_id"]) == ("cmp-101", "cr-101-300x250")
    assert first["impression_date"] == DAY and first["request_id"] == "r1"
    # the app request keeps the contract's "" for the missing site domain (as the bidder sees it)
    assert (got["imp-b5"]["site_domain"], got["imp-b5"]["app_bundle"]) == ("", "com.x")
