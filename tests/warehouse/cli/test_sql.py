"""`bidlake sql` on the shared scenario build."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from bidlake import cli
from tests.warehouse.conftest import Built

QUERY = "select campaign_id, impressions, ctr, report_date from rpt_campaign_daily order by 1"


def test_sql_table(scenario_home: Built, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sql", QUERY]) == 0
    out = capsys.readouterr().out
    assert "cmp-101" in out and "cmp-102" in out and "(2 rows)" in out


def test_sql_csv(scenario_home: Built, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sql", QUERY, "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [
        ["campaign_id", "impressions", "ctr", "report_date"],
        ["cmp-101", "2", "0.5", "2024-06-10"],
        ["cmp-102", "1", "0.0", "2024-06-10"],
    ]


def test_sql_json(scenario_home: Built, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sql", QUERY, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"campaign_id": "cmp-101", "impressions": 2, "ctr": 0.5, "report_date": "2024-06-10"},
        {"campaign_id": "cmp-102", "impressions": 1, "ctr": 0.0, "report_date": "2024-06-10"},
    ]


def test_sql_reads_the_raw_lake_and_stdin(
    scenario_home: Built, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("select count(*) as n from raw_bid_request"))
    assert cli.main(["sql", "-", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 7}]


def test_sql_errors_say_what(scenario_home: Built, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sql", "select * from no_such_mart"]) == 1
    assert "no_such_mart" in capsys.readouterr().err


def test_sql_before_any_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BIDLAKE_HOME", str(tmp_path))
    assert cli.main(["sql", "select 1"]) == 2
    assert "bidlake build" in capsys.readouterr().err
