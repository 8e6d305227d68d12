"""`bidlake train` through the real CLI router."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from bidlake.cli import main
from ml.synthetic import Synthetic, load_into, write_truth


@pytest.fixture
def database(tmp_path: Path, small_marts: Synthetic) -> Path:
    path = tmp_path / "marts.duckdb"
    con = duckdb.connect(str(path))
    load_into(con, small_marts)
    con.close()
    return path


def test_train_prints_metrics_beside_the_oracle(
    home: Path, database: Path, small_marts: Synthetic, capsys: pytest.CaptureFixture[str]
) -> None:
    write_truth(small_marts, home / "truth")
    assert main(["train", "--model", "ctr", "--database", str(database), "--c-grid", "0.3"]) == 0
    out = capsys.readouterr().out
    for text in (
        "AUC",
        "log loss",
        "normalized entropy",
        "calibration",
        "oracle (true p)",
        "PROMOTED",
    ):
        assert text in out
    assert (home / "models" / "ctr" / "CURRENT").exists()


def test_train_all_as_json(home: Path, database: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--database", str(database), "--c-grid", "0.3", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in results] == ["ctr", "cvr"]
    assert results[0]["promoted"], results[0]["reason"]
    # ~100 conversions in this small world: the CVR model does not beat the base rate, and
    # the gate says so instead of serving it.
    assert not results[1]["promoted"]
    assert results[1]["reason"].startswith("not promoted: no better than the base rate")
    assert results[0]["metrics"]["oracle"] is None  # no truth in this home


def test_a_model_without_data_fails_with_a_reason(
    home: Path, database: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    con = duckdb.connect(str(database))
    con.execute("UPDATE ftr_cvr_training SET is_label_mature = false")
    con.close()
    assert main(["train", "--model", "cvr", "--database", str(database)]) == 1
    assert "cvr: not trained: ftr_cvr_training: 0 usable rows" in capsys.readouterr().out


def test_bad_arguments(home: Path, tmp_path: Path) -> None:
    assert main(["train", "--database", str(tmp_path / "nope.duckdb")]) == 2
    assert main(["train", "--negative-rate", "0"]) == 2
