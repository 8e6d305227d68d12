"""bidder.lag: how late the event loop runs."""

from __future__ import annotations

import asyncio
import time

import pytest

from bidder.lag import LoopLag


@pytest.mark.anyio
async def test_loop_lag_measures_a_blocked_loop() -> None:
    lag = LoopLag(interval=0.005, window=5)
    monitor = asyncio.create_task(lag.run())
    await asyncio.sleep(0.02)
    time.sleep(0.05)  # a callback that hogs the loop for 50 ms (on purpose: blocking)
    for _ in range(3):  # the monitor's next ticks see how late it ran
        await asyncio.sleep(0.005)
    monitor.cancel()
    assert lag.seconds >= 0.04
