"""Late, out-of-order and duplicated events end in the right report rows after the next run.

Real tracking-log files go through `ingest` and an incremental `build`, twice:

run 1 (2024-06-10, and a later day 2024-06-13)
  requests r1-r4 with bids b1-b4 (cmp-101); win notices for b1 and b2, b1's retried two
  minutes later in the same file; a click on b3 whose win notice has not arrived yet, and
  a conversion (order ord-1) two hours after it; the request, bid and win notice of b10
  on 2024-06-13.
run 2 (landed three days later)
  - days late: r5/b5 (cmp-102) of 2024-06-10 00:20, its win notice and a click;
  - out of order: b3's win notice (00:00:30), after its click (00:10) was ingested;
  - retried win notices: b1 again at 00:05 (same hour) and b2 again at 03:01 - three hours
    from its original, in another partition and another ingest run;
  - the conversion pixel of order ord-1 fired again, three days later.

The reports must count every event once, in the day of its own time: the click before its
win notice still labels the impression, the late day is rebuilt, and neither the retried
win notices nor the repeated order count twice. A full build of the same lake must agree.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bidlake.paths import Home
from contract.log_writer import TrackingLogWriter
from ingest.pipeline import ingest
from tests.warehouse.conftest import bid, click, impression, request
from tests.warehouse.lake import ms
from warehouse.build import BuildResult, build
from warehouse.catalog import connect_read_only


def at(event: dict, when: str) -> dict:
    """The event at another time (ISO, UTC)."""
    return {**event, "event_time": ms(when)}


def imp(bid_id: str, rid: str, when: str, campaign: str, price: int, user: str) -> dict:
    """A win notice as the bidder logs it: event_id = bid_id (one impression per won bid),
    event_time = when the notice arrived. A retried notice repeats the id, not the time."""
    return {
        **at(impression(bid_id, rid, "00:00:00", campaign, price, user), when),
        "event_id": bid_id,
    }


def order(order_id: str, when: str, campaign: str, user: str, bid_id: str) -> dict:
    return {
        "event_id": order_id,
        "event_time": ms(when),
        "campaign_id": campaign,
        "user_id": user,
        "bid_id": bid_id,
        "conversion_value_micros": 7_000_000,
        "conversion_type": "purchase",
    }


D1, D4 = "2024-06-10", "2024-06-13"

RUN_1 = {
    "bid_request": [
        at(request(f"r{i}", "00:00:00", "adx", "pub-a", f"u{i}"), f"{D1}T00:0{i}:00")
        for i in range(1, 5)
    ]
    + [at(request("r10", "00:00:00", "adx", "pub-a", "u10"), f"{D4}T10:00:00")],
    "bid": [
        at(bid(f"b{i}", f"r{i}", "00:00:00", "cmp-101", 3_000_000), f"{D1}T00:0{i}:00.020")
        for i in range(1, 5)
    ]
    + [at(bid("b10", "r10", "00:00:00", "cmp-101", 3_000_000), f"{D4}T10:00:00.020")],
    "impression": [
        imp("b1", "r1", f"{D1}T00:01:01", "cmp-101", 2_000_000, "u1"),
        imp("b1", "r1", f"{D1}T00:03:01", "cmp-101", 2_000_000, "u1"),  # retried notice
        imp("b2", "r2", f"{D1}T00:02:01", "cmp-101", 1_500_000, "u2"),
        imp("b10", "r10", f"{D4}T10:00:01", "cmp-101", 1_000_000, "u10"),
    ],
    "click": [at(click("c3", "b3", "00:00:00", "cmp-101", "u3"), f"{D1}T00:10:00")],
    "conversion": [order("ord-1", f"{D1}T02:00:00", "cmp-101", "u3", "b3")],
}
RUN_2 = {
    "bid_request": [at(request("r5", "00:00:00", "openx", "pub-c", "u5"), f"{D1}T00:20:00")],
    "bid": [at(bid("b5", "r5", "00:00:00", "cmp-102", 2_000_000), f"{D1}T00:20:00.020")],
    "impression": [
        imp("b5", "r5", f"{D1}T00:20:01", "cmp-102", 1_200_000, "u5"),  # three days late
        imp("b3", "r3", f"{D1}T00:03:30", "cmp-101", 2_500_000, "u3"),  # after its click
        imp("b1", "r1", f"{D1}T00:05:00", "cmp-101", 2_000_000, "u1"),  # retried, same hour
        imp("b2", "r2", f"{D1}T03:01:00", "cmp-101", 1_500_000, "u2"),  # retried 3 h later
    ],
    "click": [at(click("c5", "b5", "00:00:00", "cmp-102", "u5"), f"{D1}T00:25:00")],
    # the same order fired again, three days later
    "conversion": [order("ord-1", f"{D4}T09:00:00", "cmp-101", "u3", "b3")],
}

# (campaign, day) -> bids, impressions, clicks, conversions, spend_micros
EXPECTED = {
    ("cmp-101", D1): (4, 3, 1, 1, (2_000_000 + 1_500_000 + 2_500_000) // 1000),
    ("cmp-102", D1): (1, 1, 1, 0, 1_200_000 // 1000),
    ("cmp-101", D4): (1, 1, 0, 0, 1_000_000 // 1000),
}
CAMPAIGN_ROWS = """
    select campaign_id, report_date::varchar, bids, impressions, clicks, conversions,
           spend_micros
    from rpt_campaign_daily order by all
"""


def land(landing: Path, run: dict[str, list[dict]], writer: str) -> None:
    with TrackingLogWriter(landing, writer) as log:
        for event_type, events in run.items():
            for event in events:
                log.write(event_type, event)


def _ok(result: BuildResult) -> BuildResult:
    assert result.success, [(n.name, n.message[:300]) for n in result.failed] or result.error
    return result


def query(home: Home, sql: str) -> list[tuple]:
    con = connect_read_only(home)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def homes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Home, Home]:
    """The two runs ingested and built one after the other (incremental), and the same
    lake built once in full."""
    root = tmp_path_factory.mktemp("late")
    landing = root / "landing"
    home = Home(root / "home")
    land(landing, RUN_1, "run1")
    assert ingest(landing, home=home).accounted
    _ok(build(home=home))
    land(landing, RUN_2, "run2")
    second = ingest(landing, home=home)
    assert second.accounted
    _ok(build(home=home))

    full = Home(root / "full")
    land(root / "landing-1", RUN_1, "run1")
    land(root / "landing-2", RUN_2, "run2")
    ingest(root / "landing-1", home=full)
    ingest(root / "landing-2", home=full)
    _ok(build(home=full, full_refresh=True))
    return home, full


def test_reports_count_late_and_duplicated_events_once(homes: tuple[Home, Home]) -> None:
    home, _ = homes
    rows = {(r[0], r[1]): r[2:] for r in query(home, CAMPAIGN_ROWS)}
    assert rows == EXPECTED


def test_a_click_before_its_win_notice_still_labels_the_impression(
    homes: tuple[Home, Home],
) -> None:
    home, _ = homes
    labels = dict(query(home, "select bid_id, is_clicked from ftr_ctr_training"))
    assert labels == {"b1": False, "b2": False, "b3": True, "b5": True, "b10": False}


def test_each_event_is_once_in_staging(homes: tuple[Home, Home]) -> None:
    home, _ = homes
    impressions = query(
        home, "select impression_id, impression_at::varchar from stg_tracker__impressions"
    )
    assert sorted(i for i, _ in impressions) == ["b1", "b10", "b2", "b3", "b5"]
    first_b2 = [t for i, t in impressions if i == "b2"]
    assert first_b2 == ["2024-06-10 00:02:01+00"]  # the original notice, not the retry
    conversions = query(
        home, "select conversion_id, conversion_date::varchar from stg_tracker__conversions"
    )
    assert conversions == [("ord-1", D1)]


def test_the_incremental_runs_equal_a_full_build(homes: tuple[Home, Home]) -> None:
    home, full = homes
    for name in (
        "rpt_campaign_daily",
        "rpt_publisher_daily",
        "rpt_exchange_hourly",
        "ftr_ctr_training",
    ):
        sql = f"select * from {name} order by all"
        assert query(home, sql) == query(full, sql), name
