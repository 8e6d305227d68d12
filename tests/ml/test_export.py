"""Export: scorer parity with scikit-learn, the artifact in the registry, the gate."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest

from ml import export as export_module
from ml import registry
from ml.data import TASKS, DataError
from ml.export import ExportError, export, train_and_export
from ml.scorer import load_model
from ml.synthetic import Synthetic, make_marts, write_truth
from ml.train import TrainConfig, train
from tests.ml.conftest import connect

CONFIG = TrainConfig(c_grid=(0.3,))


def _history(home: Path) -> list[dict]:
    """The CTR model's export decisions, one JSON line each."""
    lines = (home / "models" / "ctr" / registry.HISTORY_FILE).read_text().splitlines()
    return [json.loads(line) for line in lines]


def _versions(home: Path) -> list[str]:
    """Complete versions in the registry (staging folders start with ".")."""
    folder = home / "models" / "ctr"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def test_scorer_reproduces_sklearn_on_the_whole_holdout(
    home: Path, small_con: duckdb.DuckDBPyConnection
) -> None:
    training = train(small_con, TASKS["ctr"], TrainConfig(negative_rate=0.3, c_grid=(0.3,)))
    result = export(training)
    model = load_model(result.path)  # from disk: checksum verified, floats round-tripped
    rows = training.holdout.to_pylist()
    sk_raw = training.fitted.raw_probability(training.X_holdout)  # sklearn predict_proba
    sk_corrected = training.fitted.predict(training.X_holdout)
    ours_raw = np.array([model.raw_probability(r) for r in rows])
    ours = np.array([model.predict(r) for r in rows])
    assert len(rows) > 2000
    assert np.max(np.abs(ours_raw - sk_raw)) <= 1e-9
    assert np.max(np.abs(ours - sk_corrected)) <= 1e-9
    assert result.parity_max_abs_diff <= 1e-9


def test_train_and_export_writes_a_complete_version(
    home: Path, small_con: duckdb.DuckDBPyConnection, small_marts: Synthetic
) -> None:
    write_truth(small_marts, home / "truth")  # the default truth folder
    result = train_and_export("ctr", con=small_con, config=CONFIG)
    folder = home / "models" / "ctr" / result.version
    assert result.path == folder / "model.json"
    assert {p.name for p in folder.iterdir()} == {
        "model.json",
        "eval.json",
        "gate.json",
        "reliability.png",
        "roc.png",
    }
    assert result.promoted and registry.current_version("ctr") == result.version
    assert result.oracle_metrics is not None and result.metrics["truth_coverage"] == 1.0
    doc = json.loads(result.path.read_text())
    assert doc["training"]["window"]["holdout_days"] == ["2025-01-12"]
    assert doc["training"]["data_fingerprint"].startswith("sha256:")
    assert doc["metrics"]["holdout"]["log_loss"] == result.model_metrics["log_loss"]
    assert doc["metrics"]["oracle"]["auc"] == result.oracle_metrics["auc"]
    assert doc["calibration"]["method"] == "negative_downsampling"
    assert json.loads((folder / "gate.json").read_text())["promote"] is True
    assert registry.load_current("ctr").version == result.version
    [entry] = _history(home)
    assert entry["version"] == result.version and entry["promoted"] is True


def test_cvr_model(home: Path) -> None:
    # Enough clicks (a high-CTR world over twelve days) for a CVR model that beats the base
    # rate; the plumbing fixture's ~100 conversions do not, and the gate refuses that one.
    data = make_marts(120_000, days=12, seed=5, ctr_base_logit=-1.5, n_publishers=20, n_campaigns=3)
    con = connect(data)
    result = train_and_export("cvr", con=con, config=CONFIG)
    con.close()
    assert result.promoted, result.reason
    assert registry.current_version("cvr") == result.version
    assert result.window["holdout_days"] == ["2025-01-05"]  # the newest day with mature labels


def test_the_gate(home: Path, small_con: duckdb.DuckDBPyConnection) -> None:
    first = train_and_export("ctr", con=small_con, config=CONFIG)
    # Same data, same recipe: equal holdout log loss, within the tolerance -> promoted.
    again = train_and_export("ctr", con=small_con, config=CONFIG, now_ms=2_000_000_000_000)
    assert again.promoted, again.reason
    assert again.gate.current_version == first.version
    assert again.gate.current_log_loss == pytest.approx(first.model_metrics["log_loss"])
    # A crippled model (almost no regularization budget) is worse -> kept out.
    worse = train_and_export(
        "ctr", con=small_con, config=TrainConfig(c_grid=(1e-5,)), now_ms=2_000_000_100_000
    )
    assert not worse.promoted
    assert worse.reason.startswith("kept current: holdout log loss")
    assert registry.current_version("ctr") == again.version
    gate = json.loads((worse.path.parent / "gate.json").read_text())
    assert gate["promote"] is False and gate["current_version"] == again.version
    assert [e["promoted"] for e in _history(home)] == [True, True, False]


def test_gate_replaces_an_unreadable_current_model(
    home: Path, small_con: duckdb.DuckDBPyConnection
) -> None:
    first = train_and_export("ctr", con=small_con, config=CONFIG)
    doc = json.loads(first.path.read_text())
    doc["model"]["intercept"] += 1
    first.path.write_text(json.dumps(doc))
    second = train_and_export("ctr", con=small_con, config=CONFIG, now_ms=2_000_000_000_000)
    assert second.promoted and "unusable" in second.reason and "checksum" in second.reason


def test_no_promote(home: Path, small_con: duckdb.DuckDBPyConnection) -> None:
    result = train_and_export("ctr", con=small_con, config=CONFIG, promote=False)
    assert not result.promoted and "promotion disabled" in result.reason
    assert registry.current_version("ctr") is None
    assert _versions(home) == [result.version]


def test_parity_failure_refuses_the_export(
    home: Path, small_con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_module, "PARITY_TOLERANCE", -1.0)
    with pytest.raises(ExportError, match="differs from scikit-learn"):
        train_and_export("ctr", con=small_con, config=CONFIG)
    assert _versions(home) == []
    assert not (home / "models" / "ctr").exists() or not any(
        p.name.startswith(".staging") for p in (home / "models" / "ctr").iterdir()
    )


def test_unknown_model_and_missing_catalog(home: Path) -> None:
    with pytest.raises(ValueError, match="unknown model"):
        train_and_export("roi")
    # Nothing is published in a fresh home: whichever way the catalog says so, the error
    # is a DataError naming it (no catalog, or no feature mart in it).
    with pytest.raises(DataError, match=r"(?i)catalog|not queryable"):
        train_and_export("ctr")


def test_gate_scores_a_current_model_with_another_spec(
    home: Path, small_con: duckdb.DuckDBPyConnection
) -> None:
    first = train_and_export("ctr", con=small_con, config=TrainConfig(c_grid=(0.3,), hash_bits=16))
    second = train_and_export("ctr", con=small_con, config=CONFIG, now_ms=2_000_000_000_000)
    # The current model is re-scored with its own 2**16-bucket spec on the same holdout.
    assert second.gate.current_log_loss == pytest.approx(first.model_metrics["log_loss"], rel=1e-9)


def test_a_model_no_better_than_the_base_rate_is_never_promoted(
    home: Path, small_con: duckdb.DuckDBPyConnection
) -> None:
    # Labels that carry no signal: whatever the model learns is noise, and its holdout
    # normalized entropy is >= 1 — even with no current model, it must not be served.
    small_con.execute("select setseed(0.42)")
    small_con.execute("update ftr_ctr_training set is_clicked = random() < 0.02")
    result = train_and_export("ctr", con=small_con, config=CONFIG)
    assert not result.promoted
    assert result.reason.startswith("not promoted: no better than the base rate")
    assert registry.current_version("ctr") is None
