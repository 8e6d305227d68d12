"""dbt docs of the shared scenario build: generated (by `bidlake docs`) and served."""

from __future__ import annotations

import json
import threading
import urllib.request

from bidlake import cli
from tests.warehouse.conftest import Built
from warehouse import docs


def test_docs_are_generated_and_served(scenario_home: Built) -> None:
    assert cli.main(["docs", "--no-serve"]) == 0
    directory = docs.docs_dir(scenario_home.home)
    catalog = json.loads((directory / "catalog.json").read_text())
    manifest = json.loads((directory / "manifest.json").read_text())
    assert "model.bidlake.rpt_campaign_daily" in catalog["nodes"]  # with column types
    model = manifest["nodes"]["model.bidlake.rpt_campaign_daily"]
    assert model["description"] and all(c["description"] for c in model["columns"].values())
    server = docs.server(directory, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as page:
            assert page.status == 200 and b"dbt" in page.read()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
