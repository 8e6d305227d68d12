"""Analyst SQL is sandboxed alike through `bidlake sql`, Python and SQLAlchemy (issue 11).

Every attack of the issue, each through the three paths, must be refused with an error that
says what was refused; every kind of query an analyst needs must still work and give the
same rows on the three paths; and after all the attacks the published data and files are
byte for byte what they were. Published files are read-only on disk (mode bits; the test
process runs as root, which ignores them, so a non-root-like subprocess checks them for
real). See docs/security.md, "Analyst SQL".
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
import sqlalchemy

from bidlake import cli
from bidlake.paths import REPO_ROOT, Home
from tests.warehouse.conftest import Built
from warehouse import catalog, publish, sandbox


class Refused(Exception):
    """A path refused the SQL; the message is what the analyst sees."""


Runner = Callable[[str], list[tuple]]

PATHS = ("cli", "python", "sqlalchemy")


def normalized(rows: list[Any]) -> list[tuple]:
    """Rows as JSON would carry them (dates as text), to compare the three paths."""
    return [tuple(json.loads(orjson.dumps(list(r), default=str))) for r in rows]


@pytest.fixture(scope="module")
def engine(built_scenario: Built) -> Iterator[sqlalchemy.Engine]:
    engine = catalog.analyst_engine(built_scenario.home)
    yield engine
    engine.dispose()


def runner(
    path: str, home: Home, engine: sqlalchemy.Engine, capsys: pytest.CaptureFixture[str]
) -> Runner:
    """One way in (CLI, Python, SQLAlchemy): SQL -> rows, or Refused(the error)."""

    def via_cli(sql: str) -> list[tuple]:
        status = cli.main(["sql", sql, "--format", "json"])
        out, err = capsys.readouterr()
        if status != 0:
            raise Refused(err)
        return [tuple(row.values()) for row in json.loads(out)]

    def via_python(sql: str) -> list[tuple]:
        with catalog.connect_analyst(home) as con:
            try:
                return normalized(con.execute(sql).fetchall())
            except duckdb.Error as exc:
                raise Refused(str(exc)) from exc

    def via_sqlalchemy(sql: str) -> list[tuple]:
        with engine.connect() as connection:
            try:
                return normalized(list(connection.exec_driver_sql(sql).fetchall()))
            except sqlalchemy.exc.DBAPIError as exc:
                raise Refused(str(exc)) from exc

    return {"cli": via_cli, "python": via_python, "sqlalchemy": via_sqlalchemy}[path]


@pytest.fixture(params=PATHS)
def run(
    request: pytest.FixtureRequest,
    scenario_home: Built,
    engine: sqlalchemy.Engine,
    capsys: pytest.CaptureFixture[str],
) -> Runner:
    return runner(request.param, scenario_home.home, engine, capsys)


def snapshot_file(home: Home, model: str) -> Path:
    manifest = json.loads((catalog.current_catalog(home).parent / "manifest.json").read_text())
    return home.catalog / manifest["relations"][model]["files"][0]


# ------------------------------------------------------------------------------- attacks

# (id, SQL with {lake} {catalog} {home} {snapshot}, what the error must say)
ATTACKS = [
    (
        "copy-over-a-published-snapshot",
        "COPY (SELECT * REPLACE (999999 AS clicks) FROM rpt_campaign_daily) "
        "TO '{snapshot}' (FORMAT parquet)",
        "COPY statements are not allowed",
    ),
    ("copy-into-the-lake", "COPY (SELECT 1) TO '{lake}/x.csv'", "COPY statements"),
    ("copy-from", "COPY rpt_pacing FROM '{lake}/x.csv'", "COPY statements"),
    (
        "attach-read-write",
        "ATTACH '{catalog}/scratch.duckdb' AS scratch (READ_ONLY false)",
        "ATTACH statements",
    ),
    ("attach-memory", "ATTACH ':memory:' AS scratch", "ATTACH statements"),
    ("detach", "DETACH catalog", "DETACH statements"),
    ("export-database", "EXPORT DATABASE '{catalog}/export'", "EXPORT statements"),
    ("set", "SET threads = 1", "SET/RESET/USE (or PRAGMA x = y) statements"),
    ("set-external-access", "SET enable_external_access = true", "SET/RESET/USE"),
    ("unlock", "SET lock_configuration = false", "SET/RESET/USE"),
    ("reset", "RESET allowed_directories", "SET/RESET/USE"),
    ("use", "USE memory", "SET/RESET/USE"),
    ("set-variable", "SET VARIABLE x = 1", "SET"),
    ("pragma-assignment", "PRAGMA threads = 4", "SET/RESET/USE (or PRAGMA x = y)"),
    ("pragma", "PRAGMA enable_profiling", "PRAGMA statements"),
    ("call", "CALL pragma_version()", "CALL/CHECKPOINT"),
    ("checkpoint", "CHECKPOINT", "CALL/CHECKPOINT"),
    ("temp-table", "CREATE TEMP TABLE t AS SELECT 1", "CREATE statements"),
    ("create-view", "CREATE VIEW memory.main.v AS SELECT 1", "CREATE statements"),
    ("create-macro", "CREATE MACRO m() AS 1", "CREATE statements"),
    ("insert", "INSERT INTO rpt_pacing SELECT * FROM rpt_pacing", "INSERT statements"),
    ("drop-view", "DROP VIEW rpt_campaign_daily", "DROP statements"),
    ("begin", "BEGIN TRANSACTION", "transaction"),
    ("install", "INSTALL httpfs", "INSTALL/LOAD statements"),
    ("load", "LOAD httpfs", "INSTALL/LOAD statements"),
    ("several", "SELECT 1; SELECT 2", "2 statements (SELECT, SELECT); one per call"),
    (
        "select-then-copy",
        "SELECT 1; COPY (SELECT 1) TO '{lake}/x.csv'",
        "2 statements (SELECT, COPY); one per call",
    ),
    ("nothing", "-- just a comment", "no SQL statement"),
    (
        "explain-analyze-copy",
        "EXPLAIN ANALYZE COPY (SELECT 1) TO '{lake}/x.csv'",
        "EXPLAIN of COPY is not allowed",
    ),
    (
        "explain-analyze-temp-table",
        "EXPLAIN ANALYZE CREATE TEMP TABLE t AS SELECT 1",
        "EXPLAIN of CREATE is not allowed",
    ),
    ("pivot-without-in", "PIVOT rpt_pacing ON campaign_id", "multi-step"),
    ("read-text-passwd", "SELECT * FROM read_text('/etc/passwd')", "Cannot access file"),
    ("read-csv-passwd", "SELECT * FROM read_csv('/etc/passwd')", "Cannot access file"),
    ("glob-root", "SELECT * FROM glob('/root/*')", "Cannot access file"),
    ("glob-home", "SELECT * FROM glob('{home}/*')", "Cannot access file"),
    ("build-database", "SELECT * FROM read_blob('{home}/build.duckdb')", "Cannot access file"),
    (
        "dotdot-out-of-the-catalog",
        "SELECT * FROM read_text('{catalog}/../build.duckdb')",
        "Cannot access file",
    ),
    ("url", "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')", "Cannot access file"),
]


def attack_sql(home: Home, template: str) -> str:
    return template.format(
        lake=home.raw,
        catalog=home.catalog,
        home=home.root,
        snapshot=snapshot_file(home, "rpt_campaign_daily"),
    )


@pytest.mark.parametrize(("template", "says"), [pytest.param(t, s, id=i) for i, t, s in ATTACKS])
def test_each_attack_is_refused_with_a_clear_error(
    run: Runner, scenario_home: Built, template: str, says: str
) -> None:
    with pytest.raises(Refused) as refused:
        run(attack_sql(scenario_home.home, template))
    assert says in str(refused.value)


def published_state(home: Home) -> tuple[Any, dict[str, str]]:
    """rpt_campaign_daily's totals and a digest of every file of the catalog and the lake."""
    con = catalog.connect_read_only(home)
    try:
        totals = con.execute(
            "select sum(clicks), sum(impressions), sum(spend_micros), count(*) "
            "from rpt_campaign_daily"
        ).fetchall()
    finally:
        con.close()
    files = {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for root in (home.catalog, home.lake)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
    return totals, files


def test_the_published_data_is_unchanged_after_every_attack_on_every_path(
    scenario_home: Built, engine: sqlalchemy.Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    home = scenario_home.home
    before = published_state(home)
    for _, template, _ in ATTACKS:
        sql = attack_sql(home, template)
        assert cli.main(["sql", sql]) != 0
        with catalog.connect_analyst(home) as con, pytest.raises(duckdb.Error):
            con.execute(sql)
        with engine.connect() as connection, pytest.raises(sqlalchemy.exc.DBAPIError):
            connection.exec_driver_sql(sql)
    capsys.readouterr()
    after = published_state(home)
    assert after[0] == before[0]
    assert after[1] == before[1]  # not one file changed, appeared or disappeared


def test_sqlalchemy_raw_connections_are_checked_too(engine: sqlalchemy.Engine) -> None:
    raw = engine.raw_connection()
    try:
        with pytest.raises(sandbox.RefusedStatementError, match="CREATE statements"):
            raw.cursor().execute("create temp table t as select 1")
    finally:
        raw.close()


def test_the_python_connection_offers_no_relation_api(built_scenario: Built) -> None:
    with catalog.connect_analyst(built_scenario.home) as con:
        for name in ("sql", "query", "table", "read_parquet", "register", "install_extension"):
            with pytest.raises(AttributeError, match="not available on an analyst connection"):
                getattr(con, name)


def test_the_connection_is_locked_down(built_scenario: Built) -> None:
    with catalog.connect_analyst(built_scenario.home) as con:
        settings = dict(
            con.execute(
                "select name, value from duckdb_settings() where name in ("
                "'autoinstall_known_extensions', 'autoload_known_extensions', "
                "'enable_external_access', 'lock_configuration', 'TimeZone')"
            ).fetchall()
        )
    assert settings == {
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "enable_external_access": "false",
        "lock_configuration": "true",
        "TimeZone": "UTC",
    }


def test_connections_clean_up_their_spill_folder(built_scenario: Built) -> None:
    con = catalog.connect_analyst(built_scenario.home)
    temp = con.execute("select current_setting('temp_directory')").fetchall()[0][0]
    assert Path(temp).is_dir()
    con.close()
    assert con.closed and not Path(temp).exists()


# ----------------------------------------------------------------------- what still works

LEGIT = [
    ("mart", "select sum(impressions), sum(clicks) from rpt_campaign_daily"),
    (
        "cte",
        "with daily as (select campaign_id, sum(impressions) as imps from rpt_campaign_daily "
        "group by all) select * from daily order by campaign_id",
    ),
    (
        "window",
        "select campaign_id, report_date, sum(impressions) over (partition by campaign_id "
        "order by report_date) as running from rpt_campaign_daily order by 1, 2",
    ),
    ("raw-view", "select exchange, count(*) from raw_bid_request group by 1 order by 1"),
    ("staging", "select count(*) from stg_tracker__clicks"),
    ("feature-mart", "select count(*), sum(is_clicked::int) from ftr_ctr_training"),
    ("from-first", "from rpt_campaign_daily select campaign_id order by 1"),
    ("values", "values (1, 'a'), (2, 'b')"),
    ("describe", "describe rpt_campaign_daily"),
    ("show-tables", "show tables"),
    ("summarize", "select column_name, count from (summarize rpt_pacing) order by 1"),
    ("pivot-with-in", "pivot (select 1 as a, 2 as b) on a in (1) using sum(b)"),
    (
        "lake-files",
        "select count(*) from read_parquet('{lake}/bid_request/*/*/*.parquet', "
        "hive_partitioning = true)",
    ),
    (
        "snapshot-files",
        "select count(*) from read_parquet('{catalog}/data/rpt_campaign_daily/*.parquet')",
    ),
    ("timezone", "select current_setting('TimeZone')"),
    ("trailing-semicolon", "select 1 as one; -- done"),
]


@pytest.mark.parametrize("sql", [pytest.param(q, id=i) for i, q in LEGIT])
def test_analyst_queries_work_alike_on_every_path(
    scenario_home: Built,
    engine: sqlalchemy.Engine,
    capsys: pytest.CaptureFixture[str],
    sql: str,
) -> None:
    home = scenario_home.home
    sql = sql.format(lake=home.raw, catalog=home.catalog)
    results = {path: runner(path, home, engine, capsys)(sql) for path in PATHS}
    assert results["cli"], sql
    assert results["cli"] == results["python"] == results["sqlalchemy"]


def test_the_known_numbers_come_through(built_scenario: Built, engine: sqlalchemy.Engine) -> None:
    with catalog.connect_analyst(built_scenario.home) as con:
        assert con.execute(
            "select sum(impressions), sum(clicks) from rpt_campaign_daily"
        ).fetchall() == [(3, 1)]
        assert con.execute(
            "select count(*) from raw_bid_request where exchange = ?", ["adx"]
        ).fetchall() == [(5,)]
    with engine.connect() as connection:
        total = connection.execute(
            sqlalchemy.text(
                "select sum(impressions) from rpt_campaign_daily where campaign_id = :c"
            ),
            {"c": "cmp-101"},
        ).scalar_one()
        assert total == 2
        assert "rpt_campaign_daily" in sqlalchemy.inspect(connection).get_view_names()


@pytest.mark.parametrize(
    "sql",
    ["explain select * from rpt_campaign_daily", "EXPLAIN /* why */ ANALYZE from raw_click;"],
)
def test_explain_works_on_every_path(run: Runner, sql: str) -> None:
    rows = run(sql)
    assert rows and "plan" in str(rows[0][0])


# ------------------------------------------------------------------- the files on disk


def test_published_files_are_read_only_on_disk(built_scenario: Built) -> None:
    home = built_scenario.home
    publication = catalog.current_catalog(home).parent
    data = home.catalog / "data"
    files = [*publication.iterdir(), *data.rglob("*.parquet")]
    folders = [publication, data, *(p for p in data.iterdir() if p.is_dir())]
    assert files and len(folders) > 2
    assert {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {
        p.name: oct(publish.FILE_MODE) for p in files
    }
    assert {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in folders} == {
        str(p): oct(publish.DIR_MODE) for p in folders
    }


NON_ROOT_SCRIPT = """
import json, sys
from pathlib import Path
import duckdb
from bidlake.paths import Home
from warehouse.publish import publish

home, snapshot = Home(Path(sys.argv[1])), sys.argv[2]
tries = {
    "over": f"copy (select 999999 as clicks) to '{snapshot}' (format parquet)",
    "beside": f"copy (select 1 as x) to '{Path(snapshot).parent}/extra.parquet' (format parquet)",
}
out = {}
for name, sql in tries.items():
    try:
        duckdb.connect().execute(sql)  # a plain DuckDB, no sandbox at all
        out[name] = "written"
    except duckdb.Error as exc:
        out[name] = str(exc)
try:
    open(snapshot, "r+b").close()  # in place, no rename: the file's own mode says no
    out["in_place"] = "opened for writing"
except OSError as exc:
    out["in_place"] = str(exc)
out["removed"] = publish(home, grace=0.0).removed_publications
print(json.dumps(out))
"""


def test_modes_hold_for_non_root_and_cleanup_still_works(
    built_scenario: Built, tmp_path: Path
) -> None:
    """As a user whom mode bits bind, a plain DuckDB cannot rewrite a published file, and
    the next publication still removes the old one (it makes folders writable first)."""
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("root, and no setpriv to drop CAP_DAC_OVERRIDE")
        # root without the capabilities that bypass file modes: bound by them like anyone
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner"]
    else:
        prefix = []
    home = Home(tmp_path / "home")
    shutil.copytree(built_scenario.home.root, home.root, symlinks=True)
    old_publication = catalog.current_catalog(home).parent
    snapshot = snapshot_file(home, "rpt_campaign_daily")
    before = published_state(home)[0]

    script = textwrap.dedent(NON_ROOT_SCRIPT)
    done = subprocess.run(
        [*prefix, sys.executable, "-c", script, str(home.root), str(snapshot)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert "Permission denied" in out["over"]
    assert "Permission denied" in out["beside"]
    assert "Permission denied" in out["in_place"]
    assert out["removed"] == 1
    assert not old_publication.exists()
    assert published_state(home)[0] == before
