"""Shared by the simulator tests: a small world (the default one has a million users) and
a loopback HTTP server for replay tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from starlette.applications import Starlette

from simulator.world import World, WorldConfig, build_world

SMALL = WorldConfig(n_publishers=800, n_users=40_000)


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
