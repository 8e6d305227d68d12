"""`export_reporting` against a real PostgreSQL server (conftest.postgres_url)."""

from __future__ import annotations

import psycopg
import pytest

from tests.warehouse.conftest import Built, pg
from warehouse.catalog import connect_read_only
from warehouse.export import ExportError, export_reporting

MARTS = (
    "rpt_campaign_daily",
    "rpt_exchange_hourly",
    "rpt_no_bid_reasons",
    "rpt_pacing",
    "rpt_publisher_daily",
)


def catalog_rows(built: Built, name: str) -> list[tuple]:
    con = connect_read_only(built.home)
    try:
        return sorted(con.execute(f"select * from {name}").fetchall(), key=repr)
    finally:
        con.close()


def test_export_copies_every_reporting_mart_exactly(
    built_scenario: Built, postgres_url: str
) -> None:
    report = export_reporting(postgres_url, home=built_scenario.home)
    assert tuple(t.name for t in report.tables) == MARTS
    assert "bidlake:***@127.0.0.1" in report.url  # the password is hidden
    for name in MARTS:
        exported = sorted(pg(postgres_url, f"select * from reporting.{name}"), key=repr)
        assert exported == catalog_rows(built_scenario, name), name
    recorded = pg(postgres_url, "select publication_id, tables from reporting._export")
    assert recorded == [(report.publication_id, list(MARTS))]


def test_export_is_idempotent(built_scenario: Built, postgres_url: str) -> None:
    first = export_reporting(postgres_url, home=built_scenario.home)
    before = {n: sorted(pg(postgres_url, f"select * from reporting.{n}"), key=repr) for n in MARTS}
    second = export_reporting(postgres_url, home=built_scenario.home)
    after = {n: sorted(pg(postgres_url, f"select * from reporting.{n}"), key=repr) for n in MARTS}
    assert before == after
    assert [t.rows for t in first.tables] == [t.rows for t in second.tables]
    assert not any(t.recreated for t in second.tables)


def test_export_keeps_the_grain_unique(built_scenario: Built, postgres_url: str) -> None:
    export_reporting(postgres_url, home=built_scenario.home)
    with pytest.raises(psycopg.errors.UniqueViolation):
        pg(
            postgres_url,
            "insert into reporting.rpt_campaign_daily (campaign_id, report_date) "
            "select campaign_id, report_date from reporting.rpt_campaign_daily limit 1",
        )


def test_export_recreates_a_table_whose_columns_changed(
    built_scenario: Built, postgres_url: str
) -> None:
    export_reporting(postgres_url, home=built_scenario.home)
    with psycopg.connect(postgres_url.replace("postgresql+psycopg", "postgresql")) as con:
        con.execute("alter table reporting.rpt_pacing drop column pacing_ratio")
    report = export_reporting(postgres_url, home=built_scenario.home)
    assert [t.name for t in report.tables if t.recreated] == ["rpt_pacing"]
    assert sorted(pg(postgres_url, "select * from reporting.rpt_pacing"), key=repr) == catalog_rows(
        built_scenario, "rpt_pacing"
    )


def test_export_refuses_urls_it_cannot_copy_to(built_scenario: Built) -> None:
    with pytest.raises(ExportError, match="postgresql\\+psycopg"):
        export_reporting("mysql://u:secret@h/db", home=built_scenario.home)
    with pytest.raises(ExportError, match="not a SQLAlchemy URL"):
        export_reporting("not a url", home=built_scenario.home)
