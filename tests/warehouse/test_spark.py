"""The same dbt models on Spark (target `spark`) as on DuckDB, row for row.

One small lake - the scenario and its late batch (conftest.py) - built in one home twice:
with DuckDB (the default target) and with Spark (dbt-spark, session method, pyspark
`local[2]`, profiles.yml). Both builds run every model, data test and unit test with
warnings as errors. Every reporting (rpt_*) and feature (ftr_*) mart must then hold the
same rows on both: order-independent, floats within a relative 1e-9, values normalised
(timestamps as UTC instants, lists as tuples, decimals as floats) and column types
compared by kind (integer, float, string, boolean, date, timestamp, list).

One Spark session for the module: dbt-spark starts it in this process, once (its JVM
keeps the home's metastore), and the comparison reads the tables through it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from bidlake.paths import Home
from tests.warehouse.conftest import write_late_batch, write_scenario
from warehouse import project
from warehouse.build import BuildResult, build, spark_tables, spark_warehouse

pytestmark = pytest.mark.spark

MARTS = sorted(
    path.stem
    for path in (project.DBT_PROJECT_DIR / "models" / "marts").glob("*/*.sql")
    if path.stem.startswith(("rpt_", "ftr_"))
)
SCHEMA = {"rpt": "reporting", "ftr": "features"}


@dataclass(frozen=True)
class Builds:
    home: Home
    duckdb: BuildResult
    spark: BuildResult
    duckdb_seconds: float
    spark_seconds: float


def _ok(result: BuildResult) -> BuildResult:
    assert result.success, [(n.name, n.message) for n in result.failed] or result.error
    return result


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builds]:
    home = Home(tmp_path_factory.mktemp("spark") / "home")
    write_scenario(home.raw)
    write_late_batch(home.raw)
    started = time.perf_counter()
    on_duckdb = _ok(build(home=home, warn_error=True, publish=False))
    duckdb_seconds = time.perf_counter() - started
    started = time.perf_counter()
    on_spark = _ok(build(home=home, warn_error=True, target="spark"))
    spark_seconds = time.perf_counter() - started
    yield Builds(home, on_duckdb, on_spark, duckdb_seconds, spark_seconds)


def _kind(data_type: str) -> str:
    """A column type, DuckDB's or Spark's, as the kind of value it holds."""
    t = data_type.lower()
    if t.endswith("[]") or t.startswith("array"):
        return "list"
    if t.startswith("timestamp"):
        return "timestamp"
    if t in ("varchar", "string") or t.startswith(("varchar", "char")):
        return "string"
    if t.endswith("int") or t in ("bigint", "integer", "hugeint", "smallint", "tinyint"):
        return "integer"
    if t in ("double", "float", "real") or t.startswith("decimal"):
        return "float"
    return t  # boolean, date


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        # DuckDB: aware (timestamptz); pyspark: naive local time. Both the same instant.
        return value.astimezone(UTC)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple):
        return tuple(_value(v) for v in value)
    return value


def _sort_key(row: tuple) -> str:
    return repr(tuple(f"{v:.6g}" if isinstance(v, float) else v for v in row))


def _same(a: Any, b: Any) -> bool:
    """Equal values: floats within a relative 1e-9, otherwise equal and of one type (so a
    boolean never passes for an integer, nor a string for a date)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


@dataclass(frozen=True)
class Mart:
    columns: list[tuple[str, str]]  # (name, kind)
    rows: list[tuple]


def duckdb_mart(home: Home, name: str) -> Mart:
    con = duckdb.connect(str(project.build_database(home)), read_only=True)
    try:
        relation = f"{SCHEMA[name[:3]]}.{name}"
        columns = [(r[0], _kind(r[1])) for r in con.execute(f"describe {relation}").fetchall()]
        rows = [tuple(_value(v) for v in r) for r in con.execute(f"from {relation}").fetchall()]
    finally:
        con.close()
    return Mart(columns, sorted(rows, key=_sort_key))


def spark_mart(name: str) -> Mart:
    from pyspark.sql import SparkSession

    # The session dbt-spark started in this process (getOrCreate returns it).
    frame = SparkSession.builder.getOrCreate().table(f"{SCHEMA[name[:3]]}.{name}")
    columns = [(f.name, _kind(f.dataType.simpleString())) for f in frame.schema.fields]
    rows = [tuple(_value(v) for v in r) for r in frame.collect()]
    return Mart(columns, sorted(rows, key=_sort_key))


def test_the_marts_are_every_rpt_and_ftr_model() -> None:
    assert len(MARTS) == 7 and {m[:3] for m in MARTS} == {"rpt", "ftr"}


def test_spark_ran_every_node_duckdb_ran_and_all_passed(builds: Builds) -> None:
    def nodes(result: BuildResult) -> set[tuple[str, str]]:
        return {(n.resource_type, n.name) for n in result.nodes}

    assert builds.spark.adapter == "spark" and builds.duckdb.adapter == "duckdb"
    assert nodes(builds.spark) == nodes(builds.duckdb)
    assert not builds.spark.failed
    assert sum(n.resource_type == "test" for n in builds.spark.nodes) >= 60
    assert builds.spark.publication is None  # the read-only catalog is DuckDB's
    print(
        f"\nbuild of the test lake: DuckDB {builds.duckdb_seconds:.1f} s, "
        f"Spark {builds.spark_seconds:.1f} s (session start included)"
    )


@pytest.mark.parametrize("name", MARTS)
def test_mart_equals_duckdbs_row_for_row(builds: Builds, name: str) -> None:
    expected = duckdb_mart(builds.home, name)
    got = spark_mart(name)
    assert got.columns == expected.columns
    assert expected.rows, f"{name}: no rows on DuckDB, nothing compared"
    assert len(got.rows) == len(expected.rows), name
    for spark_row, duckdb_row in zip(got.rows, expected.rows, strict=True):
        assert all(_same(s, d) for s, d in zip(spark_row, duckdb_row, strict=True)), (
            f"{name}: {spark_row} != {duckdb_row}"
        )
    print(f"{name}: {len(got.rows)} rows equal")


def test_spark_tables_are_parquet_in_the_home(builds: Builds) -> None:
    tables = spark_tables(builds.home)
    for name in MARTS:
        folder = tables[f"{SCHEMA[name[:3]]}.{name}"]
        assert folder.parent.parent == spark_warehouse(builds.home)
        assert any(folder.glob("*.parquet")), folder


def test_cli_summary_says_where_the_spark_tables_are(builds: Builds) -> None:
    from rich.console import Console

    from warehouse.cli.build import _summary

    console = Console(record=True, width=200)
    _summary(console, builds.home.root, builds.spark)
    text = " ".join(console.export_text().split())  # as one line, however rich wrapped it
    assert "on spark (target spark)" in text
    assert f"{len(MARTS)} marts as Parquet tables under {spark_warehouse(builds.home)}" in text
    assert "not published" in text


def test_hours_are_utc_on_spark(builds: Builds) -> None:
    """report_hour is the start of the UTC hour of report_date and hour_of_day."""
    for name in ("rpt_exchange_hourly", "rpt_no_bid_reasons"):
        mart = spark_mart(name)
        names = [c for c, _ in mart.columns]
        at, day, hour = (names.index(c) for c in ("report_hour", "report_date", "hour_of_day"))
        assert mart.rows, name
        for row in mart.rows:
            assert row[at] == datetime(
                row[day].year, row[day].month, row[day].day, row[hour], tzinfo=UTC
            ), name
    assert {r[1].hour for r in spark_mart("rpt_exchange_hourly").rows} == {0, 1, 2}
    assert {r[2] for r in spark_mart("rpt_exchange_hourly").rows} == {date(2024, 6, 10)}
