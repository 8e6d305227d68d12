"""The home's build lock, as a Dagster step takes it: waiting (bounded), not refusing.

`warehouse.locking.exclusive` refuses at once when the lock is held — right for a person
at a terminal running `bidlake build`; a scheduled or queued Dagster step should wait
instead, as it does on its pool. The dbt step holds this lock around dbt and the catalog
publication (`orchestration.warehouse.assets`); see `orchestration.pools` for why the
pool alone is not enough.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from bidlake.paths import Home

BUILD_LOCK_TIMEOUT_S = 3 * 3600.0  # longer than any build; then fail rather than hang


@contextmanager
def build_lock(home: Home, say: Callable[[str], object]) -> Iterator[None]:
    """Hold the home's build lock, waiting for it (bounded) if another build holds it."""
    from warehouse import locking, project

    deadline = time.monotonic() + BUILD_LOCK_TIMEOUT_S
    delay = 0.5
    with ExitStack() as stack:
        while True:
            try:
                stack.enter_context(locking.exclusive(project.build_lock(home), "build"))
                break
            except locking.WarehouseBusyError as exc:
                if time.monotonic() > deadline:
                    raise
                if delay == 0.5:
                    say(f"waiting for the warehouse: {exc}")
                time.sleep(delay)  # the holder is another process: nothing to wait on but time
                delay = min(delay * 2, 15.0)
        yield
