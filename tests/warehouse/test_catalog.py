"""The published catalog: names, read-only access, SQLAlchemy; readers during builds.

Readers keep working, and see whole publications, while builds and ingest run: reader
threads query the published catalog in a loop - each loop a fresh analyst connection,
as `bidlake sql` or a notebook would open - while, in another process, `bidlake build`
rebuilds the warehouse and swaps in a new catalog, and while new files land in the lake.
Every query must succeed, and within one connection the reports must agree with the
feature mart and staging (all from one publication, never a mix).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
import sqlalchemy

from benchmarks.warehouse.synth import synthesize
from bidlake.paths import REPO_ROOT, Home
from tests.warehouse.conftest import Built
from warehouse import catalog
from warehouse.build import build

EXPECTED_VIEWS = {
    "_publication",
    "ftr_ctr_training",
    "ftr_cvr_training",
    "raw_bid",
    "raw_bid_request",
    "raw_click",
    "raw_conversion",
    "raw_impression",
    "rpt_campaign_daily",
    "rpt_exchange_hourly",
    "rpt_no_bid_reasons",
    "rpt_pacing",
    "rpt_publisher_daily",
    "stg_campaign_book__campaigns",
    "stg_tracker__bid_requests",
    "stg_tracker__bids",
    "stg_tracker__clicks",
    "stg_tracker__conversions",
    "stg_tracker__impressions",
}


def test_every_model_and_raw_event_type_is_queryable_by_name(built_scenario: Built) -> None:
    con = catalog.connect_read_only(built_scenario.home)
    try:
        names = {r[0] for r in con.execute("show tables").fetchall()}
        comments = dict(
            con.execute(
                "select view_name, comment from duckdb_views() where not internal"
            ).fetchall()
        )
    finally:
        con.close()
    assert names == EXPECTED_VIEWS
    # analysts get the dbt descriptions with the views
    assert "per campaign and utc day" in (comments["rpt_campaign_daily"] or "").lower()


def test_catalog_is_read_only(built_scenario: Built) -> None:
    con = catalog.connect_read_only(built_scenario.home)
    try:
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute("create table scratch as select 1")
    finally:
        con.close()


def test_current_is_a_symlink_to_an_immutable_publication(built_scenario: Built) -> None:
    link = catalog.current_link(built_scenario.home)
    assert link.is_symlink() and not os.readlink(link).startswith("/")
    assert catalog.current_catalog(built_scenario.home) == built_scenario.result.publication.catalog


def test_sqlalchemy_reads_the_warehouse_through_the_analyst_engine(
    built_scenario: Built,
) -> None:
    # the bare duckdb:///...current.duckdb URL is gone: it ran COPY, ATTACH, any file read
    assert not hasattr(catalog, "sqlalchemy_url")
    engine = catalog.analyst_engine(built_scenario.home)
    try:
        with engine.connect() as connection:
            total = connection.execute(
                sqlalchemy.text("select sum(impressions) from rpt_campaign_daily")
            ).scalar_one()
            assert total == 3
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="CREATE statements"):
                connection.execute(sqlalchemy.text("create table scratch (x int)"))
    finally:
        engine.dispose()


# ---------------------------------------------------------------- readers while builds run

START_MS = 1_717_200_000_000  # 2024-06-01T00:00Z
HOUR_MS = 3_600_000
READERS = 3

CONSISTENCY = """
select
    (select publication_id from _publication),
    (select sum(impressions) from rpt_campaign_daily),
    (select count(*) from ftr_ctr_training),
    (select count(*) from stg_tracker__impressions),
    (select sum(bid_requests) from rpt_exchange_hourly),
    (select count(*) from stg_tracker__bid_requests)
"""


@dataclass
class Observations:
    queries: int = 0
    errors: list[str] = field(default_factory=list)
    inconsistent: list[tuple] = field(default_factory=list)
    publications: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _reader(home: Home, stop: threading.Event, seen: Observations) -> None:
    while not stop.is_set():
        try:
            con = catalog.connect_analyst(home)
            try:
                row = con.execute(CONSISTENCY).fetchall()[0]
                # an analyst's query on the raw lake, through the published file list
                con.execute(
                    "select exchange, event_hour, count(*) from raw_bid_request group by all"
                ).fetchall()
            finally:
                con.close()
        except Exception as exc:  # any error at all is a failure of the design under test
            with seen.lock:
                seen.errors.append(f"{type(exc).__name__}: {exc}")
            continue
        publication, impressions, ctr_rows, staged, requests, staged_requests = row
        with seen.lock:
            seen.queries += 1
            seen.publications.add(publication)
            if not (impressions == ctr_rows == staged and requests == staged_requests):
                seen.inconsistent.append(row)


def test_readers_during_a_build_and_ingest(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    synthesize(home.raw, START_MS, hours=1, rate=20)
    first = build(home=home)
    assert first.success and first.publication is not None

    seen = Observations()
    stop = threading.Event()
    readers = [
        threading.Thread(target=_reader, args=(home, stop, seen), daemon=True)
        for _ in range(READERS)
    ]
    for reader in readers:
        reader.start()
    try:
        # Ingest lands a new hour while readers read ...
        synthesize(home.raw, START_MS + HOUR_MS, hours=1, rate=20)
        # ... then a build in its own process, as cron or Dagster would run it.
        env = {**os.environ, "BIDLAKE_HOME": str(home.root)}
        build_process = subprocess.run(
            [sys.executable, "-m", "bidlake.cli", "build", "--warn-error"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        # and ingest again while readers still read the new publication
        synthesize(home.raw, START_MS + 2 * HOUR_MS, hours=1, rate=20)
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=60)

    assert build_process.returncode == 0, build_process.stderr[-3000:]
    assert "published" in build_process.stderr
    assert seen.errors == []
    assert seen.inconsistent == []
    assert seen.queries >= READERS
    # the readers really ran across the swap of catalogs
    assert first.publication.publication_id in seen.publications
    assert len(seen.publications) == 2


def test_readers_get_a_clear_error_before_the_first_build(tmp_path: Path) -> None:
    with pytest.raises(catalog.CatalogNotPublishedError, match="run `bidlake build` first"):
        catalog.connect_read_only(Home(tmp_path / "empty"))
