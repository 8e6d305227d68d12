"""The dbt project agrees with the event contract, the interfaces and its own docs."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import yaml

from contract.events import EVENT_TYPES, vocabularies
from ingest.lake_schema import arrow_schema
from ml.features import RAW_FIELDS
from tests.warehouse.conftest import Built
from warehouse import project
from warehouse.catalog import connect_read_only

MODELS = project.DBT_PROJECT_DIR / "models"
# docs/interfaces.md, "Feature marts": the bid-time features, in this order - the list the
# bidder's scorer and training share (ml/features.py), written once there.
FEATURES = list(RAW_FIELDS)
CTR_COLUMNS = [
    "impression_id", "bid_id", "request_id", "impression_at", "impression_date",
    *FEATURES, "is_clicked",
]  # fmt: skip
CVR_COLUMNS = [
    "click_id", "bid_id", "request_id", "clicked_at", "click_date",
    *FEATURES, "is_converted", "is_label_mature",
]  # fmt: skip
DUCKDB_TYPES = {
    pa.string(): "varchar",
    pa.int64(): "bigint",
    pa.int32(): "integer",
    pa.float64(): "double",
    pa.bool_(): "boolean",
}


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _duckdb_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_list(arrow_type):
        return _duckdb_type(arrow_type.value_type) + "[]"
    return DUCKDB_TYPES[arrow_type]


def test_sources_declare_exactly_the_contract_columns_and_types() -> None:
    source = _yaml(MODELS / "staging/tracker/_tracker__sources.yml")["sources"][0]
    tables = {t["name"]: t for t in source["tables"]}
    assert set(tables) == set(EVENT_TYPES)
    for event_type in EVENT_TYPES:
        declared = [(c["name"], c["data_type"]) for c in tables[event_type]["columns"]]
        contract = [(f.name, _duckdb_type(f.type)) for f in arrow_schema(event_type)]
        assert declared == contract, event_type
        assert all(c["description"] for c in tables[event_type]["columns"])


def test_accepted_values_are_the_contracts_vocabularies() -> None:
    models = _yaml(MODELS / "staging/tracker/_tracker__models.yml")["models"]
    vocab = vocabularies()
    checked = 0
    for model in models:
        for test in model.get("data_tests", []):
            for column, values in (
                test.get("accepted_values_by_column", {})
                .get("arguments", {})
                .get("values", {})
                .items()
            ):
                # no_bid_reason is NULL when the bidder bid: "" is not a value there
                expected = vocab[column] - ({""} if column == "no_bid_reason" else set())
                assert set(values) == expected, column
                checked += 1
        for column in model["columns"]:
            for test in column.get("data_tests", []):
                if isinstance(test, dict) and "accepted_values" in test:
                    assert (
                        set(test["accepted_values"]["arguments"]["values"]) == vocab[column["name"]]
                    )
                    checked += 1
    assert checked == 7


def test_feature_marts_have_exactly_the_interface_columns(built_scenario: Built) -> None:
    con = connect_read_only(built_scenario.home)
    try:
        ctr = [r[0] for r in con.execute("describe ftr_ctr_training").fetchall()]
        cvr = [r[0] for r in con.execute("describe ftr_cvr_training").fetchall()]
    finally:
        con.close()
    assert ctr == CTR_COLUMNS
    assert cvr == CVR_COLUMNS


def test_features_are_known_at_bid_time() -> None:
    bid_request = set(arrow_schema("bid_request").names)
    bid = set(arrow_schema("bid").names)
    for feature in FEATURES:
        assert feature in bid_request or feature in {"campaign_id", "creative_id"} & bid
    # nothing the auction or the user decides later
    after_auction = set(arrow_schema("impression").names) - bid_request - bid
    assert not after_auction & set(FEATURES)


def test_every_model_and_column_is_documented_and_matches_the_database(
    built_scenario: Built,
) -> None:
    manifest = json.loads(
        (project.dbt_target_dir(built_scenario.home) / "manifest.json").read_text()
    )
    con = duckdb.connect(str(project.build_database(built_scenario.home)), read_only=True)
    try:
        for node in manifest["nodes"].values():
            if node["resource_type"] != "model":
                continue
            assert node["description"].strip(), node["name"]
            documented = {name: c["description"] for name, c in node["columns"].items()}
            assert all(documented.values()), node["name"]
            actual = [
                r[0]
                for r in con.execute(f'describe "{node["schema"]}"."{node["alias"]}"').fetchall()
            ]
            assert set(documented) == set(actual), node["name"]
    finally:
        con.close()
    assert {e["name"] for e in manifest["exposures"].values()} == {
        "bidder_ctr_cvr_models",
        "reporting_postgres_export",
    }


def test_profiles_need_no_configuration() -> None:
    profiles = (project.DBT_PROJECT_DIR / "profiles.yml").read_text()
    assert "env_var('BIDLAKE_HOME', '../data')" in profiles
    assert "env_var('BIDLAKE_DBT_TARGET', 'dev')" in profiles
    assert "password" not in profiles
