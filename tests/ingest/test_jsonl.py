from __future__ import annotations

import orjson
import pyarrow as pa
import pytest

from contract import events as contract
from ingest.decoded import rows_to_table
from ingest.errors import ErrorCode, RecordError
from ingest.jsonl import Job, JsonlDecoder, decode_line
from ingest.lake_schema import arrow_schema
from tests.ingest.factories import event

COLUMNS = contract.columns("bid_request")
BY_NAME = {c.name: c for c in COLUMNS}


def line(**override: object) -> bytes:
    return orjson.dumps(event("bid_request", 1, **override))


def decode_chunk(lines: list[bytes], chunk_bytes: int = 1 << 20) -> tuple[pa.Table, list]:
    data = b"".join(x + b"\n" for x in lines)
    decoder = JsonlDecoder("bid_request", COLUMNS)
    tables, rejects = [], []
    for job in decoder.jobs(iter([data]), chunk_bytes=chunk_bytes):
        checked = decoder.decode(job)
        assert checked.records == checked.valid.num_rows + len(checked.rejects)
        tables.append(checked.valid)
        rejects += checked.rejects
    return pa.concat_tables(tables), rejects


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        (b"", ErrorCode.MALFORMED_JSON, ""),
        (b"<html>502 Bad Gateway</html>", ErrorCode.MALFORMED_JSON, ""),
        (b'{"event_id": "a", "event_id": "b"}', ErrorCode.MALFORMED_JSON, "event_id"),
        (b'{"event_id": "a", "event_time": NaN}', ErrorCode.MALFORMED_JSON, ""),
        (b"[1, 2]", ErrorCode.NOT_AN_OBJECT, ""),
        (b'{"event_id": "\xff\xfe"}', ErrorCode.INVALID_UTF8, ""),
        (b'{"event_id": "\\ud800"}', ErrorCode.INVALID_UTF8, "event_id"),
        (b'{"event_id": "a", "campaign_budget_left": 12}', ErrorCode.UNKNOWN_FIELD, ""),
        (b'{"event_id": 5}', ErrorCode.WRONG_TYPE, "event_id"),
        (b'{"ad_width": 1.5}', ErrorCode.WRONG_TYPE, "ad_width"),
        (b'{"ad_width": true}', ErrorCode.WRONG_TYPE, "ad_width"),
        (b'{"bidfloor_micros": "12x"}', ErrorCode.WRONG_TYPE, "bidfloor_micros"),
        (b'{"user_segments": "a"}', ErrorCode.WRONG_TYPE, "user_segments"),
        (b'{"user_segments": ["a", null]}', ErrorCode.WRONG_TYPE, "user_segments"),
        (b'{"user_segments": [1]}', ErrorCode.WRONG_TYPE, "user_segments"),
        (b'{"ad_width": 4294967296}', ErrorCode.OUT_OF_RANGE, "ad_width"),
        (b'{"bidfloor_micros": 9223372036854775808}', ErrorCode.OUT_OF_RANGE, "bidfloor_micros"),
    ],
)
def test_decode_line_names_each_problem(raw: bytes, code: ErrorCode, field: str) -> None:
    got = decode_line(raw, COLUMNS, BY_NAME, "bid_request")
    assert isinstance(got, RecordError)
    assert got.code is code
    if field:
        assert got.field == field
    assert got.message


def test_proto3_json_spellings_decode_to_the_same_row() -> None:
    canonical = decode_line(line(), COLUMNS, BY_NAME, "bid_request")
    variants = [
        line(bidfloor_micros="250001"),  # int64 as a string (proto3's canonical form)
        line(ad_width=300.0),  # an integral number
        line(deal_id=None),  # null = default
        orjson.dumps({k: v for k, v in event("bid_request", 1).items() if k != "deal_id"}),
        b"\xef\xbb\xbf" + line(),  # a byte-order mark
        line() + b"  \r",  # trailing whitespace
    ]
    for raw in variants:
        assert decode_line(raw, COLUMNS, BY_NAME, "bid_request") == canonical, raw


def test_fast_path_equals_slow_path_on_valid_lines() -> None:
    lines = [orjson.dumps(event("bid_request", i)) for i in range(300)]
    lines[7] = line(bidfloor_micros="77")  # forces the slow path for this line
    lines[8] = line(ad_height=250.0)
    lines[9] = orjson.dumps(
        {
            "event_id": "x",
            "event_time": event("bid_request", 0)["event_time"],
            "request_id": "r",
            "imp_id": "1",
            "exchange": "adx",
        }
    )
    table, rejects = decode_chunk(lines)
    assert rejects == []
    rows = [decode_line(x, COLUMNS, BY_NAME, "bid_request") for x in lines]
    assert table.equals(rows_to_table(rows, COLUMNS))  # type: ignore[arg-type]


def test_int64_written_as_strings_throughout_a_file_take_the_fast_path() -> None:
    lines = []
    for i in range(50):
        e = event("bid_request", i)
        e["event_time"] = str(e["event_time"])
        e["bidfloor_micros"] = str(e["bidfloor_micros"])
        lines.append(orjson.dumps(e))
    table, rejects = decode_chunk(lines)
    assert not rejects
    assert table["bidfloor_micros"].to_pylist() == [250_000 + i for i in range(50)]
    assert table.schema == arrow_schema("bid_request")


def test_garbage_among_good_lines_gets_exact_line_numbers_and_payloads() -> None:
    good = [orjson.dumps(event("bid_request", i)) for i in range(200)]
    garbage = {
        3: (b'{"event_id": "r3", "ev', ErrorCode.MALFORMED_JSON),
        50: (b"<html>nginx</html>", ErrorCode.MALFORMED_JSON),
        51: (line(ad_width="wide"), ErrorCode.WRONG_TYPE),
        99: (line(os="beos"), ErrorCode.UNKNOWN_VALUE),
        120: (line(referrer="x"), ErrorCode.UNKNOWN_FIELD),
        121: (b"", ErrorCode.MALFORMED_JSON),
        150: (line(event_time=1_767_571_200), ErrorCode.BAD_EVENT_TIME),
        151: (line(bidfloor_micros=-1), ErrorCode.OUT_OF_RANGE),
        152: (line(exchange=""), ErrorCode.MISSING_REQUIRED),
    }
    lines = list(good)
    for i, (raw, _) in garbage.items():
        lines[i] = raw
    # Small chunks: errors in several chunks and at chunk edges.
    table, rejects = decode_chunk(lines, chunk_bytes=4096)
    assert table.num_rows == 200 - len(garbage)
    found = {r.record: (r.payload, r.code) for r in rejects}
    assert found == {i + 1: pair for i, pair in garbage.items()}
    data = b"".join(x + b"\n" for x in lines)
    for r in rejects:
        assert data[r.offset : r.offset + len(r.payload)] == r.payload


def test_a_file_ending_without_newline_keeps_a_complete_last_line() -> None:
    decoder = JsonlDecoder("bid_request", COLUMNS)
    data = line() + b"\n" + orjson.dumps(event("bid_request", 2))
    checked = [decoder.decode(job) for job in decoder.jobs(iter([data]))]
    assert sum(c.valid.num_rows for c in checked) == 2


def test_a_cut_off_last_line_is_a_truncated_record() -> None:
    decoder = JsonlDecoder("bid_request", COLUMNS)
    data = line() + b"\n" + line()[:40]
    jobs = list(decoder.jobs(iter([data[:30], data[30:]])))
    assert jobs[-1].tail
    checked = [decoder.decode(job) for job in jobs]
    (reject,) = [r for c in checked for r in c.rejects]
    assert reject.code is ErrorCode.TRUNCATED_RECORD
    assert reject.record == 2 and reject.offset == len(line()) + 1
    assert reject.payload == line()[:40]


def test_jobs_split_only_at_line_ends() -> None:
    decoder = JsonlDecoder("bid_request", COLUMNS)
    lines = [orjson.dumps(event("bid_request", i)) for i in range(40)]
    data = b"".join(x + b"\n" for x in lines)
    blocks = [data[i : i + 333] for i in range(0, len(data), 333)]
    jobs: list[Job] = list(decoder.jobs(iter(blocks), chunk_bytes=1000))
    assert b"".join(j.data for j in jobs) == data
    assert all(j.data.endswith(b"\n") for j in jobs)
    assert [j.first_line for j in jobs] == [
        1 + sum(x.data.count(b"\n") for x in jobs[:k]) for k in range(len(jobs))
    ]


# ---- found by the property-based tests (test_properties.py); each crashed ingest or
# ---- stored a wrong value before


def test_a_key_that_is_not_utf8_is_a_reject_not_a_crash() -> None:
    # pyarrow keeps the key's bytes as an inferred column it cannot name in Python.
    bad = b'{"\xe5vent_id": "0", "event_time": 1767571200000}'
    table, rejects = decode_chunk([line(), bad, line(event_id="b")])
    assert table["event_id"].to_pylist() == ["bi-1", "b"]
    assert [(r.record, r.code) for r in rejects] == [(2, ErrorCode.INVALID_UTF8)]


def test_a_string_value_that_is_not_utf8_never_reaches_the_lake() -> None:
    # pyarrow's JSON reader does not validate string values: the fast path stored them.
    lines = [line(), line(city="Z\xfcrich").replace(b"\xc3\xbc", b"\xc3\x28"), line(city="Zürich")]
    table, rejects = decode_chunk(lines)
    assert table["city"].to_pylist() == ["San Francisco", "Zürich"]
    assert [(r.record, r.code) for r in rejects] == [(2, ErrorCode.INVALID_UTF8)]


@pytest.mark.parametrize("value", [2**53 - 1, 2**53, 2**53 + 1, 2**62 + 1, -(2**53) - 1])
def test_int64_beyond_2_to_the_53_is_read_exactly(value: int) -> None:
    # Read as a double, 2**53 + 1 became 2**53 and passed as exact: silently rounded.
    table, rejects = decode_chunk([line(bidfloor_micros=value)] * 3)
    if value < 0:
        assert [r.code for r in rejects] == [ErrorCode.OUT_OF_RANGE] * 3
    else:
        assert not rejects and table["bidfloor_micros"].to_pylist() == [value] * 3
