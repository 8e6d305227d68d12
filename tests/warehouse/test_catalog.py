"""The published catalog: names, read-only access, SQLAlchemy, retention of old ones."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
import sqlalchemy

from bidlake.paths import Home
from tests.warehouse.conftest import Built, write_scenario
from warehouse import catalog
from warehouse.build import build
from warehouse.publish import publish

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


def test_sqlalchemy_url_reads_the_warehouse_read_only(
    built_scenario: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIDLAKE_HOME", str(built_scenario.home.root))
    url = catalog.sqlalchemy_url()
    assert (
        url == f"duckdb:///{built_scenario.home.catalog / 'current.duckdb'}?access_mode=read_only"
    )
    # any SQLAlchemy client, with just the URL (duckdb-engine)
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            total = connection.execute(
                sqlalchemy.text("select sum(impressions) from rpt_campaign_daily")
            ).scalar_one()
            assert total == 3
            with pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only"):
                connection.execute(sqlalchemy.text("create table scratch (x int)"))
    finally:
        engine.dispose()
    # the helper: UTC, and a fresh (current) catalog on every connection
    helper = catalog.create_engine()
    try:
        with helper.connect() as connection:
            zone = connection.execute(sqlalchemy.text("select current_setting('TimeZone')"))
            assert zone.scalar_one() == "UTC"
    finally:
        helper.dispose()


def test_old_publications_are_removed_after_the_grace_period(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    write_scenario(home.raw)
    first = build(home=home)
    assert first.success and first.publication is not None
    reader = catalog.connect_read_only(home)  # a reader on the first publication
    second = publish(home, grace=3600.0)
    kept = sorted(p.name for p in (home.catalog / "publications").iterdir())
    assert kept == sorted([first.publication.publication_id, second.publication_id])
    # within the grace period the old reader still reads
    assert reader.execute("select count(*) from ftr_ctr_training").fetchall() == [(3,)]
    reader.close()
    third = publish(home, grace=0.0)
    assert third.removed_publications == 2
    assert [p.name for p in (home.catalog / "publications").iterdir()] == [third.publication_id]
    # only the files the current catalog uses remain, and it still reads them all
    data_files = {
        str(p.relative_to(home.catalog)) for p in (home.catalog / "data").rglob("*.parquet")
    }
    manifest_files = catalog_files(home)
    assert data_files == manifest_files
    con = catalog.connect_read_only(home)
    try:
        assert con.execute("select count(*) from ftr_ctr_training").fetchall() == [(3,)]
    finally:
        con.close()


def catalog_files(home: Home) -> set[str]:
    import json

    manifest = json.loads((catalog.current_catalog(home).parent / "manifest.json").read_text())
    return {
        f
        for entry in manifest["relations"].values()
        if entry["kind"] == "snapshot"
        for f in entry["files"]
    }
