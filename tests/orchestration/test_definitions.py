"""The merged definitions: each area's `defs` stands on its own, the merge holds them all,
the lineage is connected end to end, and private Dagster APIs stay in one module."""

from __future__ import annotations

import ast
import importlib
import itertools

import dagster as dg
import pytest

from bidlake.paths import REPO_ROOT
from orchestration import definitions

AREAS = ("simulation", "lake", "warehouse", "models", "bidder")


@pytest.mark.parametrize("area", AREAS)
def test_each_area_loads_on_its_own(area: str) -> None:
    """An area's `defs` plus the shared resources is a loadable code location: its jobs,
    schedules and sensors name only its own jobs (other areas are only asset keys)."""
    area_defs = importlib.import_module(f"orchestration.{area}.definitions").defs
    assert isinstance(area_defs, dg.Definitions)
    dg.Definitions.validate_loadable(dg.Definitions.merge(area_defs, definitions.shared()))


def test_the_module_holds_one_definitions_object() -> None:
    """`dagster dev -m orchestration.definitions` (what `bidlake ui` runs) refuses a module
    with more than one `Definitions` at module scope."""
    found = [n for n, v in vars(definitions).items() if isinstance(v, dg.Definitions)]
    assert found == ["defs"]


def test_the_merge_holds_every_job_schedule_and_sensor() -> None:
    defs = definitions.defs
    assert {j.name for j in defs.resolve_all_job_defs()} - {"__ASSET_JOB"} == {
        "simulate_job",
        "ingest_job",
        "compaction_job",
        "kafka_ingest_job",
        "build_job",
        "export_reporting_job",
        "train_job",
        "replay_job",
    }
    assert {(s.name, s.job_name) for s in defs.schedules or []} == {
        ("daily_build_schedule", "build_job"),
        ("daily_reporting_export_schedule", "export_reporting_job"),
        ("daily_training_schedule", "train_job"),
        ("daily_compaction_schedule", "compaction_job"),
    }
    assert {s.name for s in defs.sensors or []} == {"landing_sensor", "raw_freshness_sensor"}


def test_the_lineage_is_connected_from_landing_to_the_bidder() -> None:
    """Every dependency of every asset is produced by an asset of some area; the only input
    nothing produces is the campaign book, declared as such (an external asset)."""
    graph = definitions.defs.resolve_asset_graph()
    external = {n.key.to_user_string() for n in graph.asset_nodes if not n.is_materializable}
    assert external == {"campaign_book/campaigns"}
    path = [
        "bidder/replay",
        "models/ctr_artifact",
        "models/ctr",
        "features/ftr_ctr_training",
        "intermediate/int_impressions_joined_to_bids",
        "staging/stg_tracker__impressions",
        "raw/impression",
        "landing/simulated_logs",
    ]
    for child, parent in itertools.pairwise(path):
        parents = {
            k.to_user_string() for k in graph.get(dg.AssetKey.from_user_string(child)).parent_keys
        }
        assert parent in parents, f"{child} does not depend on {parent}"


def _private_dagster_imports(path: str) -> list[str]:
    tree = ast.parse((REPO_ROOT / path).read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    return [n for n in names if n.split(".")[0].startswith("dagster") and "._" in n]


def test_private_dagster_apis_are_imported_only_in_dagster_internals() -> None:
    files = [
        str(p.relative_to(REPO_ROOT))
        for folder in ("orchestration", "tests/orchestration")
        for p in sorted((REPO_ROOT / folder).rglob("*.py"))
    ]
    offenders = {
        f: _private_dagster_imports(f)
        for f in files
        if f != "orchestration/dagster_internals.py" and _private_dagster_imports(f)
    }
    assert offenders == {}
    assert _private_dagster_imports("orchestration/dagster_internals.py")  # the checker works
