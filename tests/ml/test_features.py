"""The feature spec: hashing is stable and documented, no post-auction field enters, and
its list of bid-time fields is the one the feature marts (dbt) carry."""

from __future__ import annotations

import json
import zlib

import jinja2
import pytest
import yaml

from bidlake.paths import REPO_ROOT
from contract.events import EVENT_TYPES, columns
from ml.features import (
    CROSS_SEP,
    NAME_SEP,
    RAW_FIELDS,
    Feature,
    FeatureSpec,
    FeatureSpecError,
    default_spec,
)
from tests.ml.conftest import full_row

DBT_PROJECT = REPO_ROOT / "dbt_project"
FEATURE_MARTS = ("ftr_ctr_training", "ftr_cvr_training")

# Columns known only after the auction, or derived from the bidder's own decision. A
# feature reading any of them would leak the label (or the old model's output) into
# training. Labels and mart timestamps of the feature marts are listed by name; the
# contract's post-auction events contribute every column they have.
MART_POST_AUCTION = {
    "is_clicked",
    "is_converted",
    "is_label_mature",
    "impression_id",
    "impression_at",
    "impression_date",
    "click_id",
    "clicked_at",
    "click_date",
    "bid_id",
    "request_id",
}
BID_DECISION = {
    "bid_price_micros",
    "pctr",
    "pcvr",
    "model_version",
    "pacing_factor",
    "no_bid_reason",
}
ALLOWED_FROM_LATER_EVENTS = {"campaign_id", "creative_id"}  # chosen at bid time


def _post_auction_columns() -> set[str]:
    later = {c.name for t in ("impression", "click", "conversion") for c in columns(t)}
    return (later - ALLOWED_FROM_LATER_EVENTS) | MART_POST_AUCTION | BID_DECISION


def test_spec_reads_only_bid_time_fields() -> None:
    spec = default_spec()
    leaked = set(spec.raw_fields) & _post_auction_columns()
    assert not leaked, f"post-auction columns in the feature spec: {sorted(leaked)}"
    leaked_allowed = set(RAW_FIELDS) & _post_auction_columns()
    assert not leaked_allowed, f"post-auction columns allowed as raw fields: {leaked_allowed}"


def test_raw_fields_are_bid_request_columns_plus_campaign_and_creative() -> None:
    bid_request = {c.name: c for c in columns("bid_request")}
    assert "bid_request" in EVENT_TYPES
    for name, kind in RAW_FIELDS.items():
        if name in ALLOWED_FROM_LATER_EVENTS:
            assert name in {c.name for c in columns("bid")}
            continue
        assert name in bid_request, f"{name} is not a bid_request column"
        column = bid_request[name]
        expected = "list" if column.repeated else ("str" if column.python_type is str else "int")
        assert kind == expected, f"{name}: spec says {kind}, contract says {expected}"


@pytest.mark.parametrize("column", ["clearing_price_micros", "is_clicked", "no_bid_reason", "pctr"])
def test_a_spec_reading_a_post_auction_column_is_refused(column: str) -> None:
    with pytest.raises(FeatureSpecError, match="not a bid-time field"):
        FeatureSpec(features=(Feature("leak", "value", (column,)),))
    # ...also when it arrives inside a model artifact.
    data = default_spec().to_dict()
    data["features"].append({"name": "leak", "transform": "value", "inputs": [column]})
    with pytest.raises(FeatureSpecError, match="not a bid-time field"):
        FeatureSpec.from_dict(data)


def test_hash_is_crc32_of_name_separator_value() -> None:
    spec = default_spec(hash_bits=20)
    token = ("device" + NAME_SEP + "phone").encode()
    assert spec.index("device", "phone") == zlib.crc32(token) & (2**20 - 1)
    # Pinned: a bidder in another language must reproduce exactly this number.
    assert spec.index("device", "phone") == 163286
    cross = ("device*ad_size" + NAME_SEP + "phone" + CROSS_SEP + "320x50").encode()
    assert spec.index("device*ad_size", "phone" + CROSS_SEP + "320x50") == zlib.crc32(cross) % 2**20


def test_tokens_of_a_row() -> None:
    spec = default_spec()
    row = full_row(
        app_bundle="com.game",
        site_domain="ignored.com",
        ad_width=320,
        ad_height=50,
        device_type="phone",
        user_segments=["b", "a", "b"],
        bidfloor_micros=250_000,
        campaign_id="c1",
        country="US",
        region="CA",
    )
    tokens = dict.fromkeys(spec.tokens(row))
    assert ("inventory", "app:com.game") in tokens
    assert ("ad_size", "320x50") in tokens
    assert ("floor", "5") in tokens  # 25 cents -> 25 -> bit_length 5
    assert ("region", "US" + CROSS_SEP + "CA") in tokens
    assert [v for n, v in tokens if n == "segment"] == ["a", "b"]  # distinct, sorted
    assert ("campaign*segment", "c1" + CROSS_SEP + "a") in tokens
    assert ("device*ad_size", "phone" + CROSS_SEP + "320x50") in tokens


def test_missing_fields_hash_like_their_proto3_defaults() -> None:
    spec = default_spec()
    full = full_row(device_type="phone")
    sparse = {"device_type": "phone"}  # a bidder omitting default-valued fields
    assert spec.indices(full) == spec.indices(sparse)
    assert ("segment", "") in spec.tokens(sparse)  # "no segments" is its own token


def test_integers_and_integral_floats_hash_alike() -> None:
    spec = default_spec()
    assert spec.indices(full_row(ad_width=300, ad_height=250)) == spec.indices(
        {"ad_width": 300.0, "ad_height": 250}
    )


def test_list_values_are_capped() -> None:
    spec = default_spec()
    many = [f"s{i:03d}" for i in range(100)]
    values = [v for n, v in spec.tokens({"user_segments": many}) if n == "segment"]
    assert values == many[:32]


def test_spec_round_trips_through_json() -> None:
    spec = default_spec(hash_bits=18)
    again = FeatureSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    row = full_row(device_type="tablet", user_segments=["x"], campaign_id="c9")
    assert again.indices(row) == spec.indices(row)


@pytest.mark.parametrize(
    ("features", "crosses", "message"),
    [
        ((Feature("a", "nope", ("os",)),), (), "unknown transform"),
        ((Feature("a", "size", ("os",)),), (), "takes 2 inputs"),
        ((Feature("a", "value", ("user_segments",)),), (), "list fields"),
        ((Feature("a", "set", ("user_segments",)),), (), "needs param"),
        ((Feature("a", "value", ("os",)), Feature("a", "value", ("os",))), (), "twice"),
        ((Feature("a", "value", ("os",)),), (("a", "b"),), "unknown feature"),
        (
            (
                Feature("s", "set", ("user_segments",), 4),
                Feature("t", "set", ("user_segments",), 4),
            ),
            (("s", "t"),),
            "more than one list",
        ),
    ],
)
def test_malformed_specs_are_refused(features, crosses, message) -> None:
    with pytest.raises(FeatureSpecError, match=message):
        FeatureSpec(features=features, crosses=crosses)


# ---- one list of bid-time fields: RAW_FIELDS, which the dbt project repeats -------------
# dbt's Jinja cannot import Python, so dbt_project/macros/features.sql and the marts'
# contracts name the fields again; these tests fail as soon as either differs from
# RAW_FIELDS (tests/warehouse/test_dbt_project.py then checks the built marts).


def test_the_dbt_macro_selects_the_raw_fields_of_the_bid_request() -> None:
    source = (DBT_PROJECT / "macros" / "features.sql").read_text()
    macros = jinja2.Environment().from_string(source).module
    rendered = str(macros.bid_time_request_columns("r"))  # type: ignore[attr-defined]
    selected = [column.strip().removeprefix("r.") for column in rendered.split(",")]
    # The bid's own fields (campaign, creative) are selected after it, by each model.
    request_fields = [f for f in RAW_FIELDS if f not in ALLOWED_FROM_LATER_EVENTS]
    assert selected == request_fields, f"bid_time_request_columns must list {request_fields}"
    assert list(RAW_FIELDS)[len(request_fields) :] == ["campaign_id", "creative_id"]
    for mart in FEATURE_MARTS:
        sql = (DBT_PROJECT / "models" / "marts" / "features" / f"{mart}.sql").read_text()
        select = sql[sql.index("{{ bid_time_request_columns(") :].splitlines()[:3]
        assert [line.strip().split(".")[-1] for line in select[1:]] == [
            "campaign_id,",
            "creative_id,",
        ], mart


def test_the_feature_mart_contracts_declare_the_raw_fields_with_their_kinds() -> None:
    models = yaml.safe_load(
        (DBT_PROJECT / "models" / "marts" / "features" / "_features__models.yml").read_text()
    )["models"]
    duckdb_types = {"str": {"varchar"}, "int": {"integer", "bigint"}, "list": {"varchar[]"}}
    for mart in FEATURE_MARTS:
        [model] = [m for m in models if m["name"] == mart]
        declared = [(c["name"], c["data_type"]) for c in model["columns"]]
        names = [name for name, _ in declared]
        start = names.index(next(iter(RAW_FIELDS)))
        features = declared[start : start + len(RAW_FIELDS)]
        assert [name for name, _ in features] == list(RAW_FIELDS), mart
        for name, data_type in features:
            assert data_type in duckdb_types[RAW_FIELDS[name]], (mart, name, data_type)
