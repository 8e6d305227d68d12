"""Export: artifact, parity check, quality gate, registry — and `train_and_export`.

`train_and_export(name)` is the entry point orchestration calls (and `bidlake train`):
train (ml/train.py), build the JSON artifact, prove the pure-Python scorer reproduces
scikit-learn on holdout rows (to 1e-9, else the export is refused), decide promotion,
write `<models>/<name>/<version>/` (model.json, eval.json, gate.json, reliability.png,
roc.png) and move CURRENT when the gate says so. Every export is recorded in
`<models>/<name>/history.jsonl`, promoted or not, with the reason.

The artifact is signed with the deployment's model-signing key (ml/artifact.py:
`signing_key()`, the same key the bidder verifies with), resolved before training starts so
that a missing or short key fails in a second, not after the fit. The current model the
gate compares against is loaded with that key too: an unsigned or foreign one counts as
unusable (the bidder would refuse it), so the new model replaces it.

The gate: a new model replaces the current one only if its log loss on *this* holdout is
not worse than the current model's on the same rows by more than `GATE_TOLERANCE`
(relative). Log loss, because the bidder multiplies values by probabilities: a model that
ranks as well but is miscalibrated overbids or underbids. The tolerance absorbs the
noise of refitting on a day more data without letting a real regression through; with no
current model (or an unreadable one) the new model is promoted and the reason says why.
Before any of that, a model must beat the holdout's base rate (normalized entropy < 1): one
that does not — too few positives, e.g. CVR from a young lake — would price bids worse than
a constant, so it is never promoted and the bidder keeps no-bidding (`no_model`) instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import sparse

from bidlake.keys import Key
from ml import evaluate, registry
from ml.artifact import ArtifactError, new_document, seal, signing_key
from ml.data import TASKS, DataError
from ml.encode import encode
from ml.scorer import ScoringModel
from ml.train import Progress, TrainConfig, Training, train

GATE_TOLERANCE = 0.002  # relative log loss increase still accepted
MAX_NORMALIZED_ENTROPY = 1.0  # a model must beat predicting the base rate to be served
PARITY_ROWS = 2_000
PARITY_TOLERANCE = 1e-9


class ExportError(RuntimeError):
    """The artifact does not reproduce the trained model; nothing was written."""


@dataclass(frozen=True)
class GateVerdict:
    promote: bool
    reason: str
    new_log_loss: float
    current_version: str | None = None
    current_log_loss: float | None = None
    tolerance: float = GATE_TOLERANCE


@dataclass
class TrainResult:
    """What one train-and-export did: the holdout metrics, the oracle's, and the verdict."""

    name: str
    version: str
    path: Path
    promoted: bool
    reason: str
    gate: GateVerdict
    metrics: dict[str, Any]  # model / oracle / model_on_truth_rows / truth_coverage
    chosen_C: float
    grid: list[dict[str, Any]]
    window: dict[str, Any]
    rows_read: int
    rows_fitted: int
    parity_max_abs_diff: float
    timings: dict[str, float] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)

    @property
    def model_metrics(self) -> dict[str, Any]:
        return self.metrics["model"]

    @property
    def oracle_metrics(self) -> dict[str, Any] | None:
        return self.metrics.get("oracle")


def predict_rows(
    model: ScoringModel,
    table: pa.Table,
    X: sparse.csr_matrix | None = None,
) -> np.ndarray:
    """A loaded model's calibrated probabilities for many rows, vectorized.

    Same arithmetic as `ScoringModel.predict`, through the columnar encoder; `X` (the
    table encoded with the model's own spec) is reused when given.
    """
    from scipy.special import expit

    if X is None:
        X = encode(table, model.spec)
    weights = np.zeros(model.spec.num_buckets)
    if model.weights:
        weights[np.fromiter(model.weights, np.int64)] = np.fromiter(model.weights.values(), float)
    z = X @ weights + model.intercept
    return np.asarray(expit(model.slope * z + model.offset))


def decide(training: Training, models_root: Path | None, key: Key | None = None) -> GateVerdict:
    """Compare the new model with the current one on the new model's holdout (the current
    one loaded with `key`, when given: an artifact that fails it is unusable)."""
    name = training.task.name
    new_loss = training.metrics["model"]["log_loss"]
    normalized_entropy = training.metrics["model"].get("normalized_entropy")
    current = registry.current_version(name, models_root)
    if normalized_entropy is None or normalized_entropy >= MAX_NORMALIZED_ENTROPY:
        positives = training.metrics["model"].get("positives")
        return GateVerdict(
            False,
            f"not promoted: no better than the base rate (holdout normalized entropy "
            f"{normalized_entropy if normalized_entropy is None else round(normalized_entropy, 4)}"
            f" >= {MAX_NORMALIZED_ENTROPY}, {positives} holdout positives)",
            new_loss,
            current,
        )
    if current is None:
        return GateVerdict(True, "no current model: promoted as the first", new_loss)
    try:
        model = registry.load_version(name, current, models_root, key)
    except (ArtifactError, registry.RegistryError) as exc:
        return GateVerdict(True, f"current model {current} is unusable ({exc})", new_loss, current)
    same_spec = model.spec == training.spec
    p = predict_rows(model, training.holdout, training.X_holdout if same_spec else None)
    current_loss = evaluate.log_loss(training.y_holdout, p)
    limit = current_loss * (1 + GATE_TOLERANCE)
    change = (new_loss - current_loss) / current_loss if current_loss > 0 else 0.0
    where = (
        f"holdout log loss {new_loss:.6f} vs current {current} {current_loss:.6f} "
        f"({change:+.2%}, tolerance +{GATE_TOLERANCE:.1%})"
    )
    if new_loss <= limit:
        return GateVerdict(True, f"promoted: {where}", new_loss, current, current_loss)
    return GateVerdict(False, f"kept current: {where}", new_loss, current, current_loss)


def _parity(training: Training, model: ScoringModel) -> float:
    """Max |scorer - sklearn| over holdout rows (raw and corrected probabilities)."""
    n = training.holdout.num_rows
    picks = np.unique(np.linspace(0, n - 1, min(n, PARITY_ROWS)).astype(np.int64))
    rows = training.holdout.take(pa.array(picks)).to_pylist()
    X = training.X_holdout[picks]
    sk_raw = training.fitted.raw_probability(X)
    sk_corrected = training.fitted.predict(X)
    worst = 0.0
    for row, raw, corrected in zip(rows, sk_raw, sk_corrected, strict=True):
        worst = max(
            worst,
            abs(model.raw_probability(row) - float(raw)),
            abs(model.predict(row) - float(corrected)),
        )
    return worst


def build_document(training: Training, created_at_ms: int) -> dict[str, Any]:
    """The sealed artifact of a training (version derived from its content)."""
    import sklearn

    fitted = training.fitted
    doc = new_document(
        name=training.task.name,
        version="pending",
        created_at_ms=created_at_ms,
        feature_spec=training.spec.to_dict(),
        intercept=fitted.intercept,
        weights=fitted.weights(),
        negative_sampling_rate=fitted.negative_rate,
        training={
            "table": training.task.table,
            "label": training.task.label,
            "window": training.window,
            "data_fingerprint": training.data_fingerprint,
            "rows_read": training.rows_read,
            "rows_fitted": training.rows_fitted,
            "C": fitted.C,
            "c_grid": training.grid,
            "solver": "lbfgs",
            "iterations": fitted.iterations,
            "converged": fitted.converged,
            "sklearn_version": sklearn.__version__,
        },
        metrics=_summary_metrics(training.metrics),
    )
    provisional = seal(doc)["checksum"]
    doc["version"] = registry.new_version(created_at_ms, provisional)
    return seal(doc)


def _summary_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "rows",
        "positives",
        "base_rate",
        "auc",
        "log_loss",
        "normalized_entropy",
        "calibration",
        "brier",
    )

    def pick(m: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if m is None else {k: m[k] for k in keys}

    return {
        "holdout": pick(metrics["model"]),
        "oracle": pick(metrics.get("oracle")),
        "truth_coverage": metrics.get("truth_coverage", 0.0),
    }


def export(
    training: Training,
    *,
    models_root: Path | None = None,
    promote: bool = True,
    now_ms: int | None = None,
    progress: Progress | None = None,
    key: Key | None = None,
) -> TrainResult:
    """Write the trained model as a new registry version, signed with `key` (default: the
    deployment's model-signing key); move CURRENT if the gate allows."""
    say = progress or (lambda _msg: None)
    key = key if key is not None else signing_key()
    name = training.task.name
    created = int(time.time() * 1000) if now_ms is None else now_ms
    doc = build_document(training, created)
    model = ScoringModel.from_artifact(doc)
    parity = _parity(training, model)
    if not parity <= PARITY_TOLERANCE:
        raise ExportError(
            f"{name}: the pure-Python scorer differs from scikit-learn by {parity:.3g} "
            f"(> {PARITY_TOLERANCE}) on holdout rows; not exporting"
        )
    verdict = decide(training, models_root, key)
    if not promote and verdict.promote:
        verdict = GateVerdict(
            False,
            f"not promoted (promotion disabled); gate said: {verdict.reason}",
            verdict.new_log_loss,
            verdict.current_version,
            verdict.current_log_loss,
        )
    version = doc["version"]
    say(f"{name}: {verdict.reason}")

    from ml.artifact import write_artifact

    plots: list[Path] = []
    with registry.staging(name, version, models_root) as folder:
        write_artifact(doc, folder / registry.MODEL_FILE, key)
        curves = {f"model {version}": training.p_holdout}
        y = training.y_holdout
        if training.truth_holdout is not None:
            known = ~np.isnan(training.truth_holdout)
            if known.all():
                curves["oracle (true p)"] = training.truth_holdout
        title = f"{name} holdout {', '.join(training.split.holdout_days)}"
        plots.append(evaluate.plot_reliability(y, curves, folder / "reliability.png", title))
        plots.append(evaluate.plot_roc(y, curves, folder / "roc.png", title))
        evaluation = {
            "version": version,
            "metrics": training.metrics,
            "grid": training.grid,
            "window": training.window,
            "parity_max_abs_diff": parity,
            "timings_s": training.timings,
        }
        (folder / "eval.json").write_text(json.dumps(evaluation, indent=2, default=_json_default))
        (folder / registry.GATE_FILE).write_text(json.dumps(asdict(verdict), indent=2))
    final = registry.version_dir(name, version, models_root)
    plots = [final / p.name for p in plots]
    if verdict.promote:
        registry.set_current(name, version, models_root, key)
    registry.append_history(
        name,
        {
            "version": version,
            "created_at_ms": created,
            "promoted": verdict.promote,
            "reason": verdict.reason,
            "log_loss": verdict.new_log_loss,
            "current_log_loss": verdict.current_log_loss,
            "data_fingerprint": training.data_fingerprint,
        },
        models_root,
    )
    return TrainResult(
        name=name,
        version=version,
        path=final / registry.MODEL_FILE,
        promoted=verdict.promote,
        reason=verdict.reason,
        gate=verdict,
        metrics=training.metrics,
        chosen_C=training.fitted.C,
        grid=training.grid,
        window=training.window,
        rows_read=training.rows_read,
        rows_fitted=training.rows_fitted,
        parity_max_abs_diff=parity,
        timings=training.timings,
        plots=plots,
    )


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _open_catalog() -> Any:
    try:
        from warehouse.catalog import connect_read_only
    except ImportError as exc:
        raise DataError(f"the warehouse catalog is not available ({exc})") from exc
    try:
        return connect_read_only()
    except Exception as exc:  # no catalog published yet, locked, ...: say which
        raise DataError(f"cannot open the warehouse catalog: {exc}") from exc


def train_and_export(
    name: str,
    *,
    con: Any = None,
    models_root: Path | None = None,
    truth_dir: Path | None = None,
    config: TrainConfig | None = None,
    promote: bool = True,
    now_ms: int | None = None,
    progress: Callable[[str], None] | None = None,
    key: Key | None = None,
) -> TrainResult:
    """Train model `name` ("ctr" or "cvr") from the warehouse and export it, signed with
    `key` (default: the deployment's model-signing key, resolved before training).

    `con`: a DuckDB connection holding the feature marts; default the published catalog
    (`warehouse.catalog.connect_read_only()`), closed afterwards. `truth_dir`:
    the simulator's truth, default `<home>/truth` when it exists. Raises `DataError` when
    the mart cannot give a train/validation/holdout split with both classes.
    """
    if name not in TASKS:
        raise ValueError(f"unknown model {name!r}; known: {sorted(TASKS)}")
    key = key if key is not None else signing_key()
    from bidlake.paths import home

    if truth_dir is None and home().truth.is_dir():
        truth_dir = home().truth
    own = con is None
    if own:
        con = _open_catalog()
    try:
        training = train(con, TASKS[name], config, truth_dir=truth_dir, progress=progress)
    finally:
        if own:
            con.close()
    return export(
        training,
        models_root=models_root,
        promote=promote,
        now_ms=now_ms,
        progress=progress,
        key=key,
    )


__all__ = ["DataError", "ExportError", "GateVerdict", "TrainResult", "train_and_export"]
