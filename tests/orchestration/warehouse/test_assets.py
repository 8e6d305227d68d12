"""The dbt project as assets: source keys declared in YAML, and which models are partitioned."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
import pytest

from orchestration import definitions
from orchestration.lake.assets import RAW_KEYS
from orchestration.models.assets import MARTS
from orchestration.partitions import DAILY
from orchestration.warehouse.assets import TRANSLATOR, is_incremental
from orchestration.warehouse.definitions import DBT_PROJECT, warehouse_dbt_models
from tests.orchestration.conftest import MainRun


def _manifest() -> dict[str, Any]:
    return json.loads(DBT_PROJECT.manifest_path.read_text())


def test_every_dbt_source_declares_the_asset_that_produces_it() -> None:
    """Each source table names its Dagster asset in its YAML (`meta.dagster.asset_key`);
    the tracker's are exactly the raw tables ingest produces, so raw → staging is connected."""
    sources = list(_manifest()["sources"].values())
    keys = {}
    for props in sources:
        declared = (props["config"].get("meta") or {}).get("dagster", {}).get("asset_key")
        assert declared, f"{props['unique_id']}: no meta.dagster.asset_key in its YAML"
        keys[props["unique_id"]] = TRANSLATOR.get_asset_key(props)
        assert keys[props["unique_id"]] == dg.AssetKey(declared)
    tracker = {keys[p["unique_id"]] for p in sources if p["source_name"] == "tracker"}
    assert tracker == set(RAW_KEYS)
    graph = definitions.defs.resolve_asset_graph()
    for props in sources:
        assert graph.has(keys[props["unique_id"]])
    staging = graph.get(dg.AssetKey(["staging", "stg_tracker__bid_requests"]))
    assert dg.AssetKey(["raw", "bid_request"]) in staging.parent_keys


def test_only_the_incremental_models_are_partitioned() -> None:
    """Daily partitions on the models built incrementally by time window — each keeps the
    ledger of the incremental macros (`meta.incremental`) — and none on the rest."""
    graph = definitions.defs.resolve_asset_graph()
    partitioned, whole = set(), set()
    for props in _manifest()["nodes"].values():
        if props["resource_type"] != "model":
            continue
        node = graph.get(TRANSLATOR.get_asset_key(props))
        if is_incremental(props):
            assert "incremental" in props["config"]["meta"], props["name"]  # ledger-driven
            assert node.partitions_def == DAILY, props["name"]
            partitioned.add(props["name"])
        else:
            assert node.partitions_def is None, props["name"]
            whole.add(props["name"])
    assert {"int_bids_joined_to_requests", "ftr_ctr_training", "rpt_exchange_hourly"} <= partitioned
    assert {
        "stg_campaign_book__campaigns",
        "stg_tracker__impressions",
        "int_conversions_attributed",
        "rpt_campaign_daily",
    } <= whole


def test_the_models_learn_from_marts_the_dbt_project_builds() -> None:
    assert set(MARTS.values()) <= set(warehouse_dbt_models.keys)


def test_a_run_of_unpartitioned_models_alone_needs_no_day(
    main_run: MainRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Materializing only unpartitioned models (as from the UI) is a plain `dbt build` of
    them: no partition, no rebuild window. On the home `bidlake run` built, so the tests
    dbt runs beside the model (relationships into staging) find their tables."""
    monkeypatch.setenv("BIDLAKE_HOME", str(main_run.home))
    key = dg.AssetKey(["staging", "stg_campaign_book__campaigns"])
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            [warehouse_dbt_models],
            selection=[key],
            instance=instance,
            resources=definitions.defs.resources,
        )
    assert result.success
    [event] = result.get_asset_materialization_events()
    assert (event.asset_key, event.partition) == (key, None)
