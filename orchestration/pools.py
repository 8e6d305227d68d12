"""Concurrency pools: how the definitions guarantee one writer per store at a time.

DuckDB allows one read-write connection per database file, and that connection locks out
every other process, readers included (STACK-NOTES). Two dbt builds at once would not
queue on that lock — the second would fail. So every step that opens the warehouse for
writing (the dbt build and the catalog publication that follows it, in one step) declares
`pool=WAREHOUSE`, and the instance gives every pool exactly one slot
(`concurrency.pools.default_limit: 1`, granularity `op`, in the generated dagster.yaml —
see `orchestration.instance`). A second step that wants the slot waits until the first one
frees it, whether its run came from the UI's run queue, a sensor, a schedule or
`bidlake run`'s own process (which bypasses the queue): the slot is claimed by the
executor, in the instance's storage, not by the queue. Analysts are not in a pool: they
read the published read-only catalog, which a build never holds open.

The same mechanism keeps one ingest or compaction at a time on the lake (`LAKE`: the
ledger and partition folders have one writer) and one training at a time per registry
(`MODELS`: the quality gate compares against CURRENT, which must not move under it).

The pools order Dagster's runs; the file locks of the stores are the guarantee. Two
places where the pools alone would not be enough, and what covers them:

- Dagster's SQLite storage claims a slot with a read-then-update that takes no row lock
  (PostgreSQL uses `FOR UPDATE SKIP LOCKED`), and a pool's slots are created lazily on
  first use by whichever process gets there, so two runs starting in the same instant can
  both get "the" slot. `ensure()` creates every pool's single slot up front, under a file
  lock, whenever `bidlake run` or `bidlake ui` opens the instance (and repairs a pool that
  ended up with two); the claim race that remains is milliseconds wide.
- A `bidlake build` typed by hand is outside Dagster altogether.

Both are covered by the home's build lock (`warehouse.locking`, an flock the
kernel releases when a process dies): the Dagster build step takes it, *waiting* for it
(`orchestration.warehouse.build_lock`), before dbt opens the DuckDB file, and so does
every `bidlake build`. Ingest and compaction likewise serialise on the lake ledger's flock.
What it costs: a step in a busy pool waits (polling the storage, backing off up to 15 s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import DagsterInstance

WAREHOUSE = "duckdb_warehouse"
LAKE = "raw_lake"
MODELS = "model_registry"
ALL = (WAREHOUSE, LAKE, MODELS)
SLOTS = 1


def ensure(instance: DagsterInstance) -> None:
    """Give every pool exactly one slot now, before any run claims one (see above).

    Called by `orchestration.instance.open_instance` under its file lock, so two processes
    opening the instance take turns here.
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return
    for pool in ALL:
        info = storage.get_concurrency_info(pool)
        if info.slot_count != SLOTS or info.limit != SLOTS or info.using_default_limit:
            storage.set_concurrency_slots(pool, SLOTS)
