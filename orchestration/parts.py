"""Which parts of the platform exist in this checkout.

The platform is built part by part; the definitions include a part's assets only when
its code is there, and `bidlake run` leaves a missing part's step out and says so, rather
than pretend. Looking a module up (`find_spec`) does not import it, so this costs
microseconds and loads no numpy, scikit-learn or dbt.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from orchestration.dbt_project import PROJECT_DIR
from orchestration.dbt_project import exists as dbt_project_exists


@dataclass(frozen=True)
class Part:
    name: str
    folder: str
    modules: tuple[str, ...]  # every module the orchestration calls into


PARTS: dict[str, Part] = {
    p.name: p
    for p in (
        Part("simulator", "simulator/", ("simulator.run",)),
        Part("replay", "simulator/", ("simulator.replay",)),
        Part("ingest", "ingest/", ("ingest.pipeline", "ingest.compaction", "ingest.ledger")),
        Part(
            "warehouse",
            "dbt_project/",
            ("warehouse.catalog", "warehouse.publish", "warehouse.locking"),
        ),
        Part("ml", "ml/", ("ml.export",)),
        Part("bidder", "bidder/", ("bidder.cli",)),
        Part("reporting_export", "warehouse/", ("warehouse.export",)),
    )
}


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def missing(name: str) -> str | None:
    """None when part `name` is present, else what is missing."""
    part = PARTS[name]
    absent = [m for m in part.modules if not _module_exists(m)]
    if name == "warehouse" and not dbt_project_exists(PROJECT_DIR):
        absent.append(f"{PROJECT_DIR}/dbt_project.yml")
    if absent:
        return f"{part.folder} not built yet (missing {', '.join(absent)})"
    return None


def available(name: str) -> bool:
    return missing(name) is None
