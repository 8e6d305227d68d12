"""A run writing "the warehouse" for a moment, guarded exactly like the real dbt step
(the warehouse pool, then the home's build lock); `python -m` it twice to see them queue.

Prints `<start> <end>` (epoch seconds) of the guarded work: two concurrent processes on
one home must print intervals that do not overlap.
"""

import time

import dagster as dg

from bidlake.paths import home
from orchestration import pools
from orchestration.instance import open_instance
from orchestration.warehouse.build_lock import build_lock

HOLD_S = 1.5  # the work done while holding the slot (stands in for a dbt build)


@dg.asset(pool=pools.WAREHOUSE)
def warehouse_writer(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    with build_lock(home(), context.log.info):
        start = time.time()
        time.sleep(HOLD_S)
        print(f"INTERVAL {start} {time.time()}", flush=True)
    return dg.MaterializeResult()


if __name__ == "__main__":
    with open_instance() as instance:
        assert dg.materialize([warehouse_writer], instance=instance).success
