"""The Kafka transport of the event contract: topics, keys, values, client settings, spill.

What a producer and a consumer of bidlake events on Kafka agree on, so the bidder
(`bidder.kafka_logs`) and ingest (`ingest.kafka_source`) never disagree:

- **Topics**: one per event type, `bidlake.events.v1.<event_type>` (the proto package, then
  the type): the type is given by the topic, as by the landing folder for files, never
  inside the value. A new contract version gets new topics.
- **Keys** (`key_of`): what must stay in order shares a key, so it lands on one partition,
  in the order written. `bid_request`: `request_id` (the imp rows of one auction together);
  `bid` (whose event_id is the bid id), `impression`, `click`, `conversion`: the bid id,
  so everything that happens to one bid — a win notice and its retries, its clicks, a
  conversion pixel fired twice — is one ordered stream, and ingest's "first occurrence
  wins" keeps the original. With the same partition count and the Java client's murmur2
  partitioner (set below), a bid and its impression/click/conversion land on the same
  partition number in every topic: a per-partition stream join needs no repartitioning. A
  conversion without a bid id is keyed by its order id (`event_id`), so its repeats stay
  together.
- **Values** (`encode_value`): the bare protobuf message of the type (Kafka frames each
  message, so no length prefix), or the contract's JSON object without its newline, marked
  by a `content-type: application/json` header. No header means protobuf.
- **Client settings**: `producer_config` (acks=all, idempotence, bounded queue) and
  `consumer_config` (manual offset commits, partition EOF events for drains).
- **Spill records** (`spill_record`, `read_spill`): how a producer that cannot deliver
  keeps events on local disk, four length-delimited frames each (topic, key, content type,
  value), so a file cut short by a crash is read up to its last complete record.

`confluent_kafka` is imported only by `client()`, when a client is really made: importing
this module costs nothing more than the contract itself (the bidder imports it only when
`--events-to kafka://...` is set).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

import orjson

from contract.encoding import MAX_FRAME_BYTES, frame
from contract.events import EVENT_MESSAGES, EVENT_TYPES, PROTO_PACKAGE
from contract.landing_names import Format

TOPIC_PREFIX = f"{PROTO_PACKAGE}."  # bidlake.events.v1.
TOPICS: dict[str, str] = {event_type: TOPIC_PREFIX + event_type for event_type in EVENT_TYPES}
_TYPE_OF_TOPIC = {topic: event_type for event_type, topic in TOPICS.items()}

# Event type -> the fields whose first non-empty value is the message key (see above).
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "bid_request": ("request_id", "event_id"),
    "bid": ("event_id",),  # a bid's event_id is its bid id
    "impression": ("bid_id", "event_id"),
    "click": ("bid_id", "event_id"),
    "conversion": ("bid_id", "event_id"),
}

CONTENT_TYPE = "content-type"
JSON_CONTENT_TYPE = b"application/json"
PROTOBUF_CONTENT_TYPE = b"application/x-protobuf"
# The headers a JSON value carries; a protobuf value carries none (the cheaper default).
JSON_HEADERS: list[tuple[str, bytes]] = [(CONTENT_TYPE, JSON_CONTENT_TYPE)]

# The producer's defaults (docs/scaling.md, "Kafka transport", says what they cost).
PRODUCER_DEFAULTS: dict[str, Any] = {
    "acks": "all",  # acknowledged = written by every in-sync replica
    "enable.idempotence": True,  # retries never duplicate or reorder within a partition
    "partitioner": "murmur2_random",  # the Java client's: same key -> same partition
    "linger.ms": 5,
    "compression.type": "lz4",
    # The in-flight queue, the memory an outage can fill before events go to the spill:
    # whichever bound is reached first.
    "queue.buffering.max.kbytes": 64 * 1024,
    "queue.buffering.max.messages": 200_000,
    # A message not acknowledged within this is reported failed (and spilled): bounds how
    # long an event waits in memory during an outage.
    "message.timeout.ms": 10_000,
    # Python sees only failures: a success costs no callback on the bidder's event loop.
    "delivery.report.only.error": True,
}
CONSUMER_DEFAULTS: dict[str, Any] = {
    "enable.auto.commit": False,  # offsets are committed after the lake commit, by hand
    "enable.auto.offset.store": False,
    "auto.offset.reset": "earliest",
    "enable.partition.eof": True,  # a drain knows when it has caught up
    # How long a broker holds a fetch with nothing new: also how late a drain learns it
    # is at the end (librdkafka's 500 ms default doubled the time of a 50k-event drain).
    "fetch.wait.max.ms": 100,
    "session.timeout.ms": 10_000,
    "isolation.level": "read_committed",
}


def client() -> ModuleType:
    """The `confluent_kafka` module, imported on first use (it loads librdkafka)."""
    import confluent_kafka

    return confluent_kafka


def bootstrap_of(url: str) -> str:
    """`kafka://host:port[,host:port...]` (or a bare bootstrap list) -> `host:port,...`."""
    servers = url.removeprefix("kafka://").strip().rstrip("/")
    hosts = [h.strip() for h in servers.split(",")]
    # No credentials in it (it is printed): SASL settings go to the client's config.
    if not servers or not all(hosts) or any("/" in h or "@" in h or ":" not in h for h in hosts):
        raise ValueError(f"not a Kafka bootstrap list: {url!r} (kafka://HOST:PORT[,HOST:PORT])")
    return ",".join(hosts)


def producer_config(bootstrap: str, **overrides: Any) -> dict[str, Any]:
    return {"bootstrap.servers": bootstrap_of(bootstrap), **PRODUCER_DEFAULTS, **overrides}


def consumer_config(bootstrap: str, group: str, **overrides: Any) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap_of(bootstrap),
        "group.id": group,
        **CONSUMER_DEFAULTS,
        **overrides,
    }


# ---------------------------------------------------------------- topics, keys, values


def topic_of(event_type: str) -> str:
    try:
        return TOPICS[event_type]
    except KeyError:
        raise ValueError(f"unknown event type {event_type!r}") from None


def event_type_of_topic(topic: str) -> str | None:
    """The event type a topic carries, or None for a topic that is not ours."""
    return _TYPE_OF_TOPIC.get(topic)


def key_of(event_type: str, event: Mapping[str, object]) -> bytes:
    """The message key of an event (see the module docstring); b"" when it has no ids."""
    for name in KEY_FIELDS[event_type]:
        value = event.get(name)
        if value:
            return str(value).encode()
    return b""


def encode_value(event_type: str, event: Mapping[str, object], fmt: Format) -> bytes:
    """The message value: the bare protobuf message, or the JSON object (no newline)."""
    if fmt == "protobuf":
        try:
            cls = EVENT_MESSAGES[event_type]
        except KeyError:
            raise ValueError(f"unknown event type {event_type!r}") from None
        value = cls(**event).SerializeToString()
    elif fmt == "jsonl":
        value = orjson.dumps(event)
    else:
        raise ValueError(f"unknown value format {fmt!r}: jsonl or protobuf")
    if len(value) > MAX_FRAME_BYTES:
        raise ValueError(f"event of {len(value)} bytes: over the {MAX_FRAME_BYTES} cap")
    return value


def headers_for(fmt: Format) -> list[tuple[str, bytes]] | None:
    return JSON_HEADERS if fmt == "jsonl" else None


def value_format(headers: list[tuple[str, bytes | None]] | None) -> Format | None:
    """The format of a message's value by its headers; None for a content type not ours."""
    for name, value in headers or ():
        if name.lower() == CONTENT_TYPE:
            kind = (value or b"").split(b";")[0].strip().lower()
            if kind == JSON_CONTENT_TYPE:
                return "jsonl"
            if kind == PROTOBUF_CONTENT_TYPE:
                return "protobuf"
            return None
    return "protobuf"


def encode(event_type: str, event: Mapping[str, object], fmt: Format) -> tuple[str, bytes, bytes]:
    """(topic, key, value) of one event."""
    return topic_of(event_type), key_of(event_type, event), encode_value(event_type, event, fmt)


# ---------------------------------------------------------------- spill records

_SPILL_TYPES = {"protobuf": b"", "jsonl": JSON_CONTENT_TYPE}


def spill_record(topic: str, key: bytes, value: bytes, fmt: Format) -> bytes:
    """One undelivered message as four length-delimited frames: topic, key, type, value."""
    return (
        frame(topic.encode()) + frame(key or b"") + frame(_SPILL_TYPES[fmt]) + frame(value or b"")
    )


def _read_varint(data: bytes, pos: int) -> tuple[int, int] | None:
    value, shift = 0, 0
    while pos < len(data) and shift <= 63:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None


def read_spill(data: bytes) -> tuple[list[tuple[str, bytes, bytes, Format]], int]:
    """The complete records of spill bytes, as (topic, key, value, format), and where they
    end: a record cut short by a crash (or a damaged one) ends the list there."""
    records: list[tuple[str, bytes, bytes, Format]] = []
    pos, end = 0, len(data)
    while pos < end:
        parts: list[bytes] = []
        cursor = pos
        for _ in range(4):
            got = _read_varint(data, cursor)
            if got is None or got[0] > MAX_FRAME_BYTES or got[1] + got[0] > end:
                return records, pos
            length, cursor = got
            parts.append(data[cursor : cursor + length])
            cursor += length
        topic, key, kind, value = parts
        fmt: Format = "jsonl" if kind == JSON_CONTENT_TYPE else "protobuf"
        try:
            records.append((topic.decode(), key, value, fmt))
        except UnicodeDecodeError:
            return records, pos
        pos = cursor
    return records, pos
