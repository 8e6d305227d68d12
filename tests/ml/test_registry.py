"""The registry: immutable versions, CURRENT by atomic rename, history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml import registry
from ml.artifact import new_document, write_artifact
from ml.features import default_spec


def _publish(version: str, intercept: float = -3.0, root: Path | None = None) -> None:
    doc = new_document(
        name="ctr",
        version=version,
        created_at_ms=0,
        feature_spec=default_spec(hash_bits=12).to_dict(),
        intercept=intercept,
        weights={1: 0.5},
    )
    with registry.staging("ctr", version, root) as folder:
        write_artifact(doc, folder / registry.MODEL_FILE)


def _versions(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "models" / "ctr").iterdir() if p.is_dir())


def test_no_current_model_at_first(home: Path) -> None:
    assert registry.current_version("ctr") is None
    with pytest.raises(registry.RegistryError, match="no current 'ctr' model"):
        registry.load_current("ctr")


def test_publish_promote_and_load(home: Path) -> None:
    _publish("v1", -3.0)
    _publish("v2", -2.0)
    assert _versions(home) == ["v1", "v2"]
    assert registry.model_path("ctr", "v2") == home / "models" / "ctr" / "v2" / "model.json"
    registry.set_current("ctr", "v1")
    assert (home / "models" / "ctr" / "CURRENT").read_text() == "v1\n"
    assert registry.load_current("ctr").intercept == -3.0
    registry.set_current("ctr", "v2")
    assert registry.current_version("ctr") == "v2"
    assert registry.load_current("ctr").version == "v2"
    leftovers = [p.name for p in (home / "models" / "ctr").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_explicit_models_root(tmp_path: Path, home: Path) -> None:
    _publish("v1", root=tmp_path)
    registry.set_current("ctr", "v1", tmp_path)
    assert registry.current_version("ctr", tmp_path) == "v1"
    assert registry.current_version("ctr") is None  # home untouched


def test_versions_are_immutable(home: Path) -> None:
    _publish("v1")
    with pytest.raises(registry.RegistryError, match="already exists"):
        _publish("v1")


def test_failed_staging_leaves_nothing(home: Path) -> None:
    with pytest.raises(RuntimeError), registry.staging("ctr", "v9") as folder:
        (folder / "half").write_text("x")
        raise RuntimeError("export failed")
    assert not (home / "models" / "ctr" / "v9").exists()
    assert list((home / "models" / "ctr").iterdir()) == []


def test_current_cannot_point_at_a_missing_or_corrupt_version(home: Path) -> None:
    with pytest.raises(registry.RegistryError, match="no version"):
        registry.set_current("ctr", "ghost")
    _publish("v1")
    path = registry.model_path("ctr", "v1")
    doc = json.loads(path.read_text())
    doc["model"]["intercept"] = 9.0
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="checksum mismatch"):
        registry.set_current("ctr", "v1")
    assert registry.current_version("ctr") is None


def test_names_and_versions_cannot_escape_the_root(home: Path) -> None:
    with pytest.raises(registry.RegistryError, match="invalid"):
        registry.version_dir("ctr", "../evil")
    with pytest.raises(registry.RegistryError, match="invalid"):
        registry.current_version("../ctr")


def test_history(home: Path) -> None:
    registry.append_history("ctr", {"version": "v1", "promoted": True})
    registry.append_history("ctr", {"version": "v2", "promoted": False})
    lines = (home / "models" / "ctr" / registry.HISTORY_FILE).read_text().splitlines()
    assert [json.loads(line)["version"] for line in lines] == ["v1", "v2"]


def test_new_version_sorts_by_time() -> None:
    a = registry.new_version(1_735_689_600_000, "sha256:abcdef0123")
    b = registry.new_version(1_735_689_601_000, "sha256:00000000ff")
    assert a == "20250101T000000Z-abcdef01" and a < b
