"""The campaign book's history in the warehouse: `bidlake build` exports the book's history
(bidlake.campaign_book) before dbt runs, stg_campaign_book__campaigns stages every version
with its [valid_from, valid_to), and the reports use the book as it was at each event's
time — here a budget and a name changed at 01:15 on the scenario's day, and a campaign
paused, in the book's own database, then built for real."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from bidlake.campaign_book.model import HistoryRow
from bidlake.campaign_book.store import CampaignStore
from bidlake.paths import Home
from tests.warehouse.conftest import write_scenario
from warehouse.build import BuildResult, build
from warehouse.catalog import connect_read_only

CHANGED_AT = datetime(2024, 6, 10, 1, 15, tzinfo=UTC)  # inside hour 01 of the scenario's day


@dataclass(frozen=True)
class Changed:
    home: Home
    result: BuildResult


def backdate(store: CampaignStore, campaign_id: str, at: datetime) -> None:
    """Move a campaign's last change to `at` (the scenario's events are from 2024): the
    version before it ends there, the new one starts there."""
    with Session(store.engine) as session, session.begin():
        rows = session.query(HistoryRow).filter(HistoryRow.campaign_id == campaign_id)
        newest = rows.order_by(HistoryRow.book_version.desc()).first()
        assert newest is not None
        session.execute(
            update(HistoryRow)
            .where(HistoryRow.campaign_id == campaign_id, HistoryRow.valid_to == newest.valid_from)
            .values(valid_to=at)
        )
        newest.valid_from = newest.changed_at = at


@pytest.fixture(scope="module")
def changed(tmp_path_factory: pytest.TempPathFactory) -> Changed:
    home = Home(tmp_path_factory.mktemp("book-history") / "home")
    write_scenario(home.raw)
    with closing(CampaignStore(home=home)) as book:
        book.update(
            "cmp-101",
            {"daily_budget_micros": 800_000_000, "name": "Shoes - summer"},
            by="analyst",
            note="mid-day raise",
        )
        backdate(book, "cmp-101", CHANGED_AT)
        book.set_status("cmp-104", "paused", by="ops")
    result = build(home=home, warn_error=True)
    if not result.success:
        failures = "\n".join(f"{n.name}: {n.message}" for n in result.failed)
        pytest.fail(f"build failed: {result.error or ''}\n{failures}")
    return Changed(home, result)


def query(home: Home, sql: str) -> list[tuple[Any, ...]]:
    con = connect_read_only(home)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_the_build_exports_the_books_history_first(changed: Changed) -> None:
    export = changed.home.root / "campaign_book" / "history.jsonl"
    assert export.exists()
    assert len(export.read_text().splitlines()) == 4 + 2  # seed + update + pause


def test_staging_holds_every_version_with_its_interval(changed: Changed) -> None:
    rows = query(
        changed.home,
        "select book_version, daily_budget_micros, campaign_name, valid_from, valid_to,"
        " is_current, change_action, changed_by from stg_campaign_book__campaigns"
        " where campaign_id = 'cmp-101' order by valid_from",
    )
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert rows == [
        (1, 400_000_000, "Shoes - retargeting CPA", epoch, CHANGED_AT, False, "seed", "bidlake"),
        (2, 800_000_000, "Shoes - summer", CHANGED_AT, None, True, "update", "analyst"),
    ]
    paused = query(
        changed.home,
        "select campaign_status from stg_campaign_book__campaigns"
        " where campaign_id = 'cmp-104' and is_current",
    )
    assert paused == [("paused",)]


def test_pacing_uses_the_budget_of_each_hour(changed: Changed) -> None:
    got = query(
        changed.home,
        "select hour_of_day, day_spend_micros, daily_budget_micros, paced_budget_micros"
        " from rpt_pacing where campaign_id = 'cmp-101' order by hour_of_day",
    )
    # Hour 00 ended before the 01:15 change: the old budget; hour 01, the new one.
    assert got == [
        (0, 3500, 400_000_000, 400_000_000 // 24),
        (1, 3500, 800_000_000, 800_000_000 * 2 // 24),
    ]
    campaigns = query(changed.home, "select count(distinct campaign_id) from rpt_pacing")
    assert campaigns == [(4,)]  # the paused campaign is still in the book


def test_daily_report_names_the_campaign_as_the_day_ended(changed: Changed) -> None:
    got = query(
        changed.home,
        "select campaign_name from rpt_campaign_daily where campaign_id = 'cmp-101'",
    )
    assert got == [("Shoes - summer",)]


def test_a_rebuild_sees_the_next_change(changed: Changed, tmp_path: Path) -> None:
    with closing(CampaignStore(home=changed.home)) as book:
        book.update("cmp-102", {"name": "Travel - autumn"}, by="analyst")
    result = build(home=changed.home, select=["stg_campaign_book__campaigns"], warn_error=True)
    assert result.success, [(n.name, n.message) for n in result.failed]
    rows = query(
        changed.home,
        "select campaign_name from stg_campaign_book__campaigns"
        " where campaign_id = 'cmp-102' and is_current",
    )
    assert rows == [("Travel - autumn",)]
