from __future__ import annotations

from pathlib import Path

import pytest

from bidlake.atomic_files import atomic_write, atomic_write_with, atomic_writer


def test_replaces_the_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "a.json"
    atomic_write(target, "old")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]  # no temp left


def test_an_error_leaves_the_old_content_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    atomic_write(target, "old")
    with pytest.raises(RuntimeError), atomic_writer(target) as handle:
        handle.write(b"half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_path_writers_get_a_temp_path(tmp_path: Path) -> None:
    target = tmp_path / "t.bin"
    seen = []

    def write(temp: Path) -> None:
        seen.append(temp)
        temp.write_bytes(b"x")

    atomic_write_with(target, write)
    assert target.read_bytes() == b"x" and seen[0] != target and not seen[0].exists()
