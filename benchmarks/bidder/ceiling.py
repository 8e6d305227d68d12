"""The baselines the bidder is measured against: the same server stack (uvicorn, httptools,
uvloop, one worker) answering a constant JSON body —

- `app`: a raw ASGI callable (the ceiling: HTTP parsing and framing only);
- `starlette_app`: through Starlette's router, Request and Response (what a routing layer
  costs);
- `parse_app`: raw ASGI that also decodes the body and derives the bid_request fields with
  bidder.bid_request.parse_request, then answers the constant body (what reading an OpenRTB
  request costs before any decision: the floor of any bidder written this way).

All read the request body, as the bidder must."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bidder.bid_request import RequestError, parse_request

BODY = b'{"id":"1","seatbid":[{"bid":[{"id":"1","impid":"1","price":1.0}]}]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


async def parse_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await app(scope, receive, send)
        return
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    with contextlib.suppress(orjson.JSONDecodeError, RequestError):
        parse_request(orjson.loads(b"".join(chunks)), now_ms=time.time_ns() // 1_000_000)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


async def _constant(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")


starlette_app = Starlette(routes=[Route("/openrtb2/bid", _constant, methods=["POST"])])
