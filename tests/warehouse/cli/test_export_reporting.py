"""`bidlake export-reporting`, run as a command against a real PostgreSQL server."""

from __future__ import annotations

import os
import subprocess
import sys

from bidlake.paths import REPO_ROOT
from tests.warehouse.conftest import Built, pg


def test_cli_export_reporting(built_scenario: Built, postgres_url: str) -> None:
    env = {**os.environ, "BIDLAKE_HOME": str(built_scenario.home.root)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bidlake.cli",
            "export-reporting",
            "--url",
            postgres_url,
            "--schema",
            "bi",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "rpt_campaign_daily" in done.stderr
    assert pg(postgres_url, "select count(*) from bi.rpt_campaign_daily") == [(2,)]
