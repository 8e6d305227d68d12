"""Fixtures for the orchestration tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _restore_dagster_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """`orchestration.instance.prepare()` exports DAGSTER_HOME (and the storage URL) into
    os.environ for its subprocesses; registering them with monkeypatch first puts the
    previous values back after each test, so no test sees another's instance."""
    for name in ("DAGSTER_HOME", "BIDLAKE_DAGSTER_PG_URL", "BIDLAKE_DAGSTER_STORAGE_URL"):
        monkeypatch.delenv(name, raising=False)
