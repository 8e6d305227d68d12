"""The decision's deadline: tmax is a hard limit. When the shared budget store stalls, or
the event loop runs behind (bidder.lag), the bidder answers no-bid (reason timeout) at its
deadline instead of answering too late. The decision's other stages, and their no-bid
reasons, are covered by the OpenRTB cases (test_cases.py) and test_pacing.py."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx
import orjson
import pytest
import redis.asyncio as aioredis
from starlette.testclient import TestClient

from bidder.app import create_app
from bidder.lag import LoopLag
from bidder.settings import Settings
from tests.bidder.conftest import serving
from tests.bidder.test_cases import BOOK, read_events
from tests.bidder.test_service import NOON, request


@pytest.mark.anyio
async def test_stalled_redis_gives_a_timeout_no_bid(settings: Settings, redis_url: str) -> None:
    app = create_app(
        settings.with_overrides(
            campaigns=str(BOOK), state=redis_url, redis_prefix=f"deadline-{random.random()}"
        ),
        clock=lambda: NOON,
    )
    blocker = aioredis.Redis.from_url(redis_url)
    with serving(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            body = {**request("r-ok"), "tmax": 100}
            ok = await client.post("/openrtb2/bid", content=orjson.dumps(body))
            assert ok.status_code == 200  # Redis answers: the reservation goes through

            # Every write command (the reservation script is one) now waits 5 s in Redis.
            await blocker.execute_command("CLIENT", "PAUSE", "5000", "WRITE")
            try:
                body = {**request("r-slow"), "tmax": 100}
                slow = await client.post("/openrtb2/bid", content=orjson.dumps(body))
                # Answered while Redis still holds the reservation back: the bidder gave
                # up at its deadline (tmax - margin) instead of waiting the 5 s.
                assert slow.status_code == 204
                assert slow.headers["x-bidlake-no-bid"] == "timeout"
            finally:
                await blocker.execute_command("CLIENT", "UNPAUSE")
                await blocker.aclose()
    events = {e["request_id"]: e for e in read_events(Path(settings.landing), "bid_request")}
    assert events["r-ok"]["no_bid_reason"] == ""
    assert events["r-slow"]["no_bid_reason"] == "timeout"
    assert [b["request_id"] for b in read_events(Path(settings.landing), "bid")] == ["r-ok"]


def test_a_lagging_loop_turns_bids_into_timeouts(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the loop runs 150 ms late, a request with tmax 100 ms has already waited past
    its deadline before the app saw it: no-bid, reason timeout, logged as such."""

    async def stuck(self: LoopLag) -> None:  # the monitor, frozen at a 150 ms lag
        self.seconds = 0.150
        await asyncio.Event().wait()

    monkeypatch.setattr(LoopLag, "run", stuck)
    app = create_app(settings.with_overrides(campaigns=str(BOOK)), clock=lambda: NOON)
    with TestClient(app) as client:
        response = client.post("/openrtb2/bid", content=orjson.dumps({**request("r"), "tmax": 100}))
        assert response.status_code == 204
        assert response.headers["x-bidlake-no-bid"] == "timeout"
        assert "bidder_event_loop_lag_seconds" in client.get("/metrics").text
