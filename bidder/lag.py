"""How late the event loop runs: the part of a request's wait the app cannot see.

A request's clock starts when the app gets it (bidder.app), but under load it may have
waited before that, with its bytes already read, in the event loop's ready queue behind
other requests. The exchange's tmax counts that wait too. A timer that should fire every
`interval` seconds fires late by about the same queueing delay, so `LoopLag` keeps the
largest lateness of its recent ticks, and the bidder moves every deadline earlier by it:
when the loop falls behind, requests turn into quick no-bids (reason timeout) instead of
late bids, which also frees the CPU the loop needs to catch up.

Cost: one timer callback per `interval` (100 per second by default), nothing per request.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque


class LoopLag:
    def __init__(self, interval: float = 0.01, window: int = 10) -> None:
        self.interval = interval
        self.recent: deque[float] = deque([0.0] * window, maxlen=window)
        self.seconds = 0.0  # the largest lateness of the last `window` ticks

    async def run(self) -> None:
        interval = self.interval
        while True:
            before = time.perf_counter()
            await asyncio.sleep(interval)
            late = time.perf_counter() - before - interval
            self.recent.append(late if late > 0.0 else 0.0)
            self.seconds = max(self.recent)
