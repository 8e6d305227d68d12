from __future__ import annotations

import pytest
from google.protobuf import json_format

from contract import events as contract
from contract import events_pb2
from ingest.lake_schema import arrow_schema


def sample(event_type: str):
    """A message of `event_type` with every field set to a non-default value."""
    message = contract.EVENT_MESSAGES[event_type]()
    for column in contract.columns(event_type):
        if column.repeated:
            getattr(message, column.name).extend(["a", "b"])
        elif column.vocabulary:
            setattr(message, column.name, sorted(column.vocabulary - {""})[0])
        elif column.python_type is str:
            setattr(message, column.name, f"{column.name}-1")
        elif column.python_type is float:
            setattr(message, column.name, 0.125)
        elif column.python_type is bool:
            setattr(message, column.name, True)
        else:
            setattr(message, column.name, 2**40 if column.is_64bit else 7)
    return message


@pytest.mark.parametrize("event_type", contract.EVENT_TYPES)
def test_round_trip_proto_json_proto(event_type: str) -> None:
    message = sample(event_type)
    as_json = json_format.MessageToJson(message, preserving_proto_field_name=True)
    back = json_format.Parse(as_json, contract.EVENT_MESSAGES[event_type]())
    assert back == message
    assert contract.EVENT_MESSAGES[event_type].FromString(message.SerializeToString()) == message


@pytest.mark.parametrize("event_type", contract.EVENT_TYPES)
def test_every_event_has_id_and_time(event_type: str) -> None:
    names = [c.name for c in contract.columns(event_type)]
    assert names[:2] == ["event_id", "event_time"]
    assert arrow_schema(event_type).field("event_time").type.bit_width == 64


def test_64bit_integers_accepted_as_numbers_and_strings() -> None:
    as_number = json_format.Parse('{"bidfloor_micros": 1500000}', events_pb2.BidRequest())
    as_string = json_format.Parse('{"bidfloor_micros": "1500000"}', events_pb2.BidRequest())
    assert as_number.bidfloor_micros == as_string.bidfloor_micros == 1_500_000


def test_vocabularies_come_from_the_proto_enums() -> None:
    vocab = contract.vocabularies()
    assert "phone" in vocab["device_type"]
    assert "below_floor" in vocab["no_bid_reason"]
    assert "" in vocab["no_bid_reason"]  # empty: the bidder bid
    assert set(vocab) == {
        "ad_format",
        "slot_visibility",
        "device_type",
        "os",
        "browser",
        "no_bid_reason",
        "conversion_type",
    }


def test_required_fields_of_the_issue_exist() -> None:
    required = {
        "bid_request": "exchange publisher_id site_domain app_bundle placement_id ad_width "
        "ad_height device_type os browser country region user_id bidfloor_micros tmax_ms "
        "no_bid_reason",
        "bid": "request_id imp_id campaign_id creative_id bid_price_micros pctr pcvr model_version",
        "impression": "bid_id request_id campaign_id clearing_price_micros",
        "click": "bid_id campaign_id user_id",
        "conversion": "campaign_id user_id conversion_value_micros bid_id",
    }
    for event_type, fields in required.items():
        names = {c.name for c in contract.columns(event_type)}
        assert set(fields.split()) <= names, event_type
