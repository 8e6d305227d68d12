"""The model file: sealed JSON written atomically, and every bad file refused by name."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ml.artifact import (
    SCHEMA_VERSION,
    ArtifactError,
    canonical_json,
    new_document,
    read_artifact,
    seal,
    write_artifact,
)
from ml.features import default_spec


def _document() -> dict:
    return new_document(
        name="ctr",
        version="20250101T000000Z-test",
        created_at_ms=1_735_689_600_000,
        feature_spec=default_spec(hash_bits=12).to_dict(),
        intercept=-2.5,
        weights={7: 0.125, 3: -1 / 3, 9: 0.0},
        negative_sampling_rate=0.25,
    )


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    return write_artifact(_document(), tmp_path / "model.json")


def test_new_document_drops_zero_weights_and_corrects_for_sampling() -> None:
    doc = _document()
    assert doc["model"]["indices"] == [3, 7]
    assert doc["calibration"]["offset"] == math.log(0.25)
    assert doc["calibration"]["method"] == "negative_downsampling"


def test_written_file_is_the_sealed_canonical_json(model_file: Path, tmp_path: Path) -> None:
    assert model_file.read_bytes() == canonical_json(seal(_document())) + b"\n"
    assert read_artifact(model_file) == seal(_document())  # floats round-trip exactly
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temp file left


def test_a_refused_write_leaves_the_old_file(model_file: Path, tmp_path: Path) -> None:
    before = model_file.read_bytes()
    doc = _document()
    doc["model"]["indices"][0] = 1 << 30  # sealed but outside the hash space
    with pytest.raises(ArtifactError, match="ascending ints"):
        write_artifact(doc, model_file)
    assert model_file.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_tampered_weight_is_refused(model_file: Path) -> None:
    doc = json.loads(model_file.read_text())
    doc["model"]["weights"][0] += 1.0
    model_file.write_text(json.dumps(doc))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        read_artifact(model_file)


def test_tampered_bytes_are_refused(model_file: Path) -> None:
    data = model_file.read_bytes()
    model_file.write_bytes(data.replace(b'"intercept":-2.5', b'"intercept":-1.5'))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        read_artifact(model_file)


def test_other_schema_version_is_refused(tmp_path: Path) -> None:
    doc = _document()
    doc["schema_version"] = SCHEMA_VERSION + 1
    path = tmp_path / "model.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ArtifactError, match="schema_version 2 is not supported"):
        read_artifact(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "not a JSON model"), (b"[1]", "JSON object"), (b"\xff\xfe", "not a JSON model")],
)
def test_garbage_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(content)
    with pytest.raises(ArtifactError, match=message):
        read_artifact(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="cannot read"):
        read_artifact(tmp_path / "nope.json")


def test_non_finite_weights_cannot_be_written(tmp_path: Path) -> None:
    doc = _document()
    doc["model"]["weights"][0] = math.nan
    with pytest.raises(ArtifactError, match="not finite JSON"):
        write_artifact(doc, tmp_path / "model.json")
    assert not (tmp_path / "model.json").exists()
