"""`bidlake sql` and `bidlake docs` on the shared scenario build."""

from __future__ import annotations

import csv
import io
import json
import threading
import urllib.request
from pathlib import Path

import pytest

from bidlake import cli
from tests.warehouse.conftest import Built
from warehouse import docs

QUERY = "select campaign_id, impressions, ctr, report_date from rpt_campaign_daily order by 1"


@pytest.fixture
def scenario_home(built_scenario: Built, monkeypatch: pytest.MonkeyPatch) -> Built:
    monkeypatch.setenv("BIDLAKE_HOME", str(built_scenario.home.root))
    return built_scenario


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


def test_docs_are_generated_and_served(scenario_home: Built) -> None:
    assert cli.main(["docs", "--no-serve"]) == 0
    directory = docs.docs_dir(scenario_home.home)
    catalog = json.loads((directory / "catalog.json").read_text())
    manifest = json.loads((directory / "manifest.json").read_text())
    assert "model.bidlake.rpt_campaign_daily" in catalog["nodes"]  # with column types
    model = manifest["nodes"]["model.bidlake.rpt_campaign_daily"]
    assert model["description"] and all(c["description"] for c in model["columns"].values())
    server = docs.server(directory, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as page:
            assert page.status == 200 and b"dbt" in page.read()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
