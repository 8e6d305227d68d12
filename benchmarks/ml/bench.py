"""How fast the bidder-side scorer scores and how fast training goes through rows.

Figures (one process; the scorer is single-threaded, so its figures are one core):
- scorer: `ScoringModel.predict` (memoized path, warm) over 20k synthetic mart rows,
  scores/s, and the same on a freshly loaded model (every distinct value a miss once),
  against three baselines measured here on the same rows and model:
  * the reference path (FeatureSpec.indices: format + encode + CRC per token, then dict
    lookups) — what the scorer would cost without its memos;
  * scikit-learn predict_proba one row at a time (hash the row, 1-row CSR matrix) — what
    calling the trained estimator from the bidder would cost;
  * a bare loop of dict lookups over precomputed indices, no hashing at all — the
    ceiling of any pure-Python scorer of this spec (the ratio shows how close we are);
- encode: the columnar encoder (training) against FeatureSpec.indices in a loop, rows/s;
- train: the whole `train()` (load from DuckDB, encode, C grid of 5, refit, evaluate) in
  input rows/s, on BIDLAKE_BENCH_ML_ROWS synthetic impressions (default 1M, 4 days).
"""

from __future__ import annotations

import math
import os

import duckdb
import numpy as np
import pyarrow as pa
from scipy import sparse

from benchmarks.harness import Figure, best_of, stopwatch
from ml.data import TASKS
from ml.encode import encode
from ml.export import build_document
from ml.features import default_spec
from ml.scorer import ScoringModel, sigmoid
from ml.synthetic import load_into, make_marts
from ml.train import TrainConfig, train

PART = "ml"
SCORE_ROWS = 20_000


def run() -> list[Figure]:
    n_train = int(os.environ.get("BIDLAKE_BENCH_ML_ROWS", "1000000"))
    data = make_marts(n_train, days=4, seed=1)
    con = duckdb.connect()
    load_into(con, data)
    with stopwatch() as elapsed:
        training = train(con, TASKS["ctr"], TrainConfig())
    train_s = elapsed()
    con.close()
    figures = [
        Figure(
            PART,
            "train: whole train() (5 C values), input rows/s",
            n_train / train_s,
            "rows/s",
            note=f"{n_train:,} rows in {train_s:.1f}s; "
            + ", ".join(f"{k} {v:.1f}s" for k, v in training.timings.items()),
        )
    ]

    spec = default_spec()
    sample = data.ctr.take(pa.array(np.linspace(0, n_train - 1, SCORE_ROWS).astype(np.int64)))
    rows = sample.to_pylist()

    # Encoding: columnar vs per-row reference.
    columnar_s = best_of(3, lambda: encode(sample, spec))
    reference_s = best_of(1, lambda: [spec.indices(r) for r in rows])
    figures += [
        Figure(
            PART,
            "encode: FeatureSpec.indices per row (baseline)",
            SCORE_ROWS / reference_s,
            "rows/s",
        ),
        Figure(
            PART,
            "encode: columnar (training)",
            SCORE_ROWS / columnar_s,
            "rows/s",
            baseline="encode: FeatureSpec.indices per row (baseline)",
            note=f"{SCORE_ROWS:,} rows",
        ),
    ]

    # Scoring.
    doc = build_document(training, 0)
    model = ScoringModel.from_artifact(doc)
    indices = [spec.indices(r) for r in rows]
    weights, intercept = model.weights, model.intercept

    def bare() -> None:
        get = weights.get
        for idx in indices:
            z = intercept
            for i in idx:
                z += get(i, 0.0)
            sigmoid(z + model.offset)

    def memoized() -> None:
        predict = model.predict
        for row in rows:
            predict(row)

    def reference() -> None:
        for row in rows:
            sigmoid(model.reference_logit(row) + model.offset)

    per_row = rows[:2000]
    fitted = training.fitted

    def sklearn_per_row() -> None:
        for row in per_row:
            idx = spec.indices(row)
            x = sparse.csr_matrix(
                (np.ones(len(idx)), (np.zeros(len(idx), dtype=np.int64), idx)),
                shape=(1, spec.num_buckets),
            )
            fitted.raw_probability(x)

    def cold() -> None:  # a freshly loaded model: every distinct value is a miss once
        fresh = ScoringModel.from_artifact(doc)
        for row in rows:
            fresh.predict(row)

    cold_s = best_of(3, cold)
    memoized()  # warm the memos, as a running bidder has them
    memo_s = best_of(5, memoized)
    bare_s = best_of(5, bare)
    ref_s = best_of(3, reference)
    sk_s = best_of(1, sklearn_per_row)
    check = max(
        abs(model.predict(r) - sigmoid(model.reference_logit(r) + model.offset)) for r in rows
    )
    assert check < 1e-12 and math.isfinite(check)
    name = "scorer: predict (memoized), 1 core"
    figures += [
        Figure(
            PART,
            "scorer: sklearn predict_proba per row (baseline)",
            len(per_row) / sk_s,
            "scores/s",
        ),
        Figure(PART, "scorer: reference path, no memos (baseline)", SCORE_ROWS / ref_s, "scores/s"),
        Figure(
            PART, "scorer: bare dict loop, no hashing (ceiling)", SCORE_ROWS / bare_s, "scores/s"
        ),
        Figure(
            PART,
            name,
            SCORE_ROWS / memo_s,
            "scores/s",
            baseline="scorer: reference path, no memos (baseline)",
            note=f"{1e6 * memo_s / SCORE_ROWS:.2f} µs/score, {len(spec.token_names())} token kinds",
        ),
        Figure(
            PART,
            "scorer: predict, cold memos (fresh model, one pass)",
            SCORE_ROWS / cold_s,
            "scores/s",
            baseline="scorer: reference path, no memos (baseline)",
            note="includes building the model from the parsed artifact",
        ),
        Figure(
            PART,
            "scorer: memoized vs sklearn per row",
            SCORE_ROWS / memo_s,
            "scores/s",
            baseline="scorer: sklearn predict_proba per row (baseline)",
        ),
        Figure(
            PART,
            "scorer: memoized vs bare dict loop",
            SCORE_ROWS / memo_s,
            "scores/s",
            baseline="scorer: bare dict loop, no hashing (ceiling)",
        ),
    ]
    return figures
