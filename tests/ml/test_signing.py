"""Model artifacts (issue 11, "Trust"): signed with the deployment's model-signing key at
export, verified with it at load; and bounded — weights, hash_bits and file size — so that
no artifact, signed or not, can make the scorer return NaN or the loader allocate without
limit."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import duckdb
import pytest

from bidlake.keys import Key
from ml import registry
from ml.artifact import (
    MAX_ABS_WEIGHT,
    MAX_ARTIFACT_BYTES,
    MAX_HASH_BITS,
    SIGNING_KEY_ENV,
    ArtifactError,
    canonical_json,
    checksum,
    new_document,
    read_artifact,
    seal,
    signing_key,
    write_artifact,
)
from ml.export import train_and_export
from ml.features import default_spec
from ml.train import TrainConfig

KEY = Key(b"k" * 32, "test key")
OTHER = Key(b"o" * 32, "another test key")


def _document(**changes: object) -> dict:
    doc = new_document(
        name="ctr",
        version="v1",
        created_at_ms=1_735_689_600_000,
        feature_spec=default_spec(hash_bits=12).to_dict(),
        intercept=-2.5,
        weights={7: 0.125, 3: -1 / 3},
        negative_sampling_rate=0.25,
    )
    doc.update(changes)
    return doc


def _raw(path: Path, doc: dict) -> Path:
    """Write a sealed document without write_artifact's validation (a buggy exporter)."""
    path.write_bytes(canonical_json(seal(doc)))
    return path


# ---- signing ----------------------------------------------------------------------------


def test_a_signed_artifact_verifies_with_its_key_only(tmp_path: Path) -> None:
    path = write_artifact(_document(), tmp_path / "model.json", KEY)
    doc = json.loads(path.read_text())
    assert doc["signature"]["alg"] == "hmac-sha256"
    assert doc["signature"]["key_id"] == KEY.key_id
    assert len(doc["signature"]["mac"]) == 64
    # The checksum is the unsigned document's: signing does not change the version name.
    assert doc["checksum"] == checksum(_document())
    assert read_artifact(path, KEY)["model"] == _document()["model"]
    assert read_artifact(path)["checksum"] == doc["checksum"]  # no key: checksum only
    with pytest.raises(ArtifactError, match=f"signed with key '{KEY.key_id}'"):
        read_artifact(path, OTHER)


def test_an_unsigned_artifact_is_refused_when_a_key_is_required(tmp_path: Path) -> None:
    path = write_artifact(_document(), tmp_path / "model.json")
    with pytest.raises(ArtifactError, match="not signed"):
        read_artifact(path, KEY)


@pytest.mark.parametrize(
    "forge",
    [
        lambda doc: doc["model"].update(intercept=4.0),
        lambda doc: doc["model"]["weights"].__setitem__(0, 0.9),
        lambda doc: doc.update(version="v2"),
        lambda doc: doc["signature"].update(mac="0" * 64),
    ],
)
def test_what_a_checksum_cannot_catch_the_signature_does(tmp_path: Path, forge) -> None:  # type: ignore[no-untyped-def]
    """Edit a signed model and recompute its checksum, as anyone without the key can."""
    path = write_artifact(_document(), tmp_path / "model.json", KEY)
    doc = json.loads(path.read_text())
    forge(doc)
    doc["checksum"] = checksum(doc)
    path.write_bytes(canonical_json(doc))
    read_artifact(path)  # the checksum alone is satisfied
    with pytest.raises(ArtifactError, match="signature does not verify"):
        read_artifact(path, KEY)


def test_the_key_id_is_covered_by_the_mac(tmp_path: Path) -> None:
    """Relabelling a foreign signature with our key id does not make it ours."""
    path = write_artifact(_document(), tmp_path / "model.json", OTHER)
    doc = json.loads(path.read_text())
    doc["signature"]["key_id"] = KEY.key_id
    path.write_bytes(canonical_json(doc))
    with pytest.raises(ArtifactError, match="signature does not verify"):
        read_artifact(path, KEY)


def test_signing_key_is_a_private_per_home_file_or_the_environment(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    key = signing_key()
    path = home / "keys" / "model-signing.key"
    assert key.source == f"file {path}"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert signing_key() == key  # made once, then shared (training and the bidder)
    monkeypatch.setenv(SIGNING_KEY_ENV, "e" * 32)
    assert signing_key().source == f"env {SIGNING_KEY_ENV}"
    monkeypatch.setenv(SIGNING_KEY_ENV, "too-short")
    with pytest.raises(ArtifactError, match="at least 32 bytes"):
        signing_key()


def test_export_signs_and_the_gate_ignores_an_unsigned_current_model(
    home: Path, small_con: duckdb.DuckDBPyConnection
) -> None:
    config = TrainConfig(c_grid=(0.3,))
    first = train_and_export("ctr", con=small_con, config=config)
    doc = json.loads(first.path.read_text())
    assert doc["signature"]["key_id"] == signing_key().key_id
    assert registry.load_current("ctr", key=signing_key()).version == first.version
    # A current model without a signature (an older export, or planted) is unusable for
    # the bidder, so the gate does not let it hold back a signed one.
    unsigned = {k: v for k, v in doc.items() if k != "signature"}
    first.path.write_bytes(canonical_json(seal(unsigned)))
    second = train_and_export("ctr", con=small_con, config=config, now_ms=2_000_000_000_000)
    assert second.promoted and "unusable" in second.reason and "not signed" in second.reason
    registry.load_current("ctr", key=signing_key())


# ---- bounds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda d: d["model"].update(weights=[1e308, -1e308]), "weight of index 3"),
        (lambda d: d["model"].update(weights=[MAX_ABS_WEIGHT * 2, 1.0]), "within ±1000"),
        (lambda d: d["model"].update(weights=[10**400, 1.0]), "weight of index 3"),
        (lambda d: d["model"].update(intercept=1e308), "model.intercept"),
        (lambda d: d["calibration"].update(slope=1e300), "calibration.slope"),
        (lambda d: d["calibration"].update(offset=-1e300), "calibration.offset"),
    ],
)
def test_weights_beyond_the_bound_are_refused(tmp_path: Path, edit, error: str) -> None:  # type: ignore[no-untyped-def]
    doc = _document()
    edit(doc)
    path = _raw(tmp_path / "model.json", doc)
    with pytest.raises(ArtifactError, match=error):
        read_artifact(path)
    with pytest.raises(ArtifactError, match=error):
        write_artifact(doc, tmp_path / "again.json", KEY)  # export refuses to write it


def test_the_largest_weights_allowed_keep_every_probability_finite(tmp_path: Path) -> None:
    import math

    from ml.scorer import load_model
    from tests.ml.conftest import full_row

    spec = default_spec(hash_bits=8)
    doc = new_document(
        name="ctr",
        version="v1",
        created_at_ms=0,
        feature_spec=spec.to_dict(),
        intercept=MAX_ABS_WEIGHT,
        weights={i: MAX_ABS_WEIGHT for i in range(spec.num_buckets)},
        slope=MAX_ABS_WEIGHT,
        offset=-MAX_ABS_WEIGHT,
    )
    model = load_model(write_artifact(doc, tmp_path / "model.json"))
    segments = [f"s{i}" for i in range(64)]
    p = model.predict(full_row(user_segments=segments))
    assert math.isfinite(p) and 0.0 <= p <= 1.0


@pytest.mark.parametrize(
    ("hash_bits", "error"),
    [
        (2**62, "an integer of 63 bits"),  # `1 << 2**62` used to raise MemoryError
        (MAX_HASH_BITS + 1, f"8..{MAX_HASH_BITS}, got {MAX_HASH_BITS + 1}"),
        (True, "got True"),
        ("20", "got '20'"),
        (None, "got None"),
    ],
)
def test_hash_bits_are_bounded_before_anything_is_sized_by_them(
    tmp_path: Path, hash_bits: object, error: str
) -> None:
    doc = _document()
    doc["feature_spec"] = {**doc["feature_spec"], "hash_bits": hash_bits}
    path = _raw(tmp_path / "model.json", doc)
    started = time.perf_counter()
    with pytest.raises(ArtifactError, match=error):
        read_artifact(path)
    assert time.perf_counter() - started < 1.0


def test_a_feature_spec_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    path = _raw(tmp_path / "model.json", _document(feature_spec=[1, 2]))
    with pytest.raises(ArtifactError, match="feature_spec must be an object"):
        read_artifact(path)


def test_file_size_is_checked_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.json"
    with path.open("wb") as fh:  # sparse: no disk used
        fh.truncate(MAX_ARTIFACT_BYTES + 1)

    def never(self: Path) -> bytes:
        raise AssertionError(f"{self} was read")

    monkeypatch.setattr(Path, "read_bytes", never)
    with pytest.raises(ArtifactError, match=f"more than the {MAX_ARTIFACT_BYTES}"):
        read_artifact(path)


@pytest.mark.parametrize(
    "content",
    [b"[" * 100_000, b'{"schema_version": ' + b"9" * 5000 + b"}", b"\xff\xfe"],
)
def test_unparseable_files_are_artifact_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(content)
    with pytest.raises(ArtifactError, match="not a JSON model file"):
        read_artifact(path)
