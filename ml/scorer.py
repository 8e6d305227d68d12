"""The bidder-side scorer: a logistic model evaluated in pure Python (no numpy/sklearn).

`load_model(path)` reads an artifact (ml/artifact.py: checksum and schema version
verified, anything else refused with `ArtifactError`), and `ScoringModel.predict(raw)`
returns the calibrated probability for a raw row keyed by bid-time field names
(ml/features.py). It runs once per (opportunity, campaign) on the bidder's hot path.

Why it is fast (≈ 4-8 µs per score on one core here, see benchmarks/ml): every feature
keeps a small memo from its raw input to (value strings, summed weight), so the common
case per feature is one dict lookup, not a string format + encode + CRC + weight lookup;
crosses are memoized on their components' value strings. A miss falls back to the same
code as `FeatureSpec.indices` (the reference), and a memo that grows past
`MEMO_LIMIT` entries is cleared rather than evicted item by item (cheap, and a burst of
unseen values cannot grow memory without bound). Memos are plain dicts: concurrent
readers and writers under the GIL at worst compute an entry twice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

from bidlake.keys import Key
from ml.artifact import ArtifactError, read_artifact
from ml.features import CROSS_SEP, DEFAULTS, RAW_FIELDS, TRANSFORMS, FeatureSpec

MEMO_LIMIT = 1 << 16

__all__ = ["ArtifactError", "ScoringModel", "load_model", "sigmoid"]


def sigmoid(x: float) -> float:
    """1 / (1 + e^-x) without overflow for any finite x (same branches as scipy's expit)."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


class _FeatureSlot:
    """One feature compiled for scoring: its inputs, transform, hash prefix and memo."""

    __slots__ = (
        "defaults",
        "fn",
        "inputs",
        "is_list",
        "memo",
        "name",
        "param",
        "single",
        "value_memo",
    )

    def __init__(self, spec: FeatureSpec, name: str) -> None:
        feature = spec.feature(name)
        self.name = name
        self.inputs = feature.inputs
        self.defaults = tuple(DEFAULTS[RAW_FIELDS[i]] for i in feature.inputs)
        self.single = len(feature.inputs) == 1
        self.is_list = feature.is_list
        self.fn = TRANSFORMS[feature.transform]
        self.param = feature.param
        # raw input -> (value strings, summed weight); value string -> weight
        self.memo: dict[Any, tuple[tuple[str, ...], float]] = {}
        self.value_memo: dict[str, float] = {}


class _CrossSlot:
    __slots__ = ("combo_memo", "memo", "name", "positions")

    def __init__(self, name: str, positions: tuple[int, ...]) -> None:
        self.name = name
        self.positions = positions
        # components' value tuples -> summed weight; one combination -> weight
        self.memo: dict[tuple[tuple[str, ...], ...], float] = {}
        self.combo_memo: dict[tuple[str, ...], float] = {}


@dataclass
class ScoringModel:
    """A loaded model. Immutable in use: the bidder swaps whole models on reload."""

    name: str
    version: str
    spec: FeatureSpec
    intercept: float
    weights: dict[int, float]
    slope: float = 1.0
    offset: float = 0.0
    negative_sampling_rate: float = 1.0
    checksum: str = ""
    path: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # training, metrics, created_at_ms
    _features: tuple[_FeatureSlot, ...] = field(init=False, repr=False)
    _crosses: tuple[_CrossSlot, ...] = field(init=False, repr=False)
    _plan: tuple[tuple[int, Any, dict, _FeatureSlot], ...] = field(init=False, repr=False)
    _pairs: tuple[tuple[int, int, dict, _CrossSlot], ...] = field(init=False, repr=False)
    _wide: tuple[_CrossSlot, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        names = [f.name for f in self.spec.features]
        self._features = tuple(_FeatureSlot(self.spec, n) for n in names)
        position = {n: i for i, n in enumerate(names)}
        self._crosses = tuple(
            _CrossSlot(self.spec.cross_name(c), tuple(position[n] for n in c))
            for c in self.spec.crosses
        )
        self._plan = tuple(
            (
                (1 if slot.is_list else 0) if slot.single else 2,
                slot.inputs[0] if slot.single else slot.inputs,
                slot.memo,
                slot,
            )
            for slot in self._features
        )
        self._pairs = tuple(
            (c.positions[0], c.positions[1], c.memo, c)
            for c in self._crosses
            if len(c.positions) == 2
        )
        self._wide = tuple(c for c in self._crosses if len(c.positions) != 2)

    @classmethod
    def from_artifact(cls, doc: Mapping[str, Any], path: Path | None = None) -> ScoringModel:
        model, calibration = doc["model"], doc["calibration"]
        return cls(
            name=doc["name"],
            version=doc["version"],
            spec=FeatureSpec.from_dict(doc["feature_spec"]),
            intercept=float(model["intercept"]),
            weights={
                int(i): float(w) for i, w in zip(model["indices"], model["weights"], strict=True)
            },
            slope=float(calibration["slope"]),
            offset=float(calibration["offset"]),
            negative_sampling_rate=float(calibration["negative_sampling_rate"]),
            checksum=doc["checksum"],
            path=path,
            metadata={
                k: doc.get(k) for k in ("created_at_ms", "training", "metrics", "calibration")
            },
        )

    # ---- scoring ---------------------------------------------------------------------

    def logit(self, raw: Mapping[str, object]) -> float:
        """intercept + Σ weights of the row's tokens: sklearn's decision_function."""
        # The hot loop: locals only, one dict lookup per feature and per cross when the
        # memos are warm. Kinds: 0 one scalar input, 1 one list input, 2 several inputs.
        z = self.intercept
        get = raw.get
        values: list[tuple[str, ...]] = []
        append = values.append
        key: Any
        try:
            for kind, field, memo, slot in self._plan:
                if kind == 0:
                    key = get(field)
                elif kind == 1:
                    key = get(field)
                    key = tuple(key) if key else ()
                else:
                    key = tuple(map(get, field))
                hit = memo.get(key)
                if hit is None:
                    hit = self._miss(slot, key)
                append(hit[0])
                z += hit[1]
        except TypeError:  # an unhashable value where a scalar belongs
            bad = {n: raw.get(n) for n in self.spec.raw_fields}
            raise ValueError(f"unusable raw values for scoring: {bad!r}") from None
        for first, second, memo, cross in self._pairs:
            ckey = (values[first], values[second])
            w = memo.get(ckey)
            if w is None:
                w = self._cross_miss(cross, ckey)
            z += w
        for cross in self._wide:
            wide_key = tuple([values[p] for p in cross.positions])
            w = cross.memo.get(wide_key)
            if w is None:
                w = self._cross_miss(cross, wide_key)
            z += w
        return z

    def raw_probability(self, raw: Mapping[str, object]) -> float:
        """sigmoid(logit): the fitted model's probability before calibration (= sklearn's
        predict_proba[:, 1] on the downsampled training distribution)."""
        return sigmoid(self.logit(raw))

    def predict(self, raw: Mapping[str, object]) -> float:
        """Calibrated probability of the event (click for ctr, conversion for cvr)."""
        return sigmoid(self.slope * self.logit(raw) + self.offset)

    # ---- memo misses: the reference path ---------------------------------------------

    def _miss(self, slot: _FeatureSlot, key: Any) -> tuple[tuple[str, ...], float]:
        inputs = (key,) if slot.single else key
        inputs = tuple(d if v is None else v for v, d in zip(inputs, slot.defaults, strict=True))
        try:
            values = tuple(slot.fn(slot.param, inputs))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"feature {slot.name!r}: bad input {key!r}: {exc}") from None
        # Many raw inputs share a value (floors in one bucket, segment lists sharing
        # segments): hash each value string once.
        value_memo = slot.value_memo
        total = 0.0
        for value in values:
            w = value_memo.get(value)
            if w is None:
                w = self.weights.get(self.spec.index(slot.name, value), 0.0)
                _bounded_set(value_memo, value, w)
            total += w
        hit = (values, total)
        _bounded_set(slot.memo, key, hit)
        return hit

    def _cross_miss(self, cross: _CrossSlot, key: tuple[tuple[str, ...], ...]) -> float:
        combo_memo = cross.combo_memo
        total = 0.0
        for combo in product(*key):
            w = combo_memo.get(combo)
            if w is None:
                index = self.spec.index(cross.name, CROSS_SEP.join(combo))
                w = self.weights.get(index, 0.0)
                _bounded_set(combo_memo, combo, w)
            total += w
        _bounded_set(cross.memo, key, total)
        return total

    def reference_logit(self, raw: Mapping[str, object]) -> float:
        """The logit through FeatureSpec.indices, without memos (tests, debugging)."""
        return self.intercept + sum(self.weights.get(i, 0.0) for i in self.spec.indices(raw))


def _bounded_set(memo: dict, key: Any, value: Any) -> None:
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    memo[key] = value


def load_model(path: str | Path, key: Key | None = None) -> ScoringModel:
    """Load and verify a model artifact (with `key`: its signature too); `ArtifactError`
    names the file and the reason."""
    path = Path(path)
    doc = read_artifact(path, key)
    try:
        return ScoringModel.from_artifact(doc, path)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ArtifactError):
            raise
        raise ArtifactError(f"{path}: malformed model: {exc!r}") from exc
