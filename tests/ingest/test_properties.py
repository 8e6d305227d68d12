"""Property-based tests of every ingest decoder: JSONL, protobuf framing and messages, gzip.

Inputs are arbitrary bytes, and structured near-valid records (contract events, then
mutated: a key dropped or unknown, a wrong type, a number out of range, bytes flipped or
cut). Whatever they are, and wherever the blocks and chunks are cut, decoding never
crashes, accounts for every record, gives the same answer, and its valid rows round-trip
through the contract's encoders (`tests/ingest/invariants.py`). Example counts are kept
modest (the whole file runs in well under a minute).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

import orjson
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidlake.paths import Home
from contract import events as contract
from contract.encoding import json_line, protobuf_frame, varint
from ingest.decoded import default_of
from ingest.errors import ErrorCode
from ingest.pipeline import ingest
from ingest.rules import BOUNDED, NON_NEGATIVE, UNIT_INTERVAL, file_window, required_keys
from ingest.sources import RawStream, describe
from tests.ingest.factories import HOUR, T0, lake_table, quarantine_table
from tests.ingest.invariants import (
    check_jsonl,
    check_protobuf,
    check_round_trip,
    decode_jsonl,
    decode_protobuf,
    split,
)

# BIDLAKE_HYPOTHESIS_EXAMPLES=2000 for a longer hunt than the suite's.
EXAMPLES = int(os.environ.get("BIDLAKE_HYPOTHESIS_EXAMPLES", "150"))
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(
    max_examples=max(EXAMPLES // 8, 20),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
FILE_HOUR = T0 // HOUR
INT_RANGE = {
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
}

event_types = st.sampled_from(contract.EVENT_TYPES)
JSON_BITS = [b"{", b"}", b"\n", b'"', b"1", b" ", b"\xff", b'{"event_id":"a"}', b",", b":"]
block_sizes = st.lists(st.integers(0, 97), min_size=1, max_size=5).filter(any)
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


# ---------------------------------------------------------------- valid events


def _value(column: contract.Column, event_type: str) -> st.SearchStrategy[object]:
    name, kind = column.name, column.proto_type
    if column.repeated:
        return st.lists(text, max_size=3)
    if name == "event_time":
        window = file_window(event_type, FILE_HOUR)
        assert window is not None
        return st.integers(window.start_ms, window.end_ms - 1)
    if kind == FieldDescriptor.TYPE_STRING:
        if column.vocabulary is not None:
            return st.sampled_from(sorted(column.vocabulary))
        return text.filter(bool) if name in required_keys(event_type) else text
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_DOUBLE:
        if name in UNIT_INTERVAL:
            return st.floats(0.0, 1.0)
        low = 0.0 if name in NON_NEGATIVE or name.endswith("_micros") else None
        return st.floats(low, None, allow_nan=False, allow_infinity=False)
    low, high = INT_RANGE[kind]
    if name in BOUNDED:
        low, high = BOUNDED[name]
    elif name in NON_NEGATIVE or name.endswith("_micros"):
        low = 0
    return st.integers(low, high)


@st.composite
def valid_events(draw: st.DrawFn, event_type: str) -> dict[str, object]:
    """A contract event that passes every rule (optional fields may be left out)."""
    out: dict[str, object] = {}
    for column in contract.columns(event_type):
        required = column.name in required_keys(event_type) or column.name == "event_time"
        if required or draw(st.booleans()):
            out[column.name] = draw(_value(column, event_type))
    return out


def full_row(event_type: str, event: dict[str, object]) -> dict[str, object]:
    return {c.name: event.get(c.name, default_of(c)) for c in contract.columns(event_type)}


def as_json(event: dict[str, object]) -> bytes:
    """One event as a JSON line's text (without the newline), mutated values included."""
    try:
        return orjson.dumps(event)
    except TypeError:  # an integer beyond 64 bits: the standard library writes it
        return json.dumps(event).encode()


@st.composite
def near_valid(draw: st.DrawFn, event_type: str) -> tuple[dict[str, object], str]:
    """A valid event, then maybe one mutation; returns it and what was done to it."""
    event = draw(valid_events(event_type))
    names = [c.name for c in contract.columns(event_type)]
    how = draw(
        st.sampled_from(
            ["none", "none", "drop", "unknown", "wrong_type", "huge", "time", "empty_key"]
        )
    )
    if how == "drop":
        event.pop(draw(st.sampled_from(sorted(event))), None)
    elif how == "unknown":
        event[draw(st.sampled_from(["referrer", "x", "Event_Id"]))] = draw(st.integers(0, 9))
    elif how == "wrong_type":
        event[draw(st.sampled_from(names))] = draw(
            st.one_of(
                st.booleans(),
                st.floats(allow_nan=False, allow_infinity=False),
                st.lists(st.integers(-9, 9), max_size=2),
            )
        )
    elif how == "huge":
        event[draw(st.sampled_from(names))] = draw(st.sampled_from([2**63, -(2**63) - 1, 2**31]))
    elif how == "time":
        event["event_time"] = draw(
            st.sampled_from([0, 1_767_571_200, T0 * 1000, T0 - 30 * 24 * HOUR, T0 + 3 * HOUR])
        )
    elif how == "empty_key":
        event[draw(st.sampled_from(required_keys(event_type)))] = ""
    return event, how


def _bytes_mutation(draw: st.DrawFn, record: bytes) -> bytes:
    how = draw(st.sampled_from(["keep", "keep", "keep", "cut", "flip", "insert"]))
    if how == "keep" or not record:
        return record
    at = draw(st.integers(0, len(record) - 1))
    if how == "cut":
        return record[:at]
    if how == "flip":
        return record[:at] + bytes([record[at] ^ draw(st.integers(1, 255))]) + record[at + 1 :]
    return record[:at] + draw(st.binary(min_size=1, max_size=3)) + record[at:]


# ---------------------------------------------------------------- JSONL


@FAST
@given(
    event_types,
    st.one_of(
        st.binary(max_size=600),
        st.lists(st.sampled_from(JSON_BITS), max_size=80).map(b"".join),
    ),
    block_sizes,
    st.integers(1, 700),
    st.integers(1, 40),
    st.sampled_from([4, 64, 1 << 20]),
)
def test_jsonl_arbitrary_bytes_never_crash_and_are_all_accounted_for(
    event_type: str, data: bytes, sizes: list[int], chunk: int, lines: int, max_line: int
) -> None:
    window = file_window(event_type, FILE_HOUR)
    got = decode_jsonl(event_type, split(data, sizes), window, chunk, lines, max_line)
    check_jsonl(event_type, data, got, max_line)
    whole = decode_jsonl(event_type, iter([data]), window, max_line=max_line)
    assert got.key() == whole.key()  # block and chunk boundaries change nothing
    check_round_trip(event_type, got.valid.to_pylist())


@FAST
@given(st.data(), event_types, block_sizes, st.integers(1, 4000), st.integers(1, 7))
def test_jsonl_near_valid_records_are_accounted_for_and_valid_ones_round_trip(
    data: st.DataObject, event_type: str, sizes: list[int], chunk: int, lines: int
) -> None:
    records = data.draw(st.lists(near_valid(event_type), max_size=12))
    encoded = [_bytes_mutation(data.draw, as_json(e)) for e, _ in records]
    body = b"".join(line + b"\n" for line in encoded)
    window = file_window(event_type, FILE_HOUR)
    got = decode_jsonl(event_type, split(body, sizes), window, chunk, lines)
    check_jsonl(event_type, body, got)
    valid = got.valid.to_pylist()
    check_round_trip(event_type, valid)
    # Every event that was left alone is in the lake, as the contract says it reads.
    untouched = [
        full_row(event_type, e)
        for (e, how), line in zip(records, encoded, strict=True)
        if how == "none" and line == as_json(e)
    ]
    remaining = list(valid)
    for row in untouched:
        assert row in remaining
        remaining.remove(row)


@FAST
@given(event_types, st.data())
def test_valid_events_decode_the_same_from_json_and_protobuf(
    event_type: str, data: st.DataObject
) -> None:
    events = data.draw(st.lists(valid_events(event_type), max_size=8))
    expected = [full_row(event_type, e) for e in events]
    window = file_window(event_type, FILE_HOUR)
    as_json = decode_jsonl(event_type, iter([b"".join(json_line(e) for e in events)]), window)
    as_pb = decode_protobuf(
        event_type, iter([b"".join(protobuf_frame(event_type, e) for e in events)]), window
    )
    for got in (as_json, as_pb):
        assert got.error is None and got.rejects == []
        assert got.valid.to_pylist() == expected


# ---------------------------------------------------------------- protobuf


@FAST
@given(
    event_types,
    st.binary(max_size=600),
    block_sizes,
    st.integers(1, 40),
    st.sampled_from([3, 100, 1 << 20]),
)
def test_protobuf_arbitrary_bytes_never_crash_and_are_all_accounted_for(
    event_type: str, data: bytes, sizes: list[int], chunk: int, max_frame: int
) -> None:
    window = file_window(event_type, FILE_HOUR)
    got = decode_protobuf(event_type, split(data, sizes), window, chunk, max_frame)
    check_protobuf(event_type, data, got, max_frame)
    whole = decode_protobuf(event_type, iter([data]), window, max_frame=max_frame)
    assert got.key() == whole.key()
    check_round_trip(event_type, got.valid.to_pylist())


@st.composite
def framed_bodies(draw: st.DrawFn, event_type: str) -> tuple[bytes, int]:
    """Frames of valid messages, mutated bodies and raw garbage; and how many are intact."""
    frames, intact = [], 0
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from(["valid", "valid", "mutated", "garbage", "extra_field"]))
        if kind == "garbage":
            body = draw(st.binary(max_size=40))
        else:
            event = draw(valid_events(event_type))
            body = contract.EVENT_MESSAGES[event_type](**event).SerializeToString()
            if kind == "mutated":
                body = _bytes_mutation(draw, body)
            elif kind == "extra_field":
                body += bytes([draw(st.sampled_from([0xF8, 0x9A, 0x0B]))]) + b"\x01\x01"
            else:
                intact += 1
        frames.append(varint(len(body)) + body)
    tail = draw(st.sampled_from([b"", b"", b"\x05ab", b"\x80"]))
    return b"".join(frames) + tail, intact


@FAST
@given(st.data(), event_types, block_sizes, st.integers(1, 7))
def test_protobuf_near_valid_frames_are_accounted_for_and_valid_ones_round_trip(
    data: st.DataObject, event_type: str, sizes: list[int], chunk: int
) -> None:
    body, intact = data.draw(framed_bodies(event_type))
    window = file_window(event_type, FILE_HOUR)
    got = decode_protobuf(event_type, split(body, sizes), window, chunk)
    check_protobuf(event_type, body, got)
    assert got.valid.num_rows >= intact
    check_round_trip(event_type, got.valid.to_pylist())


# ---------------------------------------------------------------- gzip


def _stream(stored: bytes, block: int, decoded_block: int) -> tuple[list[bytes], RawStream]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "click" / "w-20260105T00-000000.jsonl.gz"
        path.parent.mkdir()
        path.write_bytes(stored)
        stream = RawStream(describe(path), block_size=block, decoded_block=decoded_block)
        return list(stream.blocks()), stream


@FAST
@given(
    st.lists(st.binary(max_size=3000), min_size=1, max_size=3),
    st.sampled_from(["intact", "cut", "garbage", "flip"]),
    st.data(),
    st.integers(1, 300),
    st.integers(1, 500),
)
def test_gzip_streams_inflate_in_bounded_steps_and_never_crash(
    members: list[bytes], damage: str, data: st.DataObject, block: int, decoded_block: int
) -> None:
    stored = b"".join(gzip.compress(m, compresslevel=data.draw(st.integers(0, 9))) for m in members)
    whole = b"".join(members)
    if damage == "cut":
        stored = stored[: data.draw(st.integers(0, len(stored) - 1))]
    elif damage == "garbage":
        stored += data.draw(st.binary(min_size=1, max_size=20))
    elif damage == "flip":
        at = data.draw(st.integers(0, len(stored) - 1))
        stored = stored[:at] + bytes([stored[at] ^ 0x55]) + stored[at + 1 :]
    blocks, stream = _stream(stored, block, decoded_block)
    out = b"".join(blocks)
    assert all(0 < len(b) <= decoded_block for b in blocks)
    assert stream.sha256 == hashlib.sha256(stored).hexdigest()
    assert stream.stored_bytes == len(stored) and stream.decoded_bytes == len(out)
    if damage == "intact":
        assert out == whole and stream.fault is None
    elif damage == "cut":
        assert whole.startswith(out)
    if stream.fault is not None:
        assert stream.fault.code in (ErrorCode.TRUNCATED_RECORD, ErrorCode.CORRUPT_STREAM)
        assert stored.endswith(stream.fault.payload)


@FAST
@given(st.binary(max_size=400), st.integers(1, 64), st.integers(1, 64))
def test_gzip_of_arbitrary_bytes_never_crashes(
    stored: bytes, block: int, decoded_block: int
) -> None:
    blocks, stream = _stream(b"\x1f\x8b" + stored, block, decoded_block)
    assert stream.sha256 == hashlib.sha256(b"\x1f\x8b" + stored).hexdigest()
    assert all(0 < len(b) <= decoded_block for b in blocks)


def test_a_gzip_bomb_inflates_in_bounded_steps() -> None:
    stored = gzip.compress(b"\n" * (32 << 20), 9)  # 32 KB that inflate to 32 MB
    blocks, stream = _stream(stored, 1 << 20, 1 << 20)
    assert len(stored) < 64 << 10
    assert len(blocks) == 32 and all(len(b) == 1 << 20 for b in blocks)
    assert stream.fault is None


# ---------------------------------------------------------------- the whole pipeline


@SLOW
@given(
    st.data(),
    st.lists(st.tuples(event_types, st.booleans(), st.booleans()), min_size=1, max_size=3),
)
def test_ingest_of_near_valid_files_accounts_for_everything_it_stores(
    data: st.DataObject, files: list[tuple[str, bool, bool]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        landing = Path(tmp) / "landing"
        for k, (event_type, protobuf, compress) in enumerate(files):
            records = data.draw(st.lists(near_valid(event_type), max_size=6))
            if protobuf:
                parts = []
                for event, _ in records:
                    try:
                        with warnings.catch_warnings():  # upb: a bool for an int, deprecated
                            warnings.simplefilter("ignore", DeprecationWarning)
                            parts.append(protobuf_frame(event_type, event))
                    except (TypeError, ValueError, OverflowError):
                        parts.append(varint(3) + b"\xff\xff\xff")  # not encodable: garbage
                body = b"".join(parts)
            else:
                body = b"".join(as_json(e) + b"\n" for e, _ in records)
            ext = ("pb" if protobuf else "jsonl") + (".gz" if compress else "")
            path = landing / event_type / f"w{k}-20260105T00-000000.{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(gzip.compress(body) if compress else body)
        report = ingest(landing, home)
        assert report.accounted and report.exit_code == 0
        totals = report.totals()
        assert totals["records"] == totals["raw"] + totals["quarantined"] + totals["duplicates"]
        stored = sum(lake_table(home, t).num_rows for t in contract.EVENT_TYPES)
        assert stored == totals["raw"]
        q = quarantine_table(Home(home))
        whole = [s for s in report.sources if s.status == "file_quarantined"]
        assert q.num_rows == totals["quarantined"] + len(whole)
        assert ingest(landing, home).commits == []  # a second run changes nothing
