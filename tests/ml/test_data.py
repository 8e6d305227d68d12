"""Reading the feature marts (only bid-time fields, only mature CVR labels) and the
simulator's truth."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from ml.data import TASKS, DataError, load_examples, load_truth
from ml.features import RAW_FIELDS, default_spec
from ml.synthetic import Synthetic


def test_cvr_reads_only_mature_labels(
    small_con: duckdb.DuckDBPyConnection, small_marts: Synthetic
) -> None:
    table = load_examples(small_con, TASKS["cvr"], default_spec())
    mature = small_marts.cvr.filter(small_marts.cvr.column("is_label_mature"))
    assert 0 < table.num_rows == mature.num_rows < small_marts.cvr.num_rows
    assert set(table.column("bid_id").to_pylist()) == set(mature.column("bid_id").to_pylist())


def test_examples_carry_no_post_auction_column(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("ALTER TABLE ftr_ctr_training ADD COLUMN clearing_price_micros BIGINT DEFAULT 1")
    spec = default_spec()
    table = load_examples(con, TASKS["ctr"], spec)
    assert set(table.column_names) == {"bid_id", "event_ms", "day", "label", *RAW_FIELDS}


def test_missing_mart_or_columns_are_named() -> None:
    con = duckdb.connect()
    with pytest.raises(DataError, match="'ftr_ctr_training' is not queryable"):
        load_examples(con, TASKS["ctr"], default_spec())
    con.execute("CREATE TABLE ftr_ctr_training (bid_id VARCHAR, impression_id VARCHAR)")
    with pytest.raises(DataError, match=r"lacks columns \[.*'device_type'"):
        load_examples(con, TASKS["ctr"], default_spec())


def test_truth_join(marts: Synthetic, truth_dir: Path, tmp_path: Path) -> None:
    ids = marts.truth.column("bid_id").take([5, 1, 3])
    got = load_truth(ids, "p_click", truth_dir)
    expected = marts.truth.column("p_click").take([5, 1, 3]).to_numpy()
    assert got is not None and np.array_equal(got, expected)
    unknown = load_truth(pa.array(["nope", ids[0].as_py()]), "p_click", truth_dir)
    assert unknown is not None and np.isnan(unknown[0]) and unknown[1] == expected[0]
    assert load_truth(ids, "p_click", tmp_path / "absent") is None
