"""Shared fixtures: every test gets its own BIDLAKE_HOME; test data files live in
tests/fixtures (with their licence and source notes)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


def fixture_files(folder: Path, pattern: str) -> list[Path]:
    """The files of `folder` matching `pattern`, sorted. A missing folder, or one without a
    match, is an error naming the folder: a test parametrized over fixture files must fail,
    never quietly collect zero cases."""
    if not folder.is_dir():
        raise FileNotFoundError(f"fixture folder {folder} does not exist")
    files = sorted(folder.glob(pattern))
    if not files:
        raise FileNotFoundError(f"fixture folder {folder} has no files matching {pattern!r}")
    return files


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty BIDLAKE_HOME for one test."""
    root = tmp_path / "home"
    root.mkdir()
    monkeypatch.setenv("BIDLAKE_HOME", str(root))
    return root
