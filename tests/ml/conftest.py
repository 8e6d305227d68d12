"""Synthetic feature marts with a known truth, shared by the ml tests (built once)."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from ml.synthetic import Synthetic, load_into, make_marts

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
