"""Every private Dagster API bidlake uses, and only here (nothing else imports `dagster._…`).

Dagster promises nothing about names under `dagster._`: any release may move or change
them. Keeping them in one module makes an upgrade a one-file job: when an import below
fails, or a test of the module named beside it does, look for the new home of the name in
the installed `dagster` package (`grep -rn "def <name>\\|<NAME> =" .venv/lib/python3.*/
site-packages/dagster`), fix it here, and re-run `pytest tests/orchestration`. Each entry
says why no public API does the job and what to do if the name disappears for good.

- `ReconstructableRepository` (`orchestration.run_stages`): `bidlake run` executes each
  stage with `dagster.execute_job`, which wants a *reconstructable* job; the jobs live in
  `orchestration.definitions.defs`, and `ReconstructableRepository.for_module(...)` is how
  Dagster's own CLI (`dagster job execute -m`) points at a module's definitions. The
  public `dagster.reconstructable` only takes a job defined by a module-level function. If
  it goes: `defs.get_job_def(name).execute_in_process(...)` is the fallback (same
  instance, tags and run config; it runs in-process too).
- `ASSET_PARTITION_RANGE_START_TAG` / `ASSET_PARTITION_RANGE_END_TAG`
  (`orchestration.run_stages`): the run tags that make one run cover a range of
  partitions (single-run backfill), which is how `bidlake run` ingests a whole simulated
  window as one run. They are plain strings (`dagster/asset_partition_range_start|end`),
  also visible in the UI; if the constants move, the strings still work.
- `run_with_concurrent_update_guard` (`orchestration.warehouse.dbt_manifest`): the lock
  dagster-dbt itself uses around `dbt parse` so two processes loading the definitions at
  once (the UI's code server and `bidlake run`) do not write one manifest together. If it
  goes: a `filelock.FileLock` beside the manifest (the same thing, done by hand).
- `UnresolvedAssetJobDefinition` (`orchestration.warehouse.jobs`, type only): what
  `dagster.define_asset_job` returns, which Dagster does not export under a public name.
  Only an annotation; if it moves, import it from its new home or drop the annotation.
- `SerializableErrorInfo` (`orchestration.run_stages`, type only): the error of a failed
  step, whose cause chain `bidlake run` walks to print the user code's own error. Only an
  annotation; if it moves, import it from its new home or annotate with `Any`.
"""

from __future__ import annotations

from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from dagster._utils import run_with_concurrent_update_guard
from dagster._utils.error import SerializableErrorInfo

__all__ = [
    "ASSET_PARTITION_RANGE_END_TAG",
    "ASSET_PARTITION_RANGE_START_TAG",
    "ReconstructableRepository",
    "SerializableErrorInfo",
    "UnresolvedAssetJobDefinition",
    "run_with_concurrent_update_guard",
]
