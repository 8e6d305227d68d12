"""The dbt project (`dbt_project/`) as Dagster loads it: its manifest, prepared once per change.

dagster-dbt builds the asset graph from `manifest.json`, so the manifest must exist when
the definitions load. Parsing the project costs seconds (dbt start-up plus parsing), so it
is not done on every import: `prepare()` fingerprints the project's source files (names,
sizes, contents) and re-runs `dbt parse` only when the fingerprint differs from the one
stored beside the manifest — i.e. on the first load after a checkout or an edit. Anything
that imports the definitions (the UI's code server, `bidlake run`, a run worker) gets the
same, fresh manifest.

Dagster keeps the manifest it loads in `dbt_project/target/dagster/`, apart from the
artifacts of builds, which go — for Dagster's builds as for `bidlake build` — to the data
home's own `<home>/build/target/` (warehouse.project), under the home's build
lock. Concurrent preparations are safe: Dagster's update guard serialises writers of the
manifest with a lock file.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bidlake.paths import REPO_ROOT

if TYPE_CHECKING:
    from dagster_dbt import DbtCliResource, DbtProject

PROJECT_DIR = REPO_ROOT / "dbt_project"
MANIFEST_TARGET = Path("target") / "dagster"
_SOURCE_DIRS = ("models", "macros", "tests", "seeds", "snapshots", "analyses")
_SOURCE_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml")
_FINGERPRINT = "bidlake-fingerprint.txt"
# dbt from this interpreter's environment: `make run` calls .venv/bin/bidlake without the
# venv on PATH, where a bare "dbt" would not be found (or would be some other install).
DBT_EXECUTABLE = Path(sys.executable).parent / "dbt"


def fingerprint(project_dir: Path) -> str:
    """A digest of every file dbt parses: any edit, addition or removal changes it."""
    digest = hashlib.sha256()
    paths = [project_dir / name for name in _SOURCE_FILES if (project_dir / name).is_file()]
    for folder in _SOURCE_DIRS:
        root = project_dir / folder
        if root.is_dir():
            paths.extend(p for p in root.rglob("*") if p.is_file())
    for path in sorted(paths):
        digest.update(os.fsencode(path.relative_to(project_dir)))
        digest.update(b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def project(project_dir: Path = PROJECT_DIR) -> DbtProject:
    """The DbtProject (profiles.yml lives in the project folder)."""
    from dagster_dbt import DbtProject

    return DbtProject(project_dir=project_dir, target_path=MANIFEST_TARGET)


def prepare(dbt_project: DbtProject) -> Path:
    """Make sure the manifest matches the project's files; return its path.

    Raises whatever dbt raises when the project does not parse: the definitions cannot be
    built from a broken project, and the error names the file.
    """
    stamp = dbt_project.manifest_path.parent / _FINGERPRINT
    current = fingerprint(dbt_project.project_dir)
    if dbt_project.manifest_path.exists() and stamp.exists() and stamp.read_text() == current:
        return dbt_project.manifest_path
    from orchestration.dagster_internals import run_with_concurrent_update_guard

    run_with_concurrent_update_guard(dbt_project.manifest_path, _parse, dbt_project=dbt_project)
    stamp.write_text(current)
    return dbt_project.manifest_path


def cli_resource(dbt_project: DbtProject) -> DbtCliResource:
    """The dbt CLI resource for `dbt_project`, running this environment's dbt."""
    from dagster_dbt import DbtCliResource

    return DbtCliResource(project_dir=dbt_project, dbt_executable=str(DBT_EXECUTABLE))


def _parse(dbt_project: DbtProject) -> None:
    dbt = cli_resource(dbt_project)
    if any((dbt_project.project_dir / f).exists() for f in ("packages.yml", "dependencies.yml")):
        dbt.cli(["deps", "--quiet"], target_path=dbt_project.target_path).wait()
    dbt.cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()
