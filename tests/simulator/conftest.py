"""Shared by the simulator tests: a small world (the default one has a million users), a
small simulation's config and a reader of its logs, and for replay tests a constant
bidder served on loopback."""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from contract.encoding import read_varint_frames
from simulator.run_types import SimulationConfig
from simulator.traffic import TrafficWindow
from simulator.world import World, WorldConfig, build_world

SMALL = WorldConfig(n_publishers=800, n_users=40_000)
START = datetime(2026, 1, 5, 14, tzinfo=UTC)
_WINDOW_FIELDS = ("start", "hours", "rate", "seed")


def small_config(tmp: Path, **overrides) -> SimulationConfig:
    """A simulation of the small world into `tmp`: an hour from START at 10 requests/s,
    seed 1; `overrides` are fields of the window or of the config."""
    window = {"start": START, "hours": 1, "rate": 10.0, "seed": 1}
    window |= {k: v for k, v in overrides.items() if k in _WINDOW_FIELDS}
    fields = {"landing": tmp / "landing", "truth": tmp / "truth", "world": SMALL}
    fields |= {k: v for k, v in overrides.items() if k not in _WINDOW_FIELDS}
    return SimulationConfig(window=TrafficWindow(**window), **fields)


def records(landing: Path, event_type: str) -> list[bytes]:
    """Every raw record (line or frame) of one event type, in file order."""
    out: list[bytes] = []
    folder = landing / event_type
    for path in sorted(folder.iterdir()) if folder.exists() else []:
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        if ".pb" in path.name:
            out += [frame for _, frame in read_varint_frames(data)]
        else:
            out += data.splitlines()
    return out


@pytest.fixture(scope="session")
def small_world() -> World:
    return build_world(11, SMALL)


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Runs `app` on a loopback port; the socket listens before the server starts, so
    requests made right away queue in the backlog instead of failing."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    config = uvicorn.Config(app, log_level="warning", lifespan="off", loop="asyncio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


class ConstantBidder:
    """Bids `price` USD CPM on every banner for campaign cmp-101; records every call."""

    def __init__(self, price: float = 5.0, delay_s: float = 0.0, notice_host: str = "") -> None:
        self.price = price
        self.delay_s = delay_s
        self.notice_host = notice_host  # where the URLs in bids point ("" = this server)
        self.requests: list[dict] = []
        self.bodies: list[bytes] = []
        self.bids: dict[str, float] = {}
        self.wins: list[dict[str, str]] = []
        self.clicks: list[dict[str, str]] = []
        self.conversions: list[dict[str, str]] = []

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/openrtb2/bid", self.bid, methods=["POST"]),
                Route("/win", self.win),
                Route("/click", self.click),
                Route("/conversion", self.conversion),
            ]
        )

    async def bid(self, request: Request) -> Response:
        body = await request.body()
        self.bodies.append(body)
        data = orjson.loads(body)
        self.requests.append(data)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)  # a slow bidder, past tmax
        imp = data["imp"][0]
        if "banner" not in imp:
            return Response(status_code=204)
        bid_id = f"b-{data['id']}"
        self.bids[bid_id] = self.price
        base = self.notice_host or str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "id": data["id"],
                "bidid": f"r-{data['id']}",
                "cur": "USD",
                "seatbid": [
                    {
                        "seat": "test",
                        "bid": [
                            {
                                "id": bid_id,
                                "impid": imp["id"],
                                "price": self.price,
                                "cid": "cmp-101",
                                "crid": "cr-101-300x250",
                                "nurl": f"{base}/win?b={bid_id}&price=${{AUCTION_PRICE}}"
                                "&auction=${AUCTION_ID}",
                                "adm": "<a href='x'>ad</a>",
                                "ext": {
                                    "click_url": f"{base}/click?b={bid_id}",
                                    "conversion_url": f"{base}/conversion?b={bid_id}"
                                    "&value=${CONVERSION_VALUE}",
                                },
                            }
                        ],
                    }
                ],
            }
        )

    async def win(self, request: Request) -> Response:
        self.wins.append(dict(request.query_params))
        return Response(status_code=204)

    async def click(self, request: Request) -> Response:
        self.clicks.append(dict(request.query_params))
        return RedirectResponse("https://advertiser.example/landing", status_code=302)

    async def conversion(self, request: Request) -> Response:
        self.conversions.append(dict(request.query_params))
        return Response(b"GIF89a", media_type="image/gif")
