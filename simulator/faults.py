"""What goes wrong in real tracking logs: duplicated events and garbage records.

Duplicates (`--duplicate-rate F`): each event is written a second time with probability
F, identical in every field (a retried win notice, click or postback; a log shipper that
re-sends after a timeout), a few records later in the same file.

Garbage (`--corrupt-rate F`): for n valid events of a type in a minute, Binomial(n, F)
garbage records are written at random positions through `TrackingLogWriter.
write_garbage`, so garbage / valid ≈ F per type. Every garbage record is checked to be
rejected by the contract's parser (`json_format.Parse` for jsonl, `FromString` for
protobuf), so ingest can tell each of them from data — and the tests can count them.

- jsonl: `truncated` (a valid line cut short: a crash mid-write), `wrong_type` (a
  field with a value of another JSON type), `unknown_field` (a field the contract does
  not have), `wrong_event_type` (an event of another type in this type's file) and
  `not_json` (an HTML error page a proxy logged);
- protobuf: `truncated` (a message cut inside a field), `bad_tag` (field number 0),
  `bad_utf8` (a string field that is not UTF-8). Protobuf accepts unknown fields and
  many type mix-ups by design (they parse as unknown fields), so those are not garbage
  there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from contract.events import EVENT_MESSAGES, EVENT_TYPES, columns

JSONL_KINDS = ("truncated", "wrong_type", "unknown_field", "wrong_event_type", "not_json")
PROTOBUF_KINDS = ("truncated", "bad_tag", "bad_utf8")
RETRY_WINDOW = 50  # a duplicate lands within this many records after its original
_WRONG_VALUES: tuple[object, ...] = ("yesterday", 1.5, True, [1, 2], {"a": 1}, None)


@dataclass(frozen=True)
class Plan:
    """The records to write, in order: an int i is events[i], bytes are a garbage record."""

    order: list[int | bytes]
    duplicates: int
    garbage: int


def _rejected_json(event_type: str, payload: bytes) -> bool:
    try:
        json_format.Parse(payload, EVENT_MESSAGES[event_type]())
    except (json_format.ParseError, ValueError, TypeError):
        return True
    return False


def _rejected_protobuf(event_type: str, payload: bytes) -> bool:
    try:
        EVENT_MESSAGES[event_type].FromString(payload)
    except DecodeError:
        return True
    return False


def _other_type_event(rng: np.random.Generator, event_type: str) -> bytes:
    """A valid event of another type that has a field `event_type` lacks."""
    own = {c.name for c in columns(event_type)}
    others = [t for t in EVENT_TYPES if {c.name for c in columns(t)} - own]
    other = others[int(rng.integers(len(others)))]
    event: dict[str, object] = {}
    for column in columns(other):
        if column.repeated:
            event[column.name] = ["x"]
        elif column.vocabulary:
            event[column.name] = sorted(column.vocabulary - {""})[0]
        elif column.python_type is str:
            event[column.name] = f"{column.name}-1"
        else:
            event[column.name] = column.python_type(1)
    return orjson.dumps(event)


def garbage_jsonl(rng: np.random.Generator, event_type: str, event: Mapping[str, object]) -> bytes:
    """One garbage line derived from a valid `event`; always rejected by the parser."""
    kind = JSONL_KINDS[int(rng.integers(len(JSONL_KINDS)))]
    line = orjson.dumps(event)
    if kind == "wrong_type":
        name = sorted(event)[int(rng.integers(len(event)))]
        wrong = _WRONG_VALUES[int(rng.integers(len(_WRONG_VALUES)))]
        payload = orjson.dumps({**event, name: wrong})
        if _rejected_json(event_type, payload):  # e.g. 1.5 for a double field is valid
            return payload
        kind = "truncated"
    if kind == "unknown_field":
        return orjson.dumps({**event, "campaign_budget_left": 12})
    if kind == "wrong_event_type":
        return _other_type_event(rng, event_type)
    if kind == "not_json":
        return b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    # truncated: any proper prefix of a JSON object lacks its closing brace.
    return line[: int(rng.integers(1, len(line)))]


def garbage_protobuf(rng: np.random.Generator, event_type: str, message: Message) -> bytes:
    """One garbage frame derived from a valid message; always rejected by the parser."""
    body = message.SerializeToString()
    kind = PROTOBUF_KINDS[int(rng.integers(len(PROTOBUF_KINDS)))]
    if kind == "truncated" and len(body) > 2:
        cut = body[: int(rng.integers(1, len(body)))]
        if _rejected_protobuf(event_type, cut):  # a cut at a field boundary still parses
            return cut
    if kind == "bad_utf8":
        return b"\x0a\x04\xff\xfe\xfd\xfc" + body  # field 1 (event_id), invalid UTF-8
    return b"\x00" + body  # tag with field number 0


def plan(
    rng: np.random.Generator,
    event_type: str,
    events: Sequence[Mapping[str, object]],
    fmt: str,
    duplicate_rate: float,
    corrupt_rate: float,
) -> Plan:
    """Where duplicates and garbage go among `events` (draws in a fixed order)."""
    n = len(events)
    dup_mask = rng.random(n) < duplicate_rate if duplicate_rate > 0 else np.zeros(n, bool)
    dups = np.flatnonzero(dup_mask)
    dup_keys = np.minimum(dups + rng.integers(1, RETRY_WINDOW + 1, len(dups)), n) - 0.5
    n_garbage = int(rng.binomial(n, corrupt_rate)) if corrupt_rate > 0 and n else 0
    garbage_keys = rng.random(n_garbage) * n - 0.25
    sources = rng.integers(0, max(n, 1), n_garbage)
    keys = np.concatenate([np.arange(n, dtype=float), dup_keys, garbage_keys])
    items: list[int | bytes] = list(range(n))
    items += dups.tolist()
    for source in sources.tolist():
        event = events[source]
        if fmt == "jsonl":
            payload = garbage_jsonl(rng, event_type, event)
        else:
            payload = garbage_protobuf(rng, event_type, EVENT_MESSAGES[event_type](**event))
        items.append(payload)
    order = np.argsort(keys, kind="stable")
    return Plan([items[i] for i in order.tolist()], len(dups), n_garbage)
