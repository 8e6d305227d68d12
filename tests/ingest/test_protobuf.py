from __future__ import annotations

import random

import pyarrow as pa
import pytest
from google.protobuf.internal.encoder import _VarintBytes

from contract import events as contract
from ingest.errors import ErrorCode, RecordError
from ingest.protobuf import ProtobufDecoder, decode_message, frame_jobs
from tests.ingest.factories import event


def message_bytes(event_type: str, **fields: object) -> bytes:
    return contract.EVENT_MESSAGES[event_type](**fields).SerializeToString()


def framed(bodies: list[bytes]) -> bytes:
    return b"".join(_VarintBytes(len(b)) + b for b in bodies)


def decode_all(event_type: str, data: bytes, chunk: int = 1 << 16, block: int = 1 << 20):
    decoder = ProtobufDecoder(event_type, contract.columns(event_type))
    blocks = iter([data[i : i + block] for i in range(0, len(data), block)])
    tables, rejects = [], []
    for job in frame_jobs(blocks, chunk_messages=chunk):
        checked = decoder.decode(job)
        assert checked.records == checked.valid.num_rows + len(checked.rejects)
        tables.append(checked.valid)
        rejects += checked.rejects
    return pa.concat_tables(tables), rejects


def upb_row(event_type: str, body: bytes) -> dict[str, object]:
    message = contract.EVENT_MESSAGES[event_type].FromString(body)
    return {
        c.name: list(getattr(message, c.name)) if c.repeated else getattr(message, c.name)
        for c in contract.columns(event_type)
    }


@pytest.mark.parametrize("event_type", contract.EVENT_TYPES)
def test_vectorized_decoder_agrees_with_upb_and_the_slow_path(event_type: str) -> None:
    rng = random.Random(7)
    bodies = []
    for i in range(300):
        e = event(event_type, i)
        # Leave some fields at their default (absent on the wire), vary list lengths.
        for key in list(e):
            if key not in ("event_id", "event_time") and rng.random() < 0.2:
                del e[key]
        if "user_segments" in e:
            e["user_segments"] = [f"s{k}" for k in range(rng.randint(0, 4))]
        if "bidfloor_micros" in e and i % 5 == 0:
            e["bidfloor_micros"] = 2**40 + i  # multi-byte varints
        if "ad_width" in e and i % 7 == 0:
            e["ad_width"] = -3  # a 10-byte varint for an int32
        bodies.append(message_bytes(event_type, **e))
    table, _ = decode_all(event_type, framed(bodies), chunk=64, block=997)
    columns = contract.columns(event_type)
    by_number = {c.number: c for c in columns}
    rows = table.to_pylist()
    valid_bodies = [
        b for b in bodies if not isinstance(decode_message(b, columns, by_number), RecordError)
    ]
    kept = [upb_row(event_type, b) for b in valid_bodies]
    checked_by_rules = {r["event_id"] for r in rows}
    assert [r for r in kept if r["event_id"] in checked_by_rules] == rows
    for body in bodies[:50]:
        assert decode_message(body, columns, by_number) == upb_row(event_type, body)


def test_each_wire_problem_gets_its_code() -> None:
    good = message_bytes("click", **event("click", 1))
    cases = {
        b"\x00" + good: ErrorCode.MALFORMED_PROTOBUF,  # field number 0
        good[: len(good) // 2]: ErrorCode.MALFORMED_PROTOBUF,  # cut inside a field
        b"\x0a\x04\xff\xfe\xfd\xfc" + good: ErrorCode.INVALID_UTF8,
        good + b"\xa0\x06\x01": ErrorCode.UNKNOWN_FIELD,  # field 100, varint
        good + b"\x11" + b"\x00" * 8: ErrorCode.WRONG_TYPE,  # event_time as fixed64
        good + b"\x0f": ErrorCode.MALFORMED_PROTOBUF,  # wire type 7
        good + b"\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01": ErrorCode.MALFORMED_PROTOBUF,
    }
    bodies = [good, *cases]
    table, rejects = decode_all("click", framed(bodies))
    assert table.num_rows == 1
    assert [r.code for r in rejects] == list(cases.values())
    assert [r.record for r in rejects] == list(range(2, len(bodies) + 1))
    columns = contract.columns("click")
    by_number = {c.number: c for c in columns}
    for body, code in cases.items():
        got = decode_message(body, columns, by_number)
        assert isinstance(got, RecordError) and got.code is code


def test_a_singular_field_twice_keeps_the_last_like_upb() -> None:
    first = message_bytes("click", **event("click", 1))
    body = first + message_bytes("click", campaign_id="cmp-202")
    table, rejects = decode_all("click", framed([body]))
    assert not rejects
    assert (
        table["campaign_id"].to_pylist() == ["cmp-202"] == [upb_row("click", body)["campaign_id"]]
    )


def test_empty_message_is_decoded_then_refused_by_the_rules() -> None:
    table, rejects = decode_all("click", framed([b""]))
    assert table.num_rows == 0
    assert rejects[0].code is ErrorCode.MISSING_REQUIRED


def test_a_cut_off_last_frame_is_a_truncated_record_with_its_offset() -> None:
    bodies = [message_bytes("click", **event("click", i)) for i in range(3)]
    data = framed(bodies)
    cut = data[:-5]
    table, rejects = decode_all("click", cut, block=7)
    assert table.num_rows == 2
    (reject,) = rejects
    assert reject.code is ErrorCode.TRUNCATED_RECORD
    assert reject.record == 3
    assert reject.offset == len(framed(bodies[:2]))
    assert reject.payload == cut[reject.offset :]


def test_offsets_point_at_the_length_prefix_of_each_rejected_frame() -> None:
    bodies = [message_bytes("click", **event("click", i)) for i in range(20)]
    bodies[13] = b"\x00garbage"
    data = framed(bodies)
    _, rejects = decode_all("click", data, chunk=4)
    (reject,) = rejects
    assert reject.record == 14
    assert data[reject.offset :].startswith(_VarintBytes(len(bodies[13])) + bodies[13])
