from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from simulator.truthfile import write_truth


def test_truth_is_written_whole_and_never_overwritten(tmp_path: Path) -> None:
    folder = tmp_path / "truth"
    p_click, p_conversion = np.array([0.01, 0.02]), np.array([0.1, 0.2])
    first = write_truth(folder, "sim-x", ["a", "b"], p_click, p_conversion)
    second = write_truth(folder, "sim-x", ["a", "b"], p_click, p_conversion)
    assert (first.name, second.name) == ("sim-x.parquet", "sim-x-1.parquet")
    assert pq.read_table(first).to_pydict() == {
        "bid_id": ["a", "b"],
        "p_click": [0.01, 0.02],
        "p_conversion": [0.1, 0.2],
    }
    assert sorted(p.name for p in folder.iterdir()) == ["sim-x-1.parquet", "sim-x.parquet"]


def test_columns_of_different_lengths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="different lengths"):
        write_truth(tmp_path, "x", ["a"], np.array([0.1, 0.2]), np.array([0.1]))
    assert not list(tmp_path.iterdir())
