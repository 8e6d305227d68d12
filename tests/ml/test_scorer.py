"""The pure-Python scorer: loads a verified artifact, memoized scoring == the reference."""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ml.artifact import ArtifactError, new_document, write_artifact
from ml.features import default_spec
from ml.scorer import MEMO_LIMIT, load_model, sigmoid
from tests.ml.conftest import full_row


def _random_rows(rng: random.Random, n: int) -> list[dict[str, object]]:
    return [
        full_row(
            exchange=rng.choice(["adx", "openx"]),
            publisher_id=f"pub{rng.randrange(30)}",
            site_domain=f"site{rng.randrange(40)}.com" if rng.random() < 0.7 else "",
            app_bundle="" if rng.random() < 0.7 else f"com.app{rng.randrange(10)}",
            placement_id=f"pl{rng.randrange(4)}",
            ad_width=rng.choice([300, 320, 728]),
            ad_height=rng.choice([250, 50, 90]),
            device_type=rng.choice(["phone", "desktop", "tablet"]),
            user_hour=rng.randrange(24),
            bidfloor_micros=rng.randrange(2_000_000),
            user_segments=[f"seg{rng.randrange(20)}" for _ in range(rng.randrange(4))],
            campaign_id=f"cmp{rng.randrange(5)}",
            creative_id=f"cr{rng.randrange(10)}",
        )
        for _ in range(n)
    ]


def _document(rate: float = 0.25, seed: int = 7) -> dict:
    spec = default_spec(hash_bits=16)
    rng = random.Random(seed)
    weights = {i: rng.gauss(0, 0.5) for i in rng.sample(range(spec.num_buckets), 20_000)}
    return new_document(
        name="ctr",
        version="20250101T000000Z-test",
        created_at_ms=1_735_689_600_000,
        feature_spec=spec.to_dict(),
        intercept=-2.5,
        weights=weights,
        negative_sampling_rate=rate,
        metrics={"log_loss": 0.1},
    )


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    return write_artifact(_document(), tmp_path / "model.json")


def test_round_trip_keeps_every_weight_exactly(model_file: Path) -> None:
    doc = _document()
    model = load_model(model_file)
    assert model.name == "ctr" and model.version == "20250101T000000Z-test"
    assert model.intercept == -2.5
    assert model.weights == dict(zip(doc["model"]["indices"], doc["model"]["weights"], strict=True))
    assert model.offset == math.log(0.25)
    assert model.metadata["metrics"] == {"log_loss": 0.1}


def test_memoized_scoring_equals_the_reference_path(model_file: Path) -> None:
    model = load_model(model_file)
    rows = _random_rows(random.Random(3), 3000)
    for _ in range(2):  # second pass: from the memos
        for row in rows:
            assert model.logit(row) == pytest.approx(model.reference_logit(row), abs=1e-12)


def test_memos_are_bounded(model_file: Path) -> None:
    model = load_model(model_file)
    for i in range(MEMO_LIMIT + 10):
        model.predict({"bidfloor_micros": i})
    assert all(len(slot.memo) <= MEMO_LIMIT for slot in model._features)


def test_predict_applies_the_downsampling_correction(model_file: Path) -> None:
    model = load_model(model_file)
    row = _random_rows(random.Random(5), 1)[0]
    p = model.raw_probability(row)
    w = 0.25
    assert model.predict(row) == pytest.approx(p / (p + (1 - p) / w), rel=1e-12)


def test_a_tampered_model_is_refused(model_file: Path) -> None:
    doc = json.loads(model_file.read_text())
    doc["model"]["weights"][0] += 1.0
    model_file.write_text(json.dumps(doc))
    with pytest.raises(ArtifactError, match=re.escape(f"{model_file}: checksum mismatch")):
        load_model(model_file)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="cannot read"):
        load_model(tmp_path / "nope.json")


def test_sigmoid_is_stable_at_the_extremes() -> None:
    assert sigmoid(-1000.0) == 0.0
    assert sigmoid(1000.0) == 1.0
    assert sigmoid(0.0) == 0.5


def test_scorer_imports_no_numeric_libraries() -> None:
    code = (
        "import sys, ml.scorer, ml.registry, ml.features;"
        "bad = [m for m in ('numpy', 'sklearn', 'scipy', 'pandas', 'pyarrow') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unusable_raw_values_get_a_clear_error(model_file: Path) -> None:
    model = load_model(model_file)
    with pytest.raises(ValueError, match="unusable raw values"):
        model.predict({"device_type": ["phone"]})  # a list where a string belongs
    with pytest.raises(ValueError, match="feature 'floor': bad input"):
        model.predict({"bidfloor_micros": "cheap"})


def test_none_and_missing_fields_score_like_defaults(model_file: Path) -> None:
    model = load_model(model_file)
    full = full_row(device_type="phone")
    with_nones = {k: (None if v in ("", 0, []) else v) for k, v in full.items()}
    assert (
        model.predict(full) == model.predict(with_nones) == model.predict({"device_type": "phone"})
    )
