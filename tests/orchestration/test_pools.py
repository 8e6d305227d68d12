"""The single-writer guarantee: writer steps declare their pool, and the instance's pools
really make two concurrent runs (two processes) take turns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration import definitions, instance, pools

pytestmark = pytest.mark.timeout(300)


def test_every_writer_declares_its_pool() -> None:
    by_op = {
        a.op.name: a.op.pool
        for a in definitions.defs.assets or []
        if hasattr(a, "op") and a.op.name != "landing__simulated_logs"
    }
    expected = {
        "ingest_tracking_logs": pools.LAKE,
        "lake__compaction": pools.LAKE,
        "warehouse_dbt_models": pools.WAREHOUSE,
        "train_ctr_model": pools.MODELS,
        "train_cvr_model": pools.MODELS,
    }
    assert {k: by_op[k] for k in expected} == expected


def test_the_instance_gives_each_pool_one_slot(home: Path) -> None:
    text = instance.instance_yaml(home / "dagster", postgres=False)
    assert "default_limit: 1" in text and "granularity: op" in text


def test_ensure_gives_every_pool_exactly_one_slot(home: Path) -> None:
    with instance.open_instance() as inst:
        storage = inst.event_log_storage
        storage.set_concurrency_slots(pools.WAREHOUSE, 2)  # what a lost init race leaves
        storage.delete_concurrency_limit(pools.LAKE)
        pools.ensure(inst)
        for pool in pools.ALL:
            info = storage.get_concurrency_info(pool)
            assert (info.slot_count, info.limit, info.using_default_limit) == (1, 1, False)


def test_two_runs_in_the_warehouse_pool_take_turns(home: Path) -> None:
    instance.prepare()  # the dagster.yaml both processes read
    env = {**os.environ, "BIDLAKE_HOME": str(home)}
    command = [sys.executable, "-m", "tests.orchestration.pool_job"]
    procs = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    intervals = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        [line] = [ln for ln in out.splitlines() if ln.startswith("INTERVAL")]
        intervals.append(tuple(float(x) for x in line.split()[1:]))
    first, second = sorted(intervals)
    assert first[1] <= second[0], f"both held the warehouse at once: {intervals}"
