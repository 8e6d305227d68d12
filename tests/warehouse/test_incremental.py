"""Incremental builds: late events are picked up, and the result equals a full rebuild.

One home gets the scenario, a build, then a late batch (events for an already built hour,
a new hour, a late click and conversion) and an incremental build. A second home gets the
same lake in one go and a --full-refresh build. Every published model must be identical,
and the incremental build must have rebuilt only the hours the late batch touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest

from bidlake.paths import Home
from tests.warehouse.conftest import copy_lake, write_late_batch, write_scenario
from warehouse import project
from warehouse.build import BuildResult, build
from warehouse.catalog import connect_read_only

PUBLISHED = (
    "rpt_campaign_daily",
    "rpt_exchange_hourly",
    "rpt_publisher_daily",
    "rpt_no_bid_reasons",
    "rpt_pacing",
    "ftr_ctr_training",
    "ftr_cvr_training",
    "stg_tracker__bid_requests",
    "stg_tracker__bids",
    "stg_tracker__impressions",
    "stg_tracker__clicks",
    "stg_tracker__conversions",
    "stg_campaign_book__campaigns",
)


@dataclass(frozen=True)
class Runs:
    incremental_home: Home
    full_home: Home
    first: BuildResult
    second: BuildResult
    full: BuildResult


def _ok(result: BuildResult) -> BuildResult:
    assert result.success, [(n.name, n.message) for n in result.failed] or result.error
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    root = tmp_path_factory.mktemp("incremental")
    home = Home(root / "incremental")
    write_scenario(home.raw)
    first = _ok(build(home=home, warn_error=True))
    write_late_batch(home.raw)
    second = _ok(build(home=home, warn_error=True))
    full_home = copy_lake(home, root / "full")
    full = _ok(build(home=full_home, warn_error=True, full_refresh=True))
    yield Runs(home, full_home, first, second, full)


def published(home: Home, name: str) -> list[tuple]:
    con = connect_read_only(home)
    try:
        return sorted(con.execute(f"select * from {name}").fetchall(), key=repr)
    finally:
        con.close()


@pytest.mark.parametrize("name", PUBLISHED)
def test_incremental_equals_full_rebuild(runs: Runs, name: str) -> None:
    assert published(runs.incremental_home, name) == published(runs.full_home, name)


def test_late_events_change_the_reports(runs: Runs) -> None:
    daily = {
        r[0]: r[1:]
        for r in published(runs.incremental_home, "rpt_campaign_daily")
        if r[1] == date(2024, 6, 10)
    }
    con = connect_read_only(runs.incremental_home)
    try:
        columns = [d[0] for d in con.execute("select * from rpt_campaign_daily").description]
    finally:
        con.close()
    shoes = dict(zip(columns[1:], daily["cmp-101"], strict=True))
    travel = dict(zip(columns[1:], daily["cmp-102"], strict=True))
    assert (shoes["clicks"], shoes["ctr"], shoes["conversions"]) == (2, 1.0, 2)  # c2 late click
    assert (travel["bids"], travel["impressions"], travel["spend_micros"]) == (3, 2, 4000)  # b7/i7
    assert (travel["conversions"], travel["conversion_value_micros"]) == (1, 4_000_000)  # v4
    clicked = published(runs.incremental_home, "ftr_ctr_training")
    assert {r[0]: r[-1] for r in clicked} == {
        "imp-b1": True,
        "imp-b2": True,  # relabelled by the late click c2
        "imp-b5": False,
        "imp-b7": False,
    }


def _writes(home: Home, invocation_model: str) -> set[tuple[str, int | None]]:
    con = duckdb.connect(str(project.build_database(home)), read_only=True)
    try:
        rows = con.execute(
            "select w.part_date::varchar, w.part_hour from bidlake_state.partition_writes w"
            " join bidlake_state.invocation i using (invocation_id) where w.model = ?",
            [invocation_model],
        ).fetchall()
    finally:
        con.close()
    return set(rows)


def test_incremental_build_rebuilt_only_the_touched_hours(runs: Runs) -> None:
    day = "2024-06-10"
    # hour 00 got late bids; hour 01 holds bids of requests of hour 00 (it was rebuilt
    # because request hour 00 changed); hour 02 is new. Nothing else was touched.
    assert _writes(runs.incremental_home, "int_bids_joined_to_requests") == {(day, 0), (day, 1)}
    assert _writes(runs.incremental_home, "rpt_no_bid_reasons") == {(day, 0), (day, 2)}
    # CTR rows: hour 00 got i7 and the relabelled i2; hour 01 because its impressions'
    # bids were rebuilt (their context may have changed); nothing later
    assert _writes(runs.incremental_home, "ftr_ctr_training") == {(day, 0), (day, 1)}
    # the exchange report: 00 (late events), 01 (its bids were rebuilt), 02 (new, and c2)
    assert _writes(runs.incremental_home, "rpt_exchange_hourly") == {(day, 0), (day, 1), (day, 2)}


def test_publication_rewrites_only_rebuilt_partitions(runs: Runs) -> None:
    publication = runs.second.publication
    assert publication is not None
    written = {r.name: r.files_written for r in publication.relations}
    for name in ("ftr_ctr_training", "rpt_exchange_hourly", "rpt_no_bid_reasons"):
        assert written[name] == len(_writes(runs.incremental_home, name)), name
    # rpt_exchange_hourly has 3 hours, all rebuilt; the new pacing table is whole each time
    assert written["rpt_pacing"] == 1


def test_incremental_build_tests_only_the_new_hours(runs: Runs) -> None:
    # Same tests ran, but each looked at the new hours only: it is the windows that shrink,
    # so the same node count with less work (not asserted as time: see benchmarks/).
    tests = [sum(n.resource_type == "test" for n in r.nodes) for r in (runs.first, runs.second)]
    assert tests[0] == tests[1]


def test_a_build_with_nothing_new_changes_nothing(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    write_scenario(home.raw)
    _ok(build(home=home))
    before = {name: published(home, name) for name in PUBLISHED}
    again = _ok(build(home=home))
    assert again.publication is not None
    assert all(
        r.files_written == 0
        for r in again.publication.relations
        if r.kind == "snapshot"
        and r.name.startswith(("ftr_ctr", "rpt_exchange", "rpt_no_bid", "rpt_publisher"))
    )
    assert {name: published(home, name) for name in PUBLISHED} == before
