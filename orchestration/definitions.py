"""The Dagster definitions of bidlake: every area's `defs`, merged, plus what they share.

Load with `dagster dev -m orchestration.definitions` (what `bidlake ui` does) or import
`defs`. Each area of the platform is a package holding its own assets, checks, jobs,
schedules and sensors, and exposes them as one `Definitions` (`<area>/definitions.py`):

    area        assets                                        jobs
    simulation  landing/simulated_logs                        simulate_job
    lake        raw/<event_type> ×5, lake/compaction          ingest_job, compaction_job
    warehouse   every dbt model, exports/reporting_postgres   build_job, export_reporting_job
    models      models/<name>, models/<name>_artifact         train_job
    bidder      bidder/replay                                 replay_job

`Definitions.merge` unions them (a resource or logger key defined twice with different
values is an error). Areas refer to each other only by asset key — lake depends on
`landing/simulated_logs`, the dbt sources declare `raw/<event_type>`, the models depend on
their feature marts, the replay on the artifacts — so the merged graph is one lineage from
landing to the bidder. There are no cross-area jobs: `bidlake run` chains the stages' jobs
itself (`orchestration.run_stages`), one run each, because their assets are partitioned
differently. What the areas share is here: the `platform` resource (each area's own
resources — dbt's CLI — are in its `defs`), the compact console logger `bidlake run`
selects, and the executor.

Every run executes its steps in one process (`in_process_executor`): on two cores a
subprocess per step would spend more on start-up (≈2 s of imports each) than the
parallelism returns, and the pools serialise the writers anyway.
"""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from orchestration.bidder import definitions as bidder
from orchestration.console import bidlake_console
from orchestration.lake import definitions as lake
from orchestration.models import definitions as models
from orchestration.resources import PlatformResource
from orchestration.simulation import definitions as simulation
from orchestration.warehouse import definitions as warehouse


def shared() -> Definitions:
    """What every area uses: the `platform` resource, `bidlake run`'s console logger, the
    executor. (A function, not a module-level object: Dagster's module loader wants exactly
    one `Definitions` at module scope, `defs`.)"""
    return Definitions(
        resources={"platform": PlatformResource()},
        loggers={"bidlake_console": bidlake_console},
        executor=in_process_executor,
    )


defs = Definitions.merge(
    simulation.defs,
    lake.defs,
    warehouse.defs,
    models.defs,
    bidder.defs,
    shared(),
)
