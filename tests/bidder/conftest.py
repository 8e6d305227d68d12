"""Fixtures of the bidder tests: model artifacts written through ml's own export API,
settings pointing at the test's BIDLAKE_HOME, and a real redis-server on a spare port."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bidder.settings import Settings
from bidlake.keys import Key
from ml import registry
from ml.artifact import new_document, signing_key, write_artifact
from ml.features import default_spec
from tests.conftest import FIXTURES
from tests.support.polling import eventually

OPENRTB_FIXTURES = FIXTURES / "openrtb"  # the OpenRTB requests of tests/fixtures/openrtb
CTR_LOGIT = -5.8  # pCTR ~ 0.3 %, typical display
CVR_LOGIT = -2.9  # pCVR ~ 5 % of clicks


def pytest_configure(config: pytest.Config) -> None:
    # Starlette 1.x warns that its TestClient will move from httpx to httpx2; the tests use
    # the TestClient as documented, and the warning is about a future dependency.
    config.addinivalue_line(
        "filterwarnings", "ignore:Using `httpx` with `starlette.testclient`:UserWarning"
    )


def write_model(
    models_root: Path,
    name: str,
    version: str,
    intercept: float,
    weights: dict[int, float] | None = None,
    promote: bool = True,
    key: Key | None = None,
    sign: bool = True,
    **calibration: float,
) -> Path:
    """Export a model the way ml does (sealed artifact in a staged version folder), signed
    with `key` (default: the test home's model-signing key, the one the bidder verifies
    with), or unsigned when not `sign`."""
    doc = new_document(
        name=name,
        version=version,
        created_at_ms=1_767_571_200_000,
        feature_spec=default_spec(hash_bits=16).to_dict(),
        intercept=intercept,
        weights=weights or {},
        **calibration,  # type: ignore[arg-type]
    )
    if sign and key is None:
        key = signing_key()
    with registry.staging(name, version, models_root) as folder:
        write_artifact(doc, folder / registry.MODEL_FILE, key if sign else None)
    if promote:
        registry.set_current(name, version, models_root)
    return registry.model_path(name, version, models_root)


@pytest.fixture
def models_root(home: Path) -> Path:
    root = home / "models"
    write_model(root, "ctr", "ctr-v1", CTR_LOGIT)
    write_model(root, "cvr", "cvr-v1", CVR_LOGIT)
    return root


@pytest.fixture
def settings(home: Path, models_root: Path) -> Settings:
    return Settings(
        host="127.0.0.1",
        port=8080,
        public_url="http://bidder.test",
        models_root=str(models_root),
        landing=str(home / "landing"),
        writer_id="bidder-test",
        secret="test-secret",
        model_poll_s=0.05,
    ).validated()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server for the session, on a spare port, stopped at the end."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (scripts/system-deps.sh installs it)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def pong() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")

    try:
        eventually(
            pong,
            timeout=10,
            interval=0.02,
            what=f"redis-server answering PING on port {port}",
            alive=lambda: process.poll() is None,
        )
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def iso_ms(text: str) -> int:
    """ "2026-01-05T12:00:00Z" -> epoch ms."""
    from datetime import datetime

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (the bidder's loop; uvloop is asyncio-compatible)."""
    return "asyncio"


@contextmanager
def serving(app: object) -> Iterator[str]:
    """Run an ASGI app under a real uvicorn (httptools) in a thread; yields its base URL."""
    import threading

    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        host="127.0.0.1",
        port=port,
        http="httptools",
        lifespan="on",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    eventually(
        lambda: server.started,
        timeout=30,
        interval=0.01,
        what="the test server started",
        alive=thread.is_alive,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
