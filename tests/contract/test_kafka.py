"""contract.kafka: topics, keys, values, the spill framing and the client defaults — what a
producer and a consumer of bidlake events on Kafka agree on. No cluster needed here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from contract import kafka
from contract.encoding import MAX_FRAME_BYTES
from contract.events import EVENT_MESSAGES, EVENT_TYPES
from tests.ingest.factories import event

pytestmark = pytest.mark.kafka


def test_one_topic_per_event_type_and_back() -> None:
    assert kafka.TOPICS["bid_request"] == "bidlake.events.v1.bid_request"
    assert set(kafka.TOPICS) == set(EVENT_TYPES)
    for event_type in EVENT_TYPES:
        assert kafka.event_type_of_topic(kafka.topic_of(event_type)) == event_type
    assert kafka.event_type_of_topic("bidlake.events.v2.bid") is None
    with pytest.raises(ValueError, match="unknown event type"):
        kafka.topic_of("bids")


def test_keys_keep_what_must_stay_ordered_together() -> None:
    assert kafka.key_of("bid_request", event("bid_request", 1)) == b"r1"
    bid = event("bid", 7)
    assert kafka.key_of("bid", bid) == str(bid["event_id"]).encode()  # the bid id
    for event_type in ("impression", "click", "conversion"):
        assert kafka.key_of(event_type, event(event_type, 3)) == b"b3"
    # A conversion without a bid id: keyed by its order id, so its repeats stay together.
    orphan = event("conversion", 4, bid_id="", event_id="order-9")
    assert kafka.key_of("conversion", orphan) == b"order-9"


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_values_are_the_bare_message_or_one_json_object(event_type: str) -> None:
    original = event(event_type, 5)
    value = kafka.encode_value(event_type, original, "protobuf")
    decoded = EVENT_MESSAGES[event_type].FromString(value)  # no length prefix
    assert decoded.event_id == original["event_id"]
    text = kafka.encode_value(event_type, original, "jsonl")
    assert b"\n" not in text and orjson.loads(text) == original
    topic, key, same = kafka.encode(event_type, original, "protobuf")
    assert (topic, same) == (kafka.TOPICS[event_type], value) and key


def test_a_value_over_the_cap_is_refused() -> None:
    huge = event("bid_request", 1, user_agent="x" * (MAX_FRAME_BYTES + 1))
    for fmt in ("protobuf", "jsonl"):
        with pytest.raises(ValueError, match="cap"):
            kafka.encode_value("bid_request", huge, fmt)  # type: ignore[arg-type]


def test_the_format_is_in_a_header_and_protobuf_needs_none() -> None:
    assert kafka.headers_for("protobuf") is None
    assert kafka.value_format(kafka.headers_for("jsonl")) == "jsonl"  # type: ignore[arg-type]
    assert kafka.value_format(None) == "protobuf"
    assert kafka.value_format([("Content-Type", b"application/x-protobuf")]) == "protobuf"
    assert kafka.value_format([("content-type", b"application/json; charset=utf-8")]) == "jsonl"
    assert kafka.value_format([("content-type", b"text/csv")]) is None


def test_bootstrap_lists() -> None:
    assert kafka.bootstrap_of("kafka://a:9092,b:9092") == "a:9092,b:9092"
    assert kafka.bootstrap_of("127.0.0.1:1234") == "127.0.0.1:1234"
    for bad in ("kafka://", "kafka://host", "kafka://a:1,,b:2", "kafka://a:1/t", "kafka://u:p@h:1"):
        with pytest.raises(ValueError, match="bootstrap"):
            kafka.bootstrap_of(bad)


def test_the_producer_acknowledges_only_what_every_replica_has() -> None:
    conf = kafka.producer_config("kafka://h:1", **{"linger.ms": 1})
    assert conf["acks"] == "all" and conf["enable.idempotence"] is True
    assert conf["partitioner"] == "murmur2_random"
    assert conf["bootstrap.servers"] == "h:1" and conf["linger.ms"] == 1
    consumer = kafka.consumer_config("h:1", "g")
    assert consumer["enable.auto.commit"] is False and consumer["group.id"] == "g"


def test_spill_records_survive_a_cut_tail() -> None:
    records = [
        ("t.a", b"k1", b"\x00\x01value", "protobuf"),
        ("t.b", b"", b'{"a":1}', "jsonl"),
        ("t.c", b"k3", b"", "protobuf"),
    ]
    data = b"".join(kafka.spill_record(t, k, v, f) for t, k, v, f in records)  # type: ignore[arg-type]
    assert kafka.read_spill(data) == (records, len(data))
    last = kafka.spill_record(*records[2])  # type: ignore[arg-type]
    for cut in range(1, len(last) + 1):  # a crash anywhere inside the last record
        assert kafka.read_spill(data[:-cut]) == (records[:2], len(data) - len(last))


def test_importing_the_contract_does_not_load_the_kafka_client() -> None:
    probe = "import sys, contract.kafka; print('confluent_kafka' in sys.modules)"
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=repo, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
