"""`bidlake ui` in a real browser: the webserver starts, and headless Chromium shows the
asset graph of the home a `bidlake run` just filled.

The test waits on conditions, never on time (`tests.support.polling.eventually`): the
webserver's `/server_info`, then the GraphQL API until the code location has loaded, then
Chromium's own virtual-time budget (it runs the single-page app until the network is
quiet). Screenshots go to
`test-artifacts/` at the repository root.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bidlake.paths import REPO_ROOT
from tests.orchestration.conftest import MainRun
from tests.support.chromium import chromium, require_chromium
from tests.support.polling import eventually
from tests.support.postgres import free_port

ARTIFACTS = REPO_ROOT / "test-artifacts"
UI_FLAGS = [
    "--window-size=1800,1100",
    # Runs the single-page app on a virtual clock until it is idle, up to 30 s of it.
    "--virtual-time-budget=30000",
]
START_TIMEOUT_S = 180.0  # webserver + daemon + a code location that imports dbt


def _graphql(url: str, query: str) -> dict:
    response = httpx.post(f"{url}/graphql", json={"query": query}, timeout=30.0)
    response.raise_for_status()
    return response.json()["data"]


@pytest.fixture(scope="module")
def ui(main_run: MainRun, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_chromium()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "BIDLAKE_"))}
    env["BIDLAKE_HOME"] = str(main_run.home)
    log = tmp_path_factory.mktemp("ui") / "ui.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bidlake.cli", "ui", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def running() -> bool:
            return proc.poll() is None

        eventually(
            lambda: httpx.get(f"{url}/server_info").is_success,
            timeout=START_TIMEOUT_S,
            interval=0.5,
            what="bidlake ui: the webserver answers",
            alive=running,
        )
        query = "{ assetNodes { assetKey { path } } }"
        eventually(
            lambda: _graphql(url, query)["assetNodes"],
            timeout=START_TIMEOUT_S,
            interval=0.5,
            what="bidlake ui: the code location is loaded",
            alive=running,
        )
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)  # bidlake ui stops dagster dev and its children
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(
                f"bidlake ui did not stop on SIGTERM; log:\n{log.read_text()}"
            ) from None


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return chromium(tmp, *UI_FLAGS, *args)


def test_the_graphql_api_lists_every_platform_asset(ui: str, main_run: MainRun) -> None:
    nodes = _graphql(ui, "{ assetNodes { assetKey { path } groupName } }")["assetNodes"]
    keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
    groups = {n["groupName"] for n in nodes}
    assert {"landing/simulated_logs", "raw/impression", "models/ctr", "bidder/replay"} <= keys
    assert {"raw", "staging", "reporting", "features", "models"} <= groups
    runs = _graphql(
        ui,
        '{ runsOrError(filter: {tags: [{key: "bidlake/stage", value: "ingest"}]}) '
        "{ ... on Runs { results { jobName status } } } }",
    )["runsOrError"]["results"]
    assert runs and runs[0]["jobName"] == "ingest_job" and runs[0]["status"] == "SUCCESS"


def test_chromium_renders_the_asset_catalog_and_graph(
    ui: str, main_run: MainRun, tmp_path: Path
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    dom = _chromium(tmp_path, "--dump-dom", f"{ui}/assets")
    assert dom.returncode == 0, dom.stderr[-2000:]
    for name in ("simulated_logs", "impression", "rpt_campaign_daily", "ftr_ctr_training", "ctr"):
        assert name in dom.stdout, f"{name} not on the rendered catalog page"
    (ARTIFACTS / "dagster-ui-catalog.html").write_text(dom.stdout)

    shots = {
        "dagster-ui-lineage.png": f"{ui}/assets/bidder/replay?view=lineage"
        "&lineageScope=upstream&lineageDepth=12",
        "dagster-ui-runs.png": f"{ui}/runs",
        "dagster-ui-catalog.png": f"{ui}/assets",
    }
    for name, page in shots.items():
        path = ARTIFACTS / name
        path.unlink(missing_ok=True)
        shot = _chromium(tmp_path, f"--screenshot={path}", page)
        assert shot.returncode == 0, shot.stderr[-2000:]
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 20_000, f"{name} looks blank"
    (ARTIFACTS / "dagster-ui-pages.json").write_text(json.dumps(shots, indent=2))
