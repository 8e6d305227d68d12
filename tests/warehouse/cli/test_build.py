"""`bidlake build` as a command: one build per home at a time, refused with exit status 2.

(The build itself is exercised by every warehouse test through `warehouse.build.build`,
and as a command in test_catalog's readers test.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bidlake.paths import REPO_ROOT, Home


def test_a_second_build_of_the_same_home_is_refused_while_one_runs(tmp_path: Path) -> None:
    from warehouse import locking, project

    home = Home(tmp_path / "home")
    home.root.mkdir(parents=True)
    with locking.exclusive(project.build_lock(home), "test"):
        env = {**os.environ, "BIDLAKE_HOME": str(home.root)}
        refused = subprocess.run(
            [sys.executable, "-m", "bidlake.cli", "build"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert refused.returncode == 2
    assert f"pid {os.getpid()}" in refused.stderr
