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

Limits: slots are per Dagster instance (one `<home>/dagster`). Someone running
`bidlake build` by hand next to Dagster is outside this guarantee; DuckDB's lock then turns
the collision into a clear error in one of them, never into a corrupt file. What it
costs: a step in a busy pool waits (polling the storage, backing off up to 15 s).
"""

from __future__ import annotations

WAREHOUSE = "duckdb_warehouse"
LAKE = "raw_lake"
MODELS = "model_registry"
