"""Holdout metrics against scikit-learn's and hand-computed values; plots are PNGs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from ml import evaluate


def _sample(n: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(1, 30, n)
    y = (rng.random(n) < p).astype(float)
    return y, p


def test_metrics_match_sklearn_and_definitions() -> None:
    y, p = _sample()
    m = evaluate.metrics(y, p)
    assert m["rows"] == len(y) and m["positives"] == int(y.sum())
    assert m["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["log_loss"] == pytest.approx(log_loss(y, p), rel=1e-12)
    assert m["brier"] == pytest.approx(brier_score_loss(y, p), rel=1e-12)
    base = y.mean()
    h = -(base * math.log(base) + (1 - base) * math.log(1 - base))
    assert m["normalized_entropy"] == pytest.approx(m["log_loss"] / h)
    assert m["calibration"] == pytest.approx(p.sum() / y.sum())
    assert sum(d["count"] for d in m["deciles"]) == len(y)
    means = [d["mean_predicted"] for d in m["deciles"]]
    assert means == sorted(means)


def test_predicting_the_base_rate_has_normalized_entropy_one() -> None:
    y = np.array([0.0] * 90 + [1.0] * 10)
    m = evaluate.metrics(y, np.full(100, 0.1))
    assert m["normalized_entropy"] == pytest.approx(1.0)
    assert m["calibration"] == pytest.approx(1.0)


def test_one_class_has_no_auc() -> None:
    m = evaluate.metrics(np.zeros(10), np.full(10, 0.01))
    assert m["auc"] is None and m["calibration"] is None and m["positives"] == 0


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1], [0.5], "2 labels but 1"),
        ([], [], "no rows"),
        ([0, 1], [0.5, float("nan")], "finite probabilities"),
        ([0, 1], [0.5, 1.5], "finite probabilities"),
    ],
)
def test_bad_input(y, p, message) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate.metrics(np.array(y, dtype=float), np.array(p, dtype=float))


def test_plots_are_png(tmp_path: Path) -> None:
    y, p = _sample()
    curves = {"model": p, "noisy": np.clip(p * 1.3, 0, 1)}
    for path in (
        evaluate.plot_reliability(y, curves, tmp_path / "rel.png", "t"),
        evaluate.plot_roc(y, curves, tmp_path / "roc.png", "t"),
    ):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 10_000
