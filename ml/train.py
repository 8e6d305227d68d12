"""Training: time-based split, negative downsampling, L2 logistic regression, C by validation.

The recipe (one model per `Task`, ml/data.py):

1. Split by time — the holdout is the newest day, validation the day before it, training
   every earlier day (at most `max_train_days`). A model is always judged on a day it has
   not seen, as it will be in the bidder tomorrow. With only two days, validation is the
   last quarter of the first day; with one day, the split is by time within it.
2. Downsample negatives in the training rows only (keep every positive and a fraction `r`
   of negatives; `r` automatic by default). Validation and holdout are never sampled.
3. Fit scikit-learn's LogisticRegression (L2, lbfgs) on the hashed one-hot matrix of
   ml/encode.py for each C in the grid on training rows; keep the C with the lowest
   validation log loss of the *corrected* probabilities; refit with it on training +
   validation rows; evaluate on the holdout.
4. Correct for downsampling: p' = p / (p + (1 - p) / r), i.e. logit + ln r (He et al.,
   2014). The correction is exact for the odds, so calibration holds with or without
   sampling (tests/ml/test_train.py).

Only columns (buckets) that occur in the training rows are given to scikit-learn: with an
L2 penalty an unseen bucket's weight is exactly 0, so this changes nothing in the model
and shrinks lbfgs's vectors from 2**20 to the tens of thousands of buckets in use.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from ml import evaluate
from ml.data import DataError, Task, fingerprint, load_examples, load_truth
from ml.encode import encode
from ml.features import FeatureSpec, default_spec

# Keep this many negatives per positive (and at least MIN_NEGATIVES) when sampling
# automatically: past ~20:1 more negatives barely move log loss, and fitting time grows
# with rows.
NEGATIVES_PER_POSITIVE = 20
MIN_NEGATIVES = 100_000
DEFAULT_C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
MIN_ROWS = 50
PARTIAL_DAY_FRACTION = 0.5
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainConfig:
    negative_rate: float | None = None  # None: automatic; 1.0: no downsampling
    c_grid: tuple[float, ...] = DEFAULT_C_GRID
    hash_bits: int = 20
    max_train_days: int | None = None
    seed: int = 0
    max_iter: int = 500
    # lbfgs stopping tolerance. On 3.6M simulated impressions 1e-4 stopped after 56
    # iterations where 1e-6 took 252, and moved validation log loss by 0.03 % — a tenth of
    # the gate's tolerance. The loss is flat there; more iterations buy nothing.
    tol: float = 1e-4

    def __post_init__(self) -> None:
        if self.negative_rate is not None and not 0 < self.negative_rate <= 1:
            raise ValueError(f"negative_rate must be in (0, 1], got {self.negative_rate}")
        if not self.c_grid or min(self.c_grid) <= 0:
            raise ValueError(f"c_grid must hold positive values, got {self.c_grid}")


@dataclass(frozen=True)
class Split:
    """Row positions (into the loaded table) of each part, and what they cover."""

    train: np.ndarray
    valid: np.ndarray
    holdout: np.ndarray
    kind: str  # "by_day" | "by_time_within_day"
    train_days: list[str]
    valid_days: list[str]
    holdout_days: list[str]
    ignored_days: list[str] = field(default_factory=list)  # partial days left out

    def describe(self, event_ms: np.ndarray) -> dict[str, Any]:
        def span(rows: np.ndarray) -> dict[str, Any]:
            if len(rows) == 0:
                return {"rows": 0}
            return {
                "rows": len(rows),
                "from_ms": int(event_ms[rows].min()),
                "to_ms": int(event_ms[rows].max()),
            }

        return {
            "kind": self.kind,
            "train_days": self.train_days,
            "valid_days": self.valid_days,
            "holdout_days": self.holdout_days,
            "ignored_days": self.ignored_days,
            "train": span(self.train),
            "valid": span(self.valid),
            "holdout": span(self.holdout),
        }


def partial_trailing_days(days: np.ndarray) -> list[str]:
    """The newest days holding under PARTIAL_DAY_FRACTION of a typical day's rows.

    Data is read up to "now", so the newest UTC day is usually partial — a few hours, or
    a handful of late win notices past midnight. Held out, such a day would judge (and
    gate) models on almost nothing; it is left for the next run, when it is complete.
    """
    distinct, counts = np.unique(days, return_counts=True)
    if len(distinct) < 2:
        return []
    typical = float(np.median(counts))
    out = []
    i = len(distinct) - 1
    while i > 0 and counts[i] < PARTIAL_DAY_FRACTION * typical:
        out.append(str(distinct[i]))
        i -= 1
    return sorted(out)


def time_split(days: np.ndarray, event_ms: np.ndarray, max_train_days: int | None = None) -> Split:
    """Train on earlier days, validate on the day before the holdout, hold out the last
    complete day (see partial_trailing_days)."""
    ignored = partial_trailing_days(days)
    positions = np.arange(len(days))
    if ignored:
        positions = positions[~np.isin(days, ignored)]
    days_used, ms_used = days[positions], event_ms[positions]
    distinct = sorted(set(days_used.tolist()))
    if len(distinct) >= 3:
        holdout_day, valid_day = distinct[-1], distinct[-2]
        train_days = distinct[:-2]
        if max_train_days is not None:
            train_days = train_days[-max_train_days:]
        return Split(
            train=positions[np.isin(days_used, train_days)],
            valid=positions[days_used == valid_day],
            holdout=positions[days_used == holdout_day],
            kind="by_day",
            train_days=train_days,
            valid_days=[valid_day],
            holdout_days=[holdout_day],
            ignored_days=ignored,
        )
    if len(distinct) == 2:
        first, last = distinct
        early = positions[days_used == first]
        cut = np.quantile(event_ms[early], 0.75)
        return Split(
            train=early[event_ms[early] < cut],
            valid=early[event_ms[early] >= cut],
            holdout=positions[days_used == last],
            kind="by_day",
            train_days=[first],
            valid_days=[first],
            holdout_days=[last],
            ignored_days=ignored,
        )
    # One day (a short simulation): the same idea by time within it.
    cut_valid, cut_holdout = np.quantile(ms_used, [0.5, 0.75])
    return Split(
        train=positions[ms_used < cut_valid],
        valid=positions[(ms_used >= cut_valid) & (ms_used < cut_holdout)],
        holdout=positions[ms_used >= cut_holdout],
        kind="by_time_within_day",
        train_days=distinct,
        valid_days=distinct,
        holdout_days=distinct,
        ignored_days=ignored,
    )


def auto_negative_rate(labels: np.ndarray) -> float:
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if negatives == 0:
        return 1.0
    keep = max(NEGATIVES_PER_POSITIVE * positives, MIN_NEGATIVES)
    return min(1.0, keep / negatives)


def downsample(
    rows: np.ndarray, labels: np.ndarray, rate: float, rng: np.random.Generator
) -> np.ndarray:
    """Every positive row and each negative with probability `rate` (positions kept)."""
    if rate >= 1.0:
        return rows
    keep = (labels[rows] == 1) | (rng.random(len(rows)) < rate)
    return rows[keep]


def correct(logit: np.ndarray, rate: float) -> np.ndarray:
    """Probabilities after undoing negative downsampling at `rate`: sigmoid(logit + ln r)."""
    z = logit + math.log(rate)
    return np.asarray(_sigmoid(z))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return np.asarray(expit(z))


@dataclass
class Fitted:
    """A fitted model over the buckets that occurred in its training rows."""

    estimator: LogisticRegression
    columns: np.ndarray  # bucket index of each of the estimator's coefficients
    negative_rate: float
    C: float
    converged: bool = True

    @property
    def iterations(self) -> int:
        return int(np.max(self.estimator.n_iter_))

    def logit(self, X: sparse.csr_matrix) -> np.ndarray:
        """sklearn's decision_function on a full-width (2**hash_bits) matrix."""
        return np.asarray(self.estimator.decision_function(X[:, self.columns]))

    def raw_probability(self, X: sparse.csr_matrix) -> np.ndarray:
        """sklearn's predict_proba[:, 1]: the probability on the downsampled distribution."""
        return np.asarray(self.estimator.predict_proba(X[:, self.columns])[:, 1])

    def predict(self, X: sparse.csr_matrix) -> np.ndarray:
        return correct(self.logit(X), self.negative_rate)

    @property
    def intercept(self) -> float:
        return float(self.estimator.intercept_[0])

    def weights(self) -> dict[int, float]:
        coef = self.estimator.coef_[0]
        nonzero = np.flatnonzero(coef)
        return {int(self.columns[j]): float(coef[j]) for j in nonzero}


def fit(
    X: sparse.csr_matrix,
    y: np.ndarray,
    C: float,
    negative_rate: float,
    config: TrainConfig,
) -> Fitted:
    if y.min() == y.max():
        raise DataError(f"training rows have a single class ({int(y[0])}): nothing to learn")
    columns = np.unique(X.indices)
    estimator = LogisticRegression(C=C, solver="lbfgs", max_iter=config.max_iter, tol=config.tol)
    with warnings.catch_warnings(record=True) as caught:
        # Weakly regularized fits (large C) on collinear one-hot columns converge slowly;
        # an unconverged candidate is recorded as such rather than warned about, and
        # validation log loss still judges it on what it reached.
        warnings.simplefilter("always", ConvergenceWarning)
        estimator.fit(X[:, columns], y)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return Fitted(
        estimator=estimator,
        columns=columns,
        negative_rate=negative_rate,
        C=C,
        converged=converged,
    )


@dataclass
class Training:
    """Everything the export and the report need from one training run."""

    task: Task
    spec: FeatureSpec
    config: TrainConfig
    fitted: Fitted
    split: Split
    window: dict[str, Any]
    data_fingerprint: str
    grid: list[dict[str, Any]]
    holdout: pa.Table  # raw rows of the holdout (bid_id, event_ms, day, label, fields)
    X_holdout: sparse.csr_matrix
    y_holdout: np.ndarray
    p_holdout: np.ndarray  # corrected model probabilities
    truth_holdout: np.ndarray | None  # the oracle's probabilities (NaN where unknown)
    metrics: dict[str, Any]
    rows_read: int
    rows_fitted: int
    timings: dict[str, float] = field(default_factory=dict)


def train(
    con: Any,
    task: Task,
    config: TrainConfig | None = None,
    *,
    spec: FeatureSpec | None = None,
    truth_dir: Path | None = None,
    progress: Progress | None = None,
) -> Training:
    """Load, split, sample, choose C, fit and evaluate one model."""
    config = config or TrainConfig()
    spec = spec or default_spec(config.hash_bits)
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    say(f"{task.name}: reading {task.table}")
    table = load_examples(con, task, spec)
    if table.num_rows < MIN_ROWS:
        raise DataError(f"{task.table}: {table.num_rows} usable rows, need at least {MIN_ROWS}")
    labels = table.column("label").to_numpy().astype(np.int8)
    event_ms = table.column("event_ms").to_numpy()
    days = table.column("day").to_numpy(zero_copy_only=False).astype(str)
    data_fingerprint = fingerprint(table)
    lap("load")

    split = time_split(days, event_ms, config.max_train_days)
    for part in ("train", "valid", "holdout"):
        if len(getattr(split, part)) == 0:
            raise DataError(f"{task.table}: the time split left no {part} rows")
    fit_rows = np.concatenate([split.train, split.valid])
    rate = config.negative_rate or auto_negative_rate(labels[fit_rows])
    rng = np.random.default_rng(config.seed)
    train_rows = downsample(split.train, labels, rate, rng)
    refit_rows = downsample(fit_rows, labels, rate, rng)
    say(
        f"{task.name}: {table.num_rows:,} rows; train {len(split.train):,} "
        f"(kept {len(train_rows):,} at negative rate {rate:.3g}), valid {len(split.valid):,}, "
        f"holdout {len(split.holdout):,}"
    )

    # Encode once: the sampled rows of training + validation, then the holdout.
    needed = np.unique(np.concatenate([train_rows, refit_rows, split.valid]))
    X_needed = encode(table.take(pa.array(needed)), spec)

    def rows_of(positions: np.ndarray) -> sparse.csr_matrix:
        return X_needed[np.searchsorted(needed, positions)]  # needed is sorted and unique

    holdout = table.take(pa.array(split.holdout))
    X_holdout = encode(holdout, spec)
    y_holdout = labels[split.holdout].astype(np.float64)
    lap("encode")

    X_train, y_train = rows_of(train_rows), labels[train_rows]
    X_valid, y_valid = rows_of(split.valid), labels[split.valid].astype(np.float64)
    grid = []
    for C in sorted(config.c_grid):
        candidate = fit(X_train, y_train, C, rate, config)
        loss = evaluate.log_loss(y_valid, candidate.predict(X_valid))
        grid.append(
            {
                "C": C,
                "valid_log_loss": loss,
                "iterations": candidate.iterations,
                "converged": candidate.converged,
            }
        )
        say(f"{task.name}: C={C:g} validation log loss {loss:.6f}")
    best_C = min(grid, key=lambda g: (g["valid_log_loss"], g["C"]))["C"]
    lap("select_C")

    fitted = fit(rows_of(refit_rows), labels[refit_rows], best_C, rate, config)
    lap("fit")

    p_holdout = fitted.predict(X_holdout)
    truth = None
    if truth_dir is not None:
        truth = load_truth(holdout.column("bid_id"), task.truth_column, truth_dir)
    metrics = holdout_metrics(y_holdout, p_holdout, truth)
    lap("evaluate")
    say(f"{task.name}: chose C={best_C:g}; holdout log loss {metrics['model']['log_loss']:.6f}")

    window = split.describe(event_ms)
    window["negative_rate"] = rate
    return Training(
        task=task,
        spec=spec,
        config=config,
        fitted=fitted,
        split=split,
        window=window,
        data_fingerprint=data_fingerprint,
        grid=grid,
        holdout=holdout,
        X_holdout=X_holdout,
        y_holdout=y_holdout,
        p_holdout=p_holdout,
        truth_holdout=truth,
        metrics=metrics,
        rows_read=table.num_rows,
        rows_fitted=len(refit_rows),
        timings=timings,
    )


def holdout_metrics(y: np.ndarray, p: np.ndarray, truth: np.ndarray | None) -> dict[str, Any]:
    """The model's metrics on the holdout and, where the truth covers rows, the oracle's
    beside the model's on exactly those rows."""
    out: dict[str, Any] = {"model": evaluate.metrics(y, p), "oracle": None, "truth_coverage": 0.0}
    if truth is not None:
        known = ~np.isnan(truth)
        out["truth_coverage"] = float(known.mean())
        if known.any():
            out["oracle"] = evaluate.metrics(y[known], truth[known])
            out["model_on_truth_rows"] = evaluate.metrics(y[known], p[known])
    return out
