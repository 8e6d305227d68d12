"""The event contract in Python: event types, their columns and vocabularies.

Everything here is derived from `events.proto` (through the generated `events_pb2`), so
the contract is written once. Readers, the simulator, the bidder's log writer and the dbt
sources all take their column lists from here. Nothing here imports pyarrow: the lake's
Arrow and Parquet schemas live where the lake is written (`ingest.lake_schema`), and the
bidder, which imports this module, never pays for pyarrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from contract import events_pb2

CONTRACT_VERSION = "v1"
PROTO_PACKAGE = "bidlake.events.v1"

# Event type name (the lake folder and the log file prefix) -> generated message class.
# The order is the order of the chain: request -> bid -> impression -> click -> conversion.
EVENT_MESSAGES: dict[str, type[Message]] = {
    "bid_request": events_pb2.BidRequest,
    "bid": events_pb2.Bid,
    "impression": events_pb2.Impression,
    "click": events_pb2.Click,
    "conversion": events_pb2.Conversion,
}
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_MESSAGES)

_PYTHON_TYPES = {
    FieldDescriptor.TYPE_STRING: str,
    FieldDescriptor.TYPE_INT64: int,
    FieldDescriptor.TYPE_INT32: int,
    FieldDescriptor.TYPE_DOUBLE: float,
    FieldDescriptor.TYPE_BOOL: bool,
}


@dataclass(frozen=True)
class Column:
    """One field of an event, as a lake column."""

    name: str
    number: int
    proto_type: int  # FieldDescriptor.TYPE_*
    repeated: bool
    vocabulary: frozenset[str] | None  # allowed values of a categorical string field

    @property
    def python_type(self) -> type:
        return _PYTHON_TYPES[self.proto_type]

    @property
    def is_64bit(self) -> bool:
        return self.proto_type == FieldDescriptor.TYPE_INT64


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _enum_values(enum: EnumDescriptor) -> frozenset[str]:
    # DEVICE_TYPE_PHONE -> "phone"; the *_UNSPECIFIED zero value is "" (proto3's default).
    prefix = _snake_upper(enum.name) + "_"
    values = {"" if v.number == 0 else v.name.removeprefix(prefix).lower() for v in enum.values}
    return frozenset(values)


def _snake_upper(camel: str) -> str:
    out = []
    for i, ch in enumerate(camel):
        if ch.isupper() and i > 0:
            out.append("_")
        out.append(ch.upper())
    return "".join(out)


@cache
def vocabularies() -> dict[str, frozenset[str]]:
    """Field name -> allowed values, for every field named after a vocabulary enum."""
    enums = events_pb2.DESCRIPTOR.enum_types_by_name
    return {
        field: _enum_values(enums[_camel(field)])
        for field in {f.name for m in EVENT_MESSAGES.values() for f in m.DESCRIPTOR.fields}
        if _camel(field) in enums
    }


@cache
def columns(event_type: str) -> tuple[Column, ...]:
    """The columns of an event type, in field-number order."""
    vocab = vocabularies()
    descriptor: Descriptor = EVENT_MESSAGES[event_type].DESCRIPTOR  # type: ignore[assignment]
    fields: list[FieldDescriptor] = list(descriptor.fields)
    return tuple(
        Column(
            name=f.name,
            number=f.number,
            proto_type=f.type,
            repeated=f.is_repeated,
            vocabulary=vocab.get(f.name),
        )
        for f in sorted(fields, key=lambda f: f.number)
    )


def event_type_of(message: Message) -> str:
    for name, cls in EVENT_MESSAGES.items():
        if isinstance(message, cls):
            return name
    raise TypeError(f"not a bidlake event message: {type(message).__name__}")
