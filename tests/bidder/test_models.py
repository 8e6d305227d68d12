"""bidder.models, the hot reload under load: a real server (uvicorn, httptools) answers a
stream of concurrent bid requests while CURRENT moves between versions — including to an
artifact that fails verification. No request fails, every bid is priced by exactly one
whole model version, and the bidder ends on the last good version."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from bidder.app import create_app
from bidder.settings import Settings
from ml import registry
from tests.bidder.conftest import serving, write_model
from tests.bidder.test_cases import BOOK, read_events
from tests.bidder.test_service import NOON, request
from tests.support.polling import eventually

# Constant models: each version predicts its own, recognizable pCTR for every request.
VERSIONS = {"ctr-v1": -5.8, "ctr-v2": -5.0, "ctr-v3": -4.6}


def sigmoid(intercept: float) -> float:
    return 1 / (1 + math.exp(-intercept))


def corrupt(models_root: Path, version: str) -> None:
    """A version whose artifact fails its checksum, promoted by writing CURRENT directly
    (registry.set_current would refuse it, a broken deploy script might not)."""
    path = write_model(models_root, "ctr", version, -3.0, promote=False)
    doc = orjson.loads(path.read_bytes())
    doc["model"]["intercept"] = 5.0  # edited after sealing
    path.write_bytes(orjson.dumps(doc))
    current = models_root / "ctr" / registry.CURRENT_FILE
    temp = current.with_name(".CURRENT.tmp")
    temp.write_text(version + "\n")
    temp.replace(current)


async def readyz_once(
    url: str, holds: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    """/readyz once `holds(its ctr slot)`; fails naming `what` and the last answer after
    20 s. Polls from a thread, so the load keeps running on the event loop meanwhile."""

    def probe() -> dict[str, Any]:
        ready: dict[str, Any] = httpx.get(url + "/readyz", timeout=5).json()
        assert holds(ready["models"]["ctr"]), f"/readyz: {ready}"
        return ready

    return await asyncio.to_thread(eventually, probe, timeout=20, interval=0.02, what=what)


async def wait_for_version(url: str, version: str) -> dict[str, Any]:
    return await readyz_once(url, lambda ctr: ctr["version"] == version, f"ctr at {version}")


async def wait_for_error(url: str) -> dict[str, Any]:
    return await readyz_once(url, lambda ctr: bool(ctr["error"]), "a ctr load error")


@pytest.mark.anyio
async def test_hot_reload_under_load(settings: Settings, models_root: Path) -> None:
    for version, intercept in VERSIONS.items():
        if version != "ctr-v1":
            write_model(models_root, "ctr", version, intercept, promote=False)
    app = create_app(
        settings.with_overrides(campaigns=str(BOOK), model_poll_s=0.02), clock=lambda: NOON
    )
    statuses: dict[int, int] = {}
    prices: set[float] = set()
    stop = asyncio.Event()
    with serving(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:

            async def load(worker: int) -> None:
                i = 0
                while not stop.is_set():
                    body = orjson.dumps(request(f"w{worker}-{i}", user=f"u{worker}-{i}"))
                    response = await client.post("/openrtb2/bid", content=body)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if response.status_code == 200:
                        prices.add(response.json()["seatbid"][0]["bid"][0]["price"])
                    i += 1

            workers = [asyncio.create_task(load(w)) for w in range(8)]
            for version in ("ctr-v2", "ctr-v3", "ctr-v1", "ctr-v3"):
                registry.set_current("ctr", version, models_root)
                await wait_for_version(url, version)
                await asyncio.sleep(0.05)  # let the load run on this version a little
            corrupt(models_root, "ctr-bad")
            ready = await wait_for_error(url)
            assert ready["ready"] is True
            assert ready["models"]["ctr"]["version"] == "ctr-v3"  # kept the good model
            assert "checksum mismatch" in ready["models"]["ctr"]["error"]
            await asyncio.sleep(0.05)
            stop.set()
            await asyncio.gather(*workers)
            metrics = (await client.get("/metrics")).text

    assert set(statuses) == {200}, statuses  # no failed request, none without a bid
    assert sum(statuses.values()) > 100
    # Every bid was priced by one whole version: its logged pCTR is that version's.
    events = read_events(Path(settings.landing), "bid")
    assert len(events) == sum(statuses.values())
    seen = set()
    for event in events:
        version = event["model_version"].split(";")[0].removeprefix("ctr:")
        assert event["pctr"] == pytest.approx(sigmoid(VERSIONS[version]), rel=1e-12)
        seen.add(version)
    assert seen == set(VERSIONS), "every version served part of the load"
    assert 'bidder_model_reloads_total{model="ctr"' in metrics
    assert 'bidder_model_load_failures_total{model="ctr",' in metrics


def test_a_pinned_version_ignores_current(settings: Settings, models_root: Path) -> None:
    from starlette.testclient import TestClient

    write_model(models_root, "ctr", "ctr-v2", -5.0)  # promoted: CURRENT is now v2
    app = create_app(settings.with_overrides(ctr_version="ctr-v1"))
    with TestClient(app) as client:
        assert client.get("/readyz").json()["models"]["ctr"]["version"] == "ctr-v1"
