"""Dagster's instance under <home>/dagster: SQLite by default, PostgreSQL when asked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from orchestration import instance, pools
from tests.support import postgres


@dg.asset(pool=pools.WAREHOUSE)
def tiny_writer() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 1})


def test_default_instance_is_sqlite_under_home(home: Path) -> None:
    with instance.open_instance() as inst:
        assert type(inst.run_storage).__name__ == "SqliteRunStorage"
        assert inst.event_log_storage.supports_global_concurrency_limits
        result = dg.materialize([tiny_writer], instance=inst)
        assert result.success
    config = (home / "dagster" / "dagster.yaml").read_text()
    assert "sqlite" in config and "default_limit: 1" in config
    assert (home / "dagster" / "storage").is_dir()
    # A second open (a later `bidlake run`, or the UI) sees the same history.
    with instance.open_instance() as inst:
        assert [r.run_id for r in inst.get_runs()] == [result.run_id]


def test_storage_url_must_be_postgresql(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(instance.STORAGE_URL_ENV, "mysql://someone@db/dagster")
    with pytest.raises(instance.StorageUrlError, match="PostgreSQL URL"):
        instance.prepare()


@pytest.fixture
def pg_server() -> Iterator[postgres.PostgresServer]:
    with postgres.running() as server:
        yield server


def test_postgres_storage(
    home: Path, monkeypatch: pytest.MonkeyPatch, pg_server: postgres.PostgresServer
) -> None:
    # The URL as the reporting export spells it (psycopg 3 driver): normalised for Dagster.
    url = pg_server.sqlalchemy_url
    monkeypatch.setenv(instance.STORAGE_URL_ENV, url)
    with instance.open_instance() as inst:
        assert type(inst.run_storage).__name__ == "PostgresRunStorage"
        result = dg.materialize([tiny_writer], instance=inst)
        assert result.success
        limits = {p.name: p.limit for p in inst.event_log_storage.get_pool_limits()}
        assert limits[pools.WAREHOUSE] == 1
    config = (home / "dagster" / "dagster.yaml").read_text()
    assert "postgres" in config
    assert pg_server.password not in config  # the URL stays in the environment
    assert not (home / "dagster" / "storage" / "runs.db").exists()
    # The run is in PostgreSQL: a fresh instance over the same URL finds it.
    with instance.open_instance() as inst:
        run = inst.get_run_by_id(result.run_id)
        assert run is not None and run.is_success
