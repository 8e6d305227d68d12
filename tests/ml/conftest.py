"""Synthetic feature marts with a known truth, shared by the ml tests (built once), and
raw rows as the bidder builds them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from ml.features import DEFAULTS, RAW_FIELDS
from ml.synthetic import Synthetic, load_into, make_marts, write_truth

# A small world (40 publishers, 3 campaigns) at a 3-4 % CTR: 200k impressions over four
# days give ~7k clicks, enough for the model to come near the oracle in a few seconds.
WORLD = {"days": 4, "seed": 11, "ctr_base_logit": -3.5, "n_publishers": 40, "n_campaigns": 3}


@pytest.fixture(scope="session")
def marts() -> Synthetic:
    return make_marts(200_000, **WORLD)


@pytest.fixture(scope="session")
def small_marts() -> Synthetic:
    """Twelve days (so CVR labels mature) and few rows, for export/CLI plumbing."""
    return make_marts(40_000, days=12, seed=5, ctr_base_logit=-2.5, n_publishers=20, n_campaigns=3)


@pytest.fixture(scope="session")
def truth_dir(marts: Synthetic, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulator's truth of `marts`, as Parquet."""
    folder = tmp_path_factory.mktemp("truth")
    write_truth(marts, folder)
    return folder


def full_row(**fields: object) -> dict[str, object]:
    """A raw row with every bid-time field (RAW_FIELDS) at its proto3 default, as a bidder
    that fills every field builds it, overridden by `fields`."""
    unknown = set(fields) - set(RAW_FIELDS)
    assert not unknown, f"not raw feature fields: {sorted(unknown)}"
    row: dict[str, object] = {
        name: [] if kind == "list" else DEFAULTS[kind] for name, kind in RAW_FIELDS.items()
    }
    row.update(fields)
    return row


def connect(data: Synthetic) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    load_into(con, data)
    return con


@pytest.fixture
def con(marts: Synthetic) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(marts)
    yield connection
    connection.close()


@pytest.fixture
def small_con(small_marts: Synthetic) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(small_marts)
    yield connection
    connection.close()
