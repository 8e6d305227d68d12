"""The columnar encoder gives exactly FeatureSpec.indices for every row (hashing parity
between training and the bidder's scorer, which follows the same reference)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from ml.encode import encode
from ml.features import default_spec
from ml.synthetic import Synthetic


def _assert_parity(table: pa.Table, rows: list[dict] | None = None) -> None:
    spec = default_spec()
    X = encode(table, spec)
    assert X.shape == (table.num_rows, spec.num_buckets)
    rows = rows if rows is not None else table.to_pylist()
    for i, row in enumerate(rows):
        expected = {k: float(v) for k, v in Counter(spec.indices(row)).items()}
        start, end = X.indptr[i], X.indptr[i + 1]
        got = dict(zip(X.indices[start:end].tolist(), X.data[start:end].tolist(), strict=True))
        assert got == expected, f"row {i}: {row}"


def test_parity_on_mart_rows(marts: Synthetic) -> None:
    sample = marts.ctr.take(pa.array(np.arange(0, marts.ctr.num_rows, 97)))
    _assert_parity(sample)


def test_parity_on_edge_cases() -> None:
    many = [f"s{i:02d}" for i in range(40, 0, -1)]
    table = pa.table(
        {
            "exchange": pa.array(["adx", None, "", "adx", "openx"]),
            "site_domain": pa.array(["a.com", "", None, "a.com", ""]),
            "app_bundle": pa.array(["", "com.x", None, "", ""]),
            "ad_width": pa.array([300, None, 0, 300, 728], pa.int32()),
            "ad_height": pa.array([250, 50, None, 250, 90], pa.int32()),
            "bidfloor_micros": pa.array([0, 10_000, None, 9_999_999, -5], pa.int64()),
            "user_segments": pa.array(
                [["b", "a", "b"], [], None, many, [None, "z", None]], pa.list_(pa.string())
            ),
            "campaign_id": pa.array(["c1", "c1", "c2", None, "c2"]),
        }
    )  # columns the table lacks (device_type, ...) take their defaults
    _assert_parity(table)


def test_a_repeated_bucket_counts_twice() -> None:
    spec = default_spec(hash_bits=8)  # 256 buckets: collisions among 27 tokens are likely
    table = pa.table({"device_type": ["phone"], "user_segments": [["a", "b", "c", "d"]]})
    row = table.to_pylist()[0]
    counts = Counter(spec.indices(row))
    X = encode(table, spec)
    assert X.sum() == sum(counts.values())
    assert {int(i): float(v) for i, v in zip(X.indices, X.data, strict=True)} == {
        k: float(v) for k, v in counts.items()
    }


def test_empty_table() -> None:
    spec = default_spec()
    X = encode(pa.table({"device_type": pa.array([], pa.string())}), spec)
    assert X.shape == (0, spec.num_buckets) and X.nnz == 0
