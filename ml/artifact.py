"""The model artifact's file format: plain JSON, checksummed and signed. Pure Python.

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
    signature        {"alg": "hmac-sha256", "key_id": "<8 hex>", "mac": "<64 hex>"}: see below
    checksum         "sha256:<hex>" of the canonical JSON of every key but these two

The checksum covers the *canonical* form (sorted keys, no whitespace, ASCII, floats as
Python's shortest round-trip repr), not the file's bytes, so it is reproducible from
the parsed object in any language with a correct float printer. Floats survive the
round trip exactly, which the 1e-9 parity with scikit-learn relies on.

A checksum catches accidents; anyone can recompute it. The signature says who wrote the
model: HMAC-SHA256, under the deployment's model-signing key, of the same canonical JSON
(every key but `checksum` and `signature`), a newline, and the canonical JSON of
`{"alg", "key_id"}` (so neither can be swapped). The key is `bidlake.keys.load_key("model-signing",
"BIDLAKE_MODEL_SIGNING_KEY", <home>)`: the environment variable on a fleet, else the data
home's private key file, which training and the bidder of one home share. `key_id` is the
key's public 4-byte id, which says which key signed it (rotation) and never what it is.
Training signs what it exports (ml/export.py); the bidder loads only artifacts signed with
its key (bidder/models.py); `read_artifact(path)` without a key checks the checksum only.

Validation bounds what a (signed) artifact may hold, so that a training bug cannot make
the bidder fail: file size (MAX_ARTIFACT_BYTES, checked before reading), `hash_bits`
(MAX_HASH_BITS, checked before anything is sized by it), and every weight, the intercept
and the calibration (finite, |x| <= MAX_ABS_WEIGHT: the logit then stays finite, so the
probability is never NaN).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from pathlib import Path
from typing import Any

from bidlake.atomic_files import atomic_write
from bidlake.keys import MIN_KEY_BYTES, Key, load_key

SCHEMA_VERSION = 1
KIND = "bidlake.logistic_regression"
CHECKSUM_PREFIX = "sha256:"
# ~30 bytes per non-zero weight in the file: 256 MiB is ~8M weights, half the buckets of
# a MAX_HASH_BITS model (a default 2**20-bucket model is at most ~30 MB).
MAX_ARTIFACT_BYTES = 256 << 20
MIN_HASH_BITS = 8
MAX_HASH_BITS = 24  # 16.7M buckets; the default spec has 20
# An L2-regularised logistic regression on one-hot features has weights of order 1-10;
# e**1000 is beyond any odds. Bounding each term keeps the logit finite (no NaN pCTR).
MAX_ABS_WEIGHT = 1000.0
SIGNATURE_ALG = "hmac-sha256"
SIGNING_KEY_NAME = "model-signing"
SIGNING_KEY_ENV = "BIDLAKE_MODEL_SIGNING_KEY"
UNSEALED = ("checksum", "signature")  # the keys neither the checksum nor the MAC cover


class ArtifactError(ValueError):
    """A model file that is unreadable, tampered with, or of an unknown schema."""


def canonical_json(doc: dict[str, Any]) -> bytes:
    try:
        return json.dumps(
            doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
        ).encode("ascii")
    except ValueError as exc:  # NaN / inf anywhere: not a valid model
        raise ArtifactError(f"artifact is not finite JSON: {exc}") from exc


def _body(doc: dict[str, Any]) -> bytes:
    """The canonical JSON both the checksum and the signature cover."""
    return canonical_json({k: v for k, v in doc.items() if k not in UNSEALED})


def checksum(doc: dict[str, Any], body: bytes | None = None) -> str:
    return CHECKSUM_PREFIX + hashlib.sha256(_body(doc) if body is None else body).hexdigest()


# ---- signing ----------------------------------------------------------------------------


def signing_key(home_root: Path | None = None, *, create: bool = True) -> Key:
    """The deployment's model-signing key: $BIDLAKE_MODEL_SIGNING_KEY, else the home's key
    file (made on first use when `create`). A key under MIN_KEY_BYTES is refused."""
    from bidlake.paths import home

    root = home_root if home_root is not None else home().root
    try:
        key = load_key(SIGNING_KEY_NAME, SIGNING_KEY_ENV, root, create=create)
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"no usable model-signing key: {exc}") from exc
    if not key.strong:
        raise ArtifactError(
            f"model-signing {key.describe()}: a signing key needs at least {MIN_KEY_BYTES} bytes"
        )
    return key


def _mac(body: bytes, key: Key, alg: str, key_id: str) -> str:
    """HMAC of the body and of what the signature says about itself (alg, key id)."""
    mac = hmac.new(key.secret, body, hashlib.sha256)
    mac.update(b"\n" + canonical_json({"alg": alg, "key_id": key_id}))
    return mac.hexdigest()


def signature(doc: dict[str, Any], key: Key, body: bytes | None = None) -> dict[str, str]:
    """The `signature` field of `doc` under `key`."""
    body = _body(doc) if body is None else body
    return {
        "alg": SIGNATURE_ALG,
        "key_id": key.key_id,
        "mac": _mac(body, key, SIGNATURE_ALG, key.key_id),
    }


def verify_signature(doc: dict[str, Any], key: Key, where: str, body: bytes | None = None) -> None:
    """ArtifactError unless `doc` carries a valid signature under `key` (`body`: its
    canonical JSON, when the caller has it already)."""
    sig = doc.get("signature")
    if sig is None:
        raise ArtifactError(
            f"{where}: not signed; only models signed with this deployment's model-signing "
            f"key are loaded ({key.describe()})"
        )
    if not isinstance(sig, dict) or not all(
        isinstance(sig.get(k), str) for k in ("alg", "key_id", "mac")
    ):
        raise ArtifactError(f"{where}: malformed signature (want alg, key_id and mac strings)")
    if sig["alg"] != SIGNATURE_ALG:
        raise ArtifactError(f"{where}: signature algorithm {sig['alg']!r} is not {SIGNATURE_ALG}")
    if sig["key_id"] != key.key_id:
        raise ArtifactError(
            f"{where}: signed with key {sig['key_id']!r}, but this process verifies with "
            f"{key.describe()}: set {SIGNING_KEY_ENV} (or share the key file) so training "
            "and the bidder use the same key"
        )
    body = _body(doc) if body is None else body
    if not hmac.compare_digest(sig["mac"], _mac(body, key, sig["alg"], sig["key_id"])):
        raise ArtifactError(
            f"{where}: signature does not verify with key {key.key_id}: the model was not "
            "written by this platform's training, or was modified after; refusing it"
        )


def seal(doc: dict[str, Any], key: Key | None = None) -> dict[str, Any]:
    """The document with its checksum set, and signed with `key` when given (a new dict)."""
    out = {k: v for k, v in doc.items() if k not in UNSEALED}
    body = _body(out)
    if key is not None:
        out["signature"] = signature(out, key, body)
    out["checksum"] = checksum(out, body)
    return out


def write_artifact(doc: dict[str, Any], path: Path, key: Key | None = None) -> Path:
    """Seal (and sign, with `key`), validate and write atomically (bidlake.atomic_files):
    never a half-written model."""
    sealed = seal(doc, key)
    validate(sealed, str(path))
    return atomic_write(path, canonical_json(sealed) + b"\n")


def read_artifact(path: Path, key: Key | None = None) -> dict[str, Any]:
    """Parse, verify checksum, schema and (with `key`) signature, validate shapes and
    bounds; ArtifactError otherwise."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_ARTIFACT_BYTES:  # before reading a byte of it
            raise ArtifactError(
                f"{path}: {size} bytes, more than the {MAX_ARTIFACT_BYTES} a model may have"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read model file: {exc}") from exc
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:  # bad UTF-8 / JSON, a 5,000-digit int, nesting
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
    body = _body(doc)  # serialized once for the checksum and the signature
    actual = checksum(doc, body)
    if stored != actual:
        raise ArtifactError(
            f"{path}: checksum mismatch (stored {stored}, content {actual}): the file was "
            "modified after export; refusing to load it"
        )
    if key is not None:
        verify_signature(doc, key, str(path), body)
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
    if not _is_weight(model.get("intercept")):
        raise fail(f"model.intercept must be a finite number within ±{MAX_ABS_WEIGHT:g}")
    spec = doc.get("feature_spec")
    if not isinstance(spec, dict):
        raise fail("feature_spec must be an object")
    hash_bits = spec.get("hash_bits")
    if (
        not isinstance(hash_bits, int)
        or isinstance(hash_bits, bool)
        or not MIN_HASH_BITS <= hash_bits <= MAX_HASH_BITS
    ):  # before `1 << hash_bits`: 2**62 would ask for exabytes
        shown = f"{hash_bits!r}"[:40] if not isinstance(hash_bits, int) else _int_text(hash_bits)
        raise fail(
            f"feature_spec.hash_bits must be an integer in {MIN_HASH_BITS}..{MAX_HASH_BITS}, "
            f"got {shown}"
        )
    buckets = 1 << hash_bits
    if len(indices) > buckets:
        raise fail(f"{len(indices)} weights for {buckets} buckets")
    previous = -1
    for i, w in zip(indices, weights, strict=True):
        if not isinstance(i, int) or isinstance(i, bool) or not previous < i < buckets:
            shown = _int_text(i) if isinstance(i, int) else f"{i!r}"[:40]
            raise fail(f"model.indices must be ascending ints in [0, {buckets}), got {shown}")
        if not _is_weight(w):
            raise fail(
                f"weight of index {i} is not a finite number within ±{MAX_ABS_WEIGHT:g}: "
                f"{f'{w!r}'[:40]}"
            )
        previous = i
    calibration = doc.get("calibration")
    if not isinstance(calibration, dict):
        raise fail("calibration must be an object")
    for key in ("slope", "offset"):
        if not _is_weight(calibration.get(key)):
            raise fail(f"calibration.{key} must be a finite number within ±{MAX_ABS_WEIGHT:g}")
    if not _is_number(calibration.get("negative_sampling_rate")):
        raise fail("calibration.negative_sampling_rate must be a finite number")
    if not 0 < calibration["negative_sampling_rate"] <= 1:
        raise fail("calibration.negative_sampling_rate must be in (0, 1]")


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _is_weight(value: object) -> bool:
    """A finite number within ±MAX_ABS_WEIGHT (a huge int is refused before float())."""
    return _is_number(value) and -MAX_ABS_WEIGHT <= value <= MAX_ABS_WEIGHT  # type: ignore[operator]


def _int_text(value: int) -> str:
    """An int for a message (str() of one with 5,000 digits raises)."""
    return str(value) if -(10**18) < value < 10**18 else f"an integer of {value.bit_length()} bits"


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
