"""The two wire forms of an event: a JSON line, and a length-delimited protobuf frame.

- JSON: one proto3-JSON object per line, snake_case names as in `events.proto`,
  `event_time` in epoch milliseconds. Human-readable; what the platform started with.
- protobuf: each message prefixed by its length as a base-128 varint (protobuf's delimited
  framing, Java's `writeDelimitedTo`); the event type is given by where the bytes are (the
  landing folder, or a Kafka topic), never inside the frame.

The log writer, the simulator and (later) any other transport encode with these; ingest's
decoders read them back.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping

import orjson

from contract.events import EVENT_MESSAGES

# A frame longer than this is refused by readers: no event comes near it (a bid request
# is ~340 B of protobuf), and a corrupt length prefix must not make a reader allocate
# gigabytes. Readers check the prefix against it before reading or buffering the body;
# writers refuse to produce what readers would refuse.
MAX_FRAME_BYTES = 1 << 20
# The same cap for a JSON line (without its newline; a bid request is ~700 B).
MAX_LINE_BYTES = MAX_FRAME_BYTES


def json_line(event: Mapping[str, object]) -> bytes:
    """One event in the JSON form, newline-terminated."""
    line = orjson.dumps(event)
    if len(line) > MAX_LINE_BYTES:
        raise ValueError(f"event of {len(line)} bytes of JSON: over the {MAX_LINE_BYTES} cap")
    return line + b"\n"


def varint(value: int) -> bytes:
    """`value` (>= 0) as a base-128 varint, least significant group first."""
    if value < 0:
        raise ValueError(f"varint of a negative number: {value}")
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def frame(payload: bytes) -> bytes:
    """`payload` prefixed by its length (the delimited framing)."""
    if len(payload) > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {len(payload)} bytes: over the {MAX_FRAME_BYTES} cap")
    return varint(len(payload)) + payload


def protobuf_frame(event_type: str, event: Mapping[str, object]) -> bytes:
    """One event as a length-delimited protobuf message of its type."""
    try:
        cls = EVENT_MESSAGES[event_type]
    except KeyError:
        raise ValueError(f"unknown event type {event_type!r}") from None
    return frame(cls(**event).SerializeToString())


def read_varint_frames(data: bytes | io.BufferedIOBase) -> Iterable[tuple[int, bytes]]:
    """Yield (offset, message bytes) of a length-delimited stream.

    Raises ValueError on truncation and on a frame announced longer than MAX_FRAME_BYTES.
    """
    buffer = data if isinstance(data, bytes) else data.read()
    pos, end = 0, len(buffer)
    while pos < end:
        start, shift, length = pos, 0, 0
        while True:
            if pos >= end:
                raise ValueError(f"truncated length prefix at byte {start}")
            byte = buffer[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > 63:
                raise ValueError(f"malformed length prefix at byte {start}")
        if length > MAX_FRAME_BYTES:
            raise ValueError(f"frame at byte {start} announces {length} bytes: over the cap")
        if pos + length > end:
            raise ValueError(f"truncated message at byte {start}: {length} bytes announced")
        yield start, buffer[pos : pos + length]
        pos += length
