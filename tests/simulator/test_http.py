from __future__ import annotations

import asyncio

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from simulator.http import ConnectError, HttpError, LoopbackClient, Timeout
from tests.simulator.conftest import serve


async def chunked(request: Request) -> Response:
    async def parts():
        for i in range(3):
            yield f"part{i};".encode()

    return StreamingResponse(parts(), media_type="text/plain")  # Transfer-Encoding: chunked


async def echo(request: Request) -> Response:
    body = await request.body()
    close = request.query_params.get("close") == "1"
    return Response(body, status_code=201, headers={"connection": "close"} if close else None)


async def slow(request: Request) -> Response:
    await asyncio.sleep(1.0)
    return Response(b"late")


APP = Starlette(
    routes=[
        Route("/chunked", chunked),
        Route("/echo", echo, methods=["POST"]),
        Route("/slow", slow),
    ]
)


def test_bodies_statuses_and_keep_alive() -> None:
    async def calls(url: str) -> None:
        async with LoopbackClient(max_connections=2, timeout_s=0.3) as client:
            assert (await client.get(f"{url}/chunked")).body == b"part0;part1;part2;"
            for i in range(20):  # reused connections, and ones the server closes
                response = await client.post(
                    f"{url}/echo?close={i % 3 == 0:d}", f"n{i}".encode(), {}
                )
                assert (response.status, response.body) == (201, f"n{i}".encode())
            assert (await client.get(f"{url}/missing")).status == 404
            with pytest.raises(Timeout):
                await client.get(f"{url}/slow")
            with pytest.raises(HttpError, match="http://"):
                await client.get("https://127.0.0.1/")

    with serve(APP) as url:
        asyncio.run(calls(url))


def test_connection_refused() -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()

    async def call() -> None:
        async with LoopbackClient() as client:
            await client.get(f"http://127.0.0.1:{port}/")

    with pytest.raises(ConnectError):
        asyncio.run(call())
