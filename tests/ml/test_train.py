"""Training on synthetic marts with a known truth: split, sampling correction, the oracle."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from ml.data import TASKS, DataError
from ml.synthetic import Synthetic
from ml.train import (
    TrainConfig,
    Training,
    auto_negative_rate,
    correct,
    partial_trailing_days,
    time_split,
    train,
)

GRID = (0.1, 0.3)


@pytest.fixture(scope="module")
def trained(marts: Synthetic, truth_dir: Path) -> dict[float, Training]:
    """The CTR model trained without downsampling and with 10 % of negatives."""
    from tests.ml.conftest import connect

    con = connect(marts)
    try:
        return {
            rate: train(
                con, TASKS["ctr"], TrainConfig(negative_rate=rate, c_grid=GRID), truth_dir=truth_dir
            )
            for rate in (1.0, 0.1)
        }
    finally:
        con.close()


def test_auc_and_calibration_near_the_oracle(trained: dict[float, Training]) -> None:
    m = trained[1.0].metrics
    assert m["truth_coverage"] == 1.0
    model, oracle = m["model"], m["oracle"]
    assert model["rows"] == oracle["rows"] > 40_000
    assert oracle["auc"] - model["auc"] < 0.015
    assert abs(model["calibration"] - oracle["calibration"]) < 0.05
    assert model["normalized_entropy"] < 0.97  # it learned something


def test_downsampling_correction_keeps_calibration(trained: dict[float, Training]) -> None:
    full, sampled = trained[1.0], trained[0.1]
    assert sampled.window["negative_rate"] == 0.1
    assert sampled.rows_fitted < 0.2 * full.rows_fitted
    oracle = full.metrics["oracle"]["calibration"]
    # Corrected: calibrated like the model trained on every row (and like the oracle).
    assert abs(sampled.metrics["model"]["calibration"] - oracle) < 0.06
    assert abs(full.metrics["model"]["calibration"] - oracle) < 0.05
    # Uncorrected, the sampled model overpredicts by several times: the correction matters.
    raw = sampled.fitted.raw_probability(sampled.X_holdout)
    assert raw.sum() / sampled.y_holdout.sum() > 3
    assert sampled.metrics["model"]["auc"] > full.metrics["model"]["auc"] - 0.01


def test_time_split_holds_out_the_newest_day(trained: dict[float, Training]) -> None:
    window = trained[1.0].window
    assert window["kind"] == "by_day"
    assert window["train_days"] == ["2025-01-01", "2025-01-02"]
    assert window["valid_days"] == ["2025-01-03"]
    assert window["holdout_days"] == ["2025-01-04"]
    assert window["train"]["to_ms"] < window["valid"]["from_ms"]
    assert window["valid"]["to_ms"] < window["holdout"]["from_ms"]
    grid = trained[1.0].grid
    assert [g["C"] for g in grid] == list(GRID)
    chosen = min(grid, key=lambda g: g["valid_log_loss"])["C"]
    assert chosen == trained[1.0].fitted.C


def test_time_split_variants() -> None:
    day = 86_400_000
    ms = np.arange(0, 5 * day, day // 4)
    days = np.array([f"d{int(t // day)}" for t in ms])
    s = time_split(days, ms, max_train_days=2)
    assert s.train_days == ["d1", "d2"] and s.valid_days == ["d3"] and s.holdout_days == ["d4"]
    two = days[days < "d2"]
    s = time_split(two, ms[: len(two)])
    assert s.holdout_days == ["d1"] and set(days[s.train]) == set(days[s.valid]) == {"d0"}
    assert ms[s.train].max() < ms[s.valid].min()
    one = days[days == "d0"]
    s = time_split(one, ms[: len(one)])
    assert s.kind == "by_time_within_day"
    assert ms[s.train].max() < ms[s.valid].min() <= ms[s.valid].max() < ms[s.holdout].min()


def test_auto_negative_rate() -> None:
    assert auto_negative_rate(np.array([1] * 10 + [0] * 1000)) == 1.0  # small: keep all
    labels = np.zeros(10_000_000, dtype=np.int8)
    labels[:20_000] = 1
    assert auto_negative_rate(labels) == pytest.approx(400_000 / 9_980_000)


def test_correction_is_the_odds_formula() -> None:
    p = np.array([0.01, 0.2, 0.9])
    logit = np.log(p / (1 - p))
    w = 0.05
    assert np.allclose(correct(logit, w), p / (p + (1 - p) / w), rtol=1e-12)


def test_too_little_data_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DELETE FROM ftr_ctr_training WHERE impression_id NOT IN ('i1', 'i2', 'i3')")
    with pytest.raises(DataError, match="3 usable rows"):
        train(con, TASKS["ctr"], TrainConfig(c_grid=GRID))
    con.execute("DELETE FROM ftr_cvr_training")
    with pytest.raises(DataError, match="0 usable rows"):
        train(con, TASKS["cvr"], TrainConfig(c_grid=GRID))


def test_a_single_class_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("UPDATE ftr_ctr_training SET is_clicked = false")
    with pytest.raises(DataError, match="single class"):
        train(con, TASKS["ctr"], TrainConfig(c_grid=GRID))


def test_a_partial_newest_day_is_not_the_holdout() -> None:
    day = 86_400_000
    ms = np.concatenate([np.arange(0, 4 * day, day // 100), [4 * day + 5, 4 * day + 9]])
    days = np.array([f"d{int(t // day)}" for t in ms])
    s = time_split(days, ms)
    assert s.ignored_days == ["d4"] and s.holdout_days == ["d3"] and s.valid_days == ["d2"]
    assert not np.isin(days[np.concatenate([s.train, s.valid, s.holdout])], ["d4"]).any()
    assert partial_trailing_days(days[:-2]) == []
