"""The model artifact's file format: plain JSON with a SHA-256 checksum. Pure Python.

A model is one JSON object (no pickle: loading a model must never run code):

    schema_version   SCHEMA_VERSION; a reader refuses any other
    kind             "bidlake.logistic_regression"
    name, version    "ctr" / "cvr", and the registry version string
    created_at_ms    UTC epoch ms
    feature_spec     ml.features.FeatureSpec.to_dict()
    model            {"intercept": float, "indices": [int], "weights": [float]}
                     (only non-zero weights, indices ascending)
    calibration      {"method", "negative_sampling_rate", "slope", "offset"}:
                     p = sigmoid(slope * (intercept + sum weights) + offset); plain
                     negative downsampling at rate r gives slope 1, offset ln r
    training         window, data fingerprint, rows, chosen C, ... (free-form, informative)
    metrics          holdout metrics (free-form, informative)
    checksum         "sha256:<hex>" of the canonical JSON of every other key

The checksum covers the *canonical* form (sorted keys, no whitespace, ASCII, floats as
Python's shortest round-trip repr), not the file's bytes, so it is reproducible from
the parsed object in any language with a correct float printer. Floats survive the
round trip exactly, which the 1e-9 parity with scikit-learn relies on.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from bidlake.atomic_files import atomic_write

SCHEMA_VERSION = 1
KIND = "bidlake.logistic_regression"
CHECKSUM_PREFIX = "sha256:"
MAX_ARTIFACT_BYTES = 1 << 30  # a 2**30-bucket model with every weight set is ~25 MB


class ArtifactError(ValueError):
    """A model file that is unreadable, tampered with, or of an unknown schema."""


def canonical_json(doc: dict[str, Any]) -> bytes:
    try:
        return json.dumps(
            doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
        ).encode("ascii")
    except ValueError as exc:  # NaN / inf anywhere: not a valid model
        raise ArtifactError(f"artifact is not finite JSON: {exc}") from exc


def checksum(doc: dict[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "checksum"}
    return CHECKSUM_PREFIX + hashlib.sha256(canonical_json(body)).hexdigest()


def seal(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with its checksum set (a new dict)."""
    out = {k: v for k, v in doc.items() if k != "checksum"}
    out["checksum"] = checksum(out)
    return out


def write_artifact(doc: dict[str, Any], path: Path) -> Path:
    """Seal and write atomically (bidlake.atomic_files): never a half-written model."""
    sealed = seal(doc)
    validate(sealed, str(path))
    return atomic_write(path, canonical_json(sealed) + b"\n")


def read_artifact(path: Path) -> dict[str, Any]:
    """Parse, verify checksum and schema, validate shapes; ArtifactError otherwise."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_ARTIFACT_BYTES:
            raise ArtifactError(f"{path}: {size} bytes, larger than any model could be")
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read model file: {exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: not a JSON model file: {exc}") from exc
    if not isinstance(doc, dict):
        raise ArtifactError(f"{path}: model file must hold a JSON object")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ArtifactError(
            f"{path}: schema_version {version!r} is not supported (this reader: {SCHEMA_VERSION})"
        )
    stored = doc.get("checksum")
    if not isinstance(stored, str) or not stored.startswith(CHECKSUM_PREFIX):
        raise ArtifactError(f"{path}: missing or malformed checksum")
    actual = checksum(doc)
    if stored != actual:
        raise ArtifactError(
            f"{path}: checksum mismatch (stored {stored}, content {actual}): the file was "
            "modified after export; refusing to load it"
        )
    validate(doc, str(path))
    return doc


def validate(doc: dict[str, Any], where: str) -> None:
    """Shape checks a checksum cannot give (a sealed but wrong export)."""

    def fail(what: str) -> ArtifactError:
        return ArtifactError(f"{where}: {what}")

    if doc.get("kind") != KIND:
        raise fail(f"kind must be {KIND!r}, got {doc.get('kind')!r}")
    for key in ("name", "version"):
        if not isinstance(doc.get(key), str) or not doc[key]:
            raise fail(f"{key} must be a non-empty string")
    model = doc.get("model")
    if not isinstance(model, dict):
        raise fail("model must be an object")
    indices, weights = model.get("indices"), model.get("weights")
    if not isinstance(indices, list) or not isinstance(weights, list):
        raise fail("model.indices and model.weights must be lists")
    if len(indices) != len(weights):
        raise fail(f"{len(indices)} indices but {len(weights)} weights")
    if not _is_number(model.get("intercept")):
        raise fail("model.intercept must be a finite number")
    buckets = 1 << int(doc.get("feature_spec", {}).get("hash_bits", 0))
    previous = -1
    for i, w in zip(indices, weights, strict=True):
        if not isinstance(i, int) or isinstance(i, bool) or not previous < i < buckets:
            raise fail(f"model.indices must be ascending ints in [0, {buckets}), got {i!r}")
        if not _is_number(w):
            raise fail(f"weight of index {i} is not a finite number: {w!r}")
        previous = i
    calibration = doc.get("calibration")
    if not isinstance(calibration, dict):
        raise fail("calibration must be an object")
    for key in ("slope", "offset", "negative_sampling_rate"):
        if not _is_number(calibration.get(key)):
            raise fail(f"calibration.{key} must be a finite number")
    if not 0 < calibration["negative_sampling_rate"] <= 1:
        raise fail("calibration.negative_sampling_rate must be in (0, 1]")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def new_document(
    *,
    name: str,
    version: str,
    created_at_ms: int,
    feature_spec: dict[str, Any],
    intercept: float,
    weights: dict[int, float],
    negative_sampling_rate: float = 1.0,
    slope: float = 1.0,
    offset: float | None = None,
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An unsealed artifact document; zero weights are dropped, indices sorted.

    `offset` defaults to ln(negative_sampling_rate): the exact correction for keeping
    that fraction of negatives, q = p / (p + (1 - p) / w) (He et al., 2014), which in
    logit space is a shift by ln w.
    """
    nonzero = sorted((int(i), float(w)) for i, w in weights.items() if w != 0.0)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "name": name,
        "version": version,
        "created_at_ms": int(created_at_ms),
        "feature_spec": feature_spec,
        "model": {
            "intercept": float(intercept),
            "indices": [i for i, _ in nonzero],
            "weights": [w for _, w in nonzero],
        },
        "calibration": {
            "method": "negative_downsampling" if slope == 1.0 and offset is None else "platt",
            "negative_sampling_rate": float(negative_sampling_rate),
            "slope": float(slope),
            "offset": float(math.log(negative_sampling_rate) if offset is None else offset),
        },
        "training": training or {},
        "metrics": metrics or {},
    }
