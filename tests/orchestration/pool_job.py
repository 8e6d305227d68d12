"""A run holding the warehouse pool for a moment; `python -m` it twice to see them queue.

Prints `<start> <end>` (epoch seconds) of the step body: two concurrent processes on one
instance must print intervals that do not overlap.
"""

from __future__ import annotations

import time

import dagster as dg

from orchestration import pools
from orchestration.instance import open_instance

HOLD_S = 1.5  # the work done while holding the slot (stands in for a dbt build)


@dg.asset(pool=pools.WAREHOUSE)
def warehouse_writer() -> dg.MaterializeResult:
    start = time.time()
    time.sleep(HOLD_S)
    print(f"INTERVAL {start} {time.time()}", flush=True)
    return dg.MaterializeResult()


if __name__ == "__main__":
    with open_instance() as instance:
        assert dg.materialize([warehouse_writer], instance=instance).success
