"""Holdout metrics of a probability model, and the two plots written next to it.

A bid is value × probability, so a model must be calibrated, not only well ranked:
beside AUC (ranking) come log loss, normalized entropy (log loss over the entropy of the
base rate: < 1 means the model knows more than the average rate, the usual CTR yardstick
after He et al. 2014), Brier score, and calibration — Σ predicted / Σ observed overall
and per decile of the prediction. The same metrics of the simulator's true probabilities
(the oracle) show how much of the achievable is reached.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

EPS = 1e-15  # clip probabilities away from 0 and 1 before log, as sklearn's log_loss


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    if y.min() == y.max():
        return None  # undefined with one class
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def entropy(rate: float) -> float:
    if rate <= 0.0 or rate >= 1.0:
        return 0.0
    return -(rate * math.log(rate) + (1 - rate) * math.log(1 - rate))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    q = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log1p(-q)))


def deciles(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Equal-count bins by prediction: mean prediction, observed rate, count, ratio."""
    order = np.argsort(p, kind="stable")
    out = []
    for part in np.array_split(order, bins):
        if len(part) == 0:
            continue
        predicted, observed = float(p[part].mean()), float(y[part].mean())
        out.append(
            {
                "count": len(part),
                "mean_predicted": predicted,
                "observed_rate": observed,
                "calibration": predicted / observed if observed > 0 else math.inf,
            }
        )
    return out


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """Every holdout metric of predictions `p` against 0/1 labels `y`."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if len(y) != len(p):
        raise ValueError(f"{len(y)} labels but {len(p)} predictions")
    if len(y) == 0:
        raise ValueError("no rows to evaluate")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise ValueError("predictions must be finite probabilities in [0, 1]")
    base = float(y.mean())
    ll = log_loss(y, p)
    h = entropy(base)
    positives = float(y.sum())
    return {
        "rows": len(y),
        "positives": int(positives),
        "base_rate": base,
        "mean_predicted": float(p.mean()),
        "auc": _auc(y, p),
        "log_loss": ll,
        "normalized_entropy": ll / h if h > 0 else None,
        "calibration": float(p.sum()) / positives if positives > 0 else None,
        "brier": float(np.mean((p - y) ** 2)),
        "deciles": deciles(y, p),
    }


def _finite(value: float | None) -> float:
    return math.nan if value is None else value


def plot_reliability(
    y: np.ndarray,
    curves: dict[str, np.ndarray],
    path: Path,
    title: str,
    bins: int = 10,
) -> Path:
    """Observed rate vs mean prediction per equal-count bin, log-log (CTRs span decades)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=110)
    lows, highs = [], []
    for label, p in curves.items():
        rows = deciles(y, p, bins)
        xs = [r["mean_predicted"] for r in rows]
        ys = [r["observed_rate"] for r in rows]
        ax.plot(xs, ys, marker="o", label=label)
        lows += [v for v in xs + ys if v > 0]
        highs += xs + ys
    lo = max(min(lows, default=1e-4) / 1.5, 1e-6)
    hi = min(max(highs, default=1.0) * 1.5, 1.0)
    ax.plot([lo, hi], [lo, hi], color="grey", linestyle="--", linewidth=1, label="perfect")
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):  # label decades only: minor labels overlap
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("mean predicted probability (decile)")
    ax.set_ylabel("observed rate")
    ax.set_title(title)
    ax.legend(loc="upper left")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_roc(y: np.ndarray, curves: dict[str, np.ndarray], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_curve

    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=110)
    for label, p in curves.items():
        if y.min() == y.max():
            continue
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, label=f"{label} (AUC {_finite(_auc(y, p)):.4f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
