"""What every decoder run must satisfy, whatever the input: shared by the property-based
tests (`test_properties.py`) and the fuzzer (`fuzz_decoders.py`).

- It ends: valid rows and rejects, or one file-level refusal (`record_too_long`) exactly
  when the input holds a line or a frame over the cap; never another exception.
- Every record is accounted for: records = valid rows + rejects, and the number of
  records is what a reference walk of the lines or frames counts.
- Each reject points at its own bytes: its payload is the input at its offset (the line
  without its newline, the frame body, or the cut-off tail).
- Valid rows have exactly the lake's schema, and round-trip: encoded again with the
  contract's encoders (`json_line`, `protobuf_frame`) and decoded, they come back equal.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pyarrow as pa

from contract import events as contract
from contract.encoding import MAX_FRAME_BYTES, MAX_LINE_BYTES, json_line, protobuf_frame
from ingest.decoded import Reject
from ingest.errors import ErrorCode, SourceError
from ingest.jsonl import CHUNK_BYTES, CHUNK_LINES, JsonlDecoder
from ingest.lake_schema import arrow_schema
from ingest.protobuf import CHUNK_MESSAGES, ProtobufDecoder, frame_jobs
from ingest.rules import TimeWindow


class Violation(AssertionError):
    """An invariant does not hold (the fuzzer reports it as a crash)."""


def require(condition: bool, what: str) -> None:
    if not condition:
        raise Violation(what)


@dataclass
class Decoded:
    valid: pa.Table
    rejects: list[Reject]
    records: int
    error: SourceError | None = None  # the file refused whole

    def key(self) -> object:
        """What must not depend on block boundaries or chunk sizes."""
        if self.error is not None:
            return ("refused", self.error.code)
        rejects = [(r.record, r.offset, r.code, r.field, r.payload) for r in self.rejects]
        return (self.valid.to_pylist(), rejects, self.records)


def split(data: bytes, sizes: Sequence[int]) -> Iterator[bytes]:
    """`data` in blocks of the given sizes (cycled; a 0 gives an empty block)."""
    pos, k = 0, 0
    while pos < len(data):
        size = sizes[k % len(sizes)] if sizes else len(data)
        yield data[pos : pos + size]
        pos += size
        k += 1


def decode_jsonl(
    event_type: str,
    blocks: Iterator[bytes],
    window: TimeWindow | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    chunk_lines: int = CHUNK_LINES,
    max_line: int = MAX_LINE_BYTES,
) -> Decoded:
    decoder = JsonlDecoder(event_type, contract.columns(event_type))
    return _collect(
        lambda: (
            decoder.decode(job, window)
            for job in decoder.jobs(blocks, chunk_bytes, chunk_lines, max_line)
        ),
        event_type,
    )


def decode_protobuf(
    event_type: str,
    blocks: Iterator[bytes],
    window: TimeWindow | None = None,
    chunk_messages: int = CHUNK_MESSAGES,
    max_frame: int = MAX_FRAME_BYTES,
) -> Decoded:
    decoder = ProtobufDecoder(event_type, contract.columns(event_type))
    return _collect(
        lambda: (
            decoder.decode(job, window) for job in frame_jobs(blocks, chunk_messages, max_frame)
        ),
        event_type,
    )


def _collect(run: object, event_type: str) -> Decoded:
    tables, rejects, records = [], [], 0
    try:
        for checked in run():  # type: ignore[operator]
            require(
                checked.records == checked.valid.num_rows + len(checked.rejects),
                "a chunk's records are not its valid rows plus its rejects",
            )
            tables.append(checked.valid)
            rejects += checked.rejects
            records += checked.records
    except SourceError as exc:
        return Decoded(pa.table({}), [], 0, exc)
    schema = arrow_schema(event_type)
    valid = pa.concat_tables(tables) if tables else schema.empty_table()
    return Decoded(valid, rejects, records)


# ---------------------------------------------------------------- accounting


def lines_of(data: bytes) -> list[tuple[int, bytes]]:
    """(offset, line without its newline) of every line, the unterminated last one too."""
    out, pos = [], 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            out.append((pos, data[pos:]))
            break
        out.append((pos, data[pos:end]))
        pos = end + 1
    return out


def check_jsonl(event_type: str, data: bytes, got: Decoded, max_line: int = MAX_LINE_BYTES) -> None:
    lines = lines_of(data)
    too_long = any(len(line) > max_line for _, line in lines)
    if got.error is not None:
        require(got.error.code is ErrorCode.RECORD_TOO_LONG, f"refused: {got.error.code}")
        require(too_long, "refused as record_too_long without a line over the cap")
        return
    require(not too_long, "a line over the cap was not refused")
    require(got.records == len(lines), f"{got.records} records read of {len(lines)} lines")
    _check_common(event_type, got)
    by_offset = dict(lines)
    numbers = [r.record for r in got.rejects]
    require(len(set(numbers)) == len(numbers), "two rejects for one line")
    for r in got.rejects:
        require(r.record is not None and 1 <= r.record <= len(lines), "reject without a line")
        require(r.offset in by_offset, f"reject offset {r.offset} is not a line start")
        require(by_offset[r.offset] == r.payload, "a reject's payload is not its line")
        require(lines[r.record - 1][0] == r.offset, "a reject's number and offset disagree")


def frames_of(
    data: bytes, max_frame: int = MAX_FRAME_BYTES
) -> tuple[list[tuple[int, bytes]], bool]:
    """A reference walk of the framing: (prefix offset, body) of each complete frame, the
    cut-off rest as a last (offset, bytes) when there is one; and whether a prefix
    announces more than `max_frame` (or is a varint of over 10 bytes)."""
    frames, pos = [], 0
    while pos < len(data):
        length, shift, at = 0, 0, pos
        while True:
            if at >= len(data):
                frames.append((pos, data[pos:]))
                return frames, False
            byte = data[at]
            at += 1
            length |= (byte & 0x7F) << shift
            if length > max_frame:
                return frames, True
            if byte < 0x80:
                break
            shift += 7
            if shift > 63:
                return frames, True
        if at + length > len(data):
            frames.append((pos, data[pos:]))
            return frames, False
        frames.append((pos, data[at : at + length]))
        pos = at + length
    return frames, False


def check_protobuf(
    event_type: str, data: bytes, got: Decoded, max_frame: int = MAX_FRAME_BYTES
) -> None:
    frames, too_long = frames_of(data, max_frame)
    if got.error is not None:
        require(got.error.code is ErrorCode.RECORD_TOO_LONG, f"refused: {got.error.code}")
        require(too_long, "refused as record_too_long without a frame over the cap")
        return
    require(not too_long, "a frame over the cap was not refused")
    require(got.records == len(frames), f"{got.records} records read of {len(frames)} frames")
    _check_common(event_type, got)
    numbers = [r.record for r in got.rejects]
    require(len(set(numbers)) == len(numbers), "two rejects for one frame")
    for r in got.rejects:
        require(r.record is not None and 1 <= r.record <= len(frames), "reject without a frame")
        offset, body = frames[r.record - 1]
        require(r.offset == offset, "a reject's offset is not its frame's")
        if r.code is ErrorCode.TRUNCATED_RECORD:
            require(r.record == len(frames) and r.payload == body, "truncated: not the rest")
        else:
            require(r.payload == body, "a reject's payload is not its frame's body")


def _check_common(event_type: str, got: Decoded) -> None:
    require(
        got.valid.num_rows + len(got.rejects) == got.records,
        "records are not valid rows plus rejects",
    )
    require(got.valid.schema.equals(arrow_schema(event_type)), "valid rows: not the lake schema")
    require(all(column.null_count == 0 for column in got.valid.columns), "a null in a valid row")


def check_round_trip(event_type: str, rows: list[dict[str, object]]) -> None:
    """Valid rows, encoded again by the contract's encoders, decode to themselves."""
    if not rows:
        return
    as_json = b"".join(json_line(row) for row in rows)
    as_protobuf = b"".join(protobuf_frame(event_type, row) for row in rows)
    for name, got in (
        ("json_line", decode_jsonl(event_type, iter([as_json]))),
        ("protobuf_frame", decode_protobuf(event_type, iter([as_protobuf]))),
    ):
        require(got.error is None and not got.rejects, f"{name}: a valid row was refused")
        require(got.valid.to_pylist() == rows, f"{name}: valid rows do not round-trip")
