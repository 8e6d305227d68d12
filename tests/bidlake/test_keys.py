from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bidlake.keys import MIN_KEY_BYTES, load_key


def test_a_key_file_is_made_once_private_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_KEY", raising=False)
    first = load_key("tracking", "TEST_KEY", tmp_path)
    again = load_key("tracking", "TEST_KEY", tmp_path)
    path = tmp_path / "keys" / "tracking.key"
    assert first.secret == again.secret and first.strong
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.key_id == again.key_id and len(first.key_id) == 8
    assert first.secret.decode() not in first.describe()


def test_the_environment_wins_and_short_keys_are_flagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_KEY", "short")
    key = load_key("tracking", "TEST_KEY", tmp_path)
    assert key.secret == b"short" and not key.strong and "SHORT" in key.describe()
    assert not (tmp_path / "keys").exists()
    monkeypatch.setenv("TEST_KEY", "x" * MIN_KEY_BYTES)
    assert load_key("tracking", "TEST_KEY", tmp_path).strong


def test_different_keys_have_different_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_KEY", raising=False)
    a = load_key("a", "TEST_KEY", tmp_path)
    b = load_key("b", "TEST_KEY", tmp_path)
    assert a.secret != b.secret and a.key_id != b.key_id


def test_without_create_a_missing_key_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_KEY", raising=False)
    with pytest.raises(FileNotFoundError, match="TEST_KEY"):
        load_key("models", "TEST_KEY", tmp_path, create=False)
