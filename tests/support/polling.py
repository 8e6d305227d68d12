"""`eventually`: wait for a condition in a test, and fail loudly when it never comes.

Hand-written polling loops tend to fall out of the loop at their deadline and carry on as
if the condition held; this one raises with what it last saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class NeverHappened(AssertionError):
    pass


def eventually(
    probe: Callable[[], T],
    *,
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str = "condition",
    alive: Callable[[], bool] | None = None,
) -> T:
    """Call `probe` until it returns a truthy value, and return that value.

    Raises `NeverHappened` after `timeout` seconds, or as soon as `alive()` says the
    process being waited on has died, naming `what` and the last value or error seen.
    Exceptions from `probe` count as "not yet" (a server still starting refuses
    connections).
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
        except Exception as error:  # not yet: remember why
            value, last = None, error  # type: ignore[assignment]
        else:
            if value:
                return value
            last = value
        if alive is not None and not alive():
            raise NeverHappened(f"{what}: the process died while waiting (last seen: {last!r})")
        if time.monotonic() > deadline:
            raise NeverHappened(f"{what}: not true after {timeout:g} s (last seen: {last!r})")
        time.sleep(interval)
