"""JSONL tracking logs -> typed Arrow rows, strictly, at close to C speed.

Fast path: a chunk of whole lines (~16 MB) is parsed by `pyarrow.json` against a
*relaxed* schema derived from the contract, with unknown keys inferred as extra columns
instead of ignored. pyarrow is strict about JSON types (a number in a string field is an
error, not a silent cast, unlike DuckDB's `read_json`), and the relaxed schema only widens
what the contract allows: integers are read as float64 so that `1.5` in an integer field
is found by a vectorized check (with its row) instead of failing the whole chunk without
saying where; int64 columns written as strings ("123", proto3's canonical form) are read
as strings when the file's first line does so.

Slow path: lines the fast path cannot take — a parse error pyarrow reports with its row,
rows the vectorized checks flag — are decoded one at a time with the standard library
(`decode_line`), which gives every problem its error code. A failing range is split at the
row pyarrow names (or in halves when it names none), so k bad lines in a chunk of n cost
about 2n parsed lines, not k·n. The slow path is the definition of what is valid; the fast
path only ever takes rows the slow path would decode to the same values (see the tests
comparing the two on every kind of input).

Accepted, per proto3 JSON: missing fields and `null` (default value), integers as JSON
integers, integral numbers (`1.0`, `1e3`) or decimal strings; doubles as numbers, decimal
strings or "NaN"/"Infinity"/"-Infinity". Rejected: unknown keys, duplicate keys, wrong
JSON types, integers out of their 32/64-bit range, invalid UTF-8 and unpaired surrogates,
blank lines (each is a record the writer should not have written).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from google.protobuf.descriptor import FieldDescriptor

from contract.encoding import MAX_LINE_BYTES
from contract.events import Column
from ingest.decoded import Checked, Reject, default_of, finish, rows_to_table
from ingest.errors import ErrorCode, RecordError, SourceError
from ingest.lake_schema import arrow_type
from ingest.rules import TimeWindow

CHUNK_BYTES = 16 << 20  # lines handed to pyarrow at once: big enough to amortize its setup
CHUNK_LINES = 1 << 16  # and at most this many (~80 B a line or less): bounds per-line work
SCAN_BYTES = 1 << 20  # newlines are located this many bytes at a time (bounded scratch)
SLOW_RUN = 4  # a failing range this short is decoded line by line without more splitting
FLOAT_EXACT = 2**53  # integers read as float64 are exact below this; the rest go slow
_INT_RANGE = {
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
}
_INT_TYPES = frozenset(_INT_RANGE)
_INT_STRING = re.compile(r"-?[0-9]+\Z")
_NUMBER_STRING = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_SURROGATE = re.compile("[\ud800-\udfff]")
_ROW_HINT = re.compile(r" in row (\d+)\b")
_LEADING_OK = np.frombuffer(b" \t\r\xef", dtype=np.uint8)  # whitespace, a BOM's first byte
_TRAILING_WHITESPACE = np.frombuffer(b" \t\r", dtype=np.uint8)
_JSON_TYPE = {str: "string", int: "integer", float: "number", bool: "boolean"}
_NO_LINES = np.zeros(0, dtype=np.int64)


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return _JSON_TYPE.get(type(value), type(value).__name__)


# ---------------------------------------------------------------- slow path: one line


class _DuplicateKey(ValueError):
    pass


def _object_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _DuplicateKey(dup)
    return obj


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _convert(column: Column, value: object) -> object | RecordError:
    """One JSON value -> the column's Python value, or why not."""
    name, kind = column.name, column.proto_type
    if kind == FieldDescriptor.TYPE_STRING:
        if not isinstance(value, str):
            return RecordError(
                ErrorCode.WRONG_TYPE, f"{name}: expected a string, got {_json_type(value)}", name
            )
        if _SURROGATE.search(value):
            return RecordError(ErrorCode.INVALID_UTF8, f"{name}: unpaired surrogate", name)
        return value
    if kind in _INT_TYPES:
        number: int
        if isinstance(value, bool):
            return RecordError(
                ErrorCode.WRONG_TYPE, f"{name}: expected an integer, got boolean", name
            )
        if isinstance(value, int):
            number = value
        elif isinstance(value, float):
            if not (math.isfinite(value) and value.is_integer()):
                return RecordError(
                    ErrorCode.WRONG_TYPE, f"{name}: expected an integer, got {value!r}", name
                )
            number = int(value)
        elif isinstance(value, str):
            if not _INT_STRING.match(value):
                return RecordError(
                    ErrorCode.WRONG_TYPE, f"{name}: {value!r} is not a decimal integer", name
                )
            number = int(value)
        else:
            return RecordError(
                ErrorCode.WRONG_TYPE, f"{name}: expected an integer, got {_json_type(value)}", name
            )
        low, high = _INT_RANGE[kind]
        if not low <= number <= high:
            bits = 64 if kind == FieldDescriptor.TYPE_INT64 else 32
            return RecordError(
                ErrorCode.OUT_OF_RANGE, f"{name}: {number} does not fit in int{bits}", name
            )
        return number
    if kind == FieldDescriptor.TYPE_DOUBLE:
        if isinstance(value, bool):
            return RecordError(
                ErrorCode.WRONG_TYPE, f"{name}: expected a number, got boolean", name
            )
        if isinstance(value, int | float):
            as_float = float(value) if not isinstance(value, int) or abs(value) < 2**1023 else None
            if as_float is None or math.isinf(as_float):
                return RecordError(ErrorCode.OUT_OF_RANGE, f"{name}: {value!r} overflows", name)
            return as_float
        if isinstance(value, str):
            if value in _SPECIAL_FLOATS:
                return _SPECIAL_FLOATS[value]
            if _NUMBER_STRING.match(value):
                return float(value)
            return RecordError(ErrorCode.WRONG_TYPE, f"{name}: {value!r} is not a number", name)
        return RecordError(
            ErrorCode.WRONG_TYPE, f"{name}: expected a number, got {_json_type(value)}", name
        )
    if kind == FieldDescriptor.TYPE_BOOL:
        if isinstance(value, bool):
            return value
        return RecordError(
            ErrorCode.WRONG_TYPE, f"{name}: expected true or false, got {_json_type(value)}", name
        )
    raise TypeError(f"unsupported proto type {kind} of {name}")


def decode_line(
    line: bytes, columns: Sequence[Column], by_name: dict[str, Column], event_type: str
) -> dict[str, object] | RecordError:
    """Decode one JSONL line (without its newline) into a full row, or say why not."""
    if not line.strip():
        return RecordError(ErrorCode.MALFORMED_JSON, "empty line")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RecordError(ErrorCode.INVALID_UTF8, f"not UTF-8: {exc.reason} at byte {exc.start}")
    try:
        # A leading byte-order mark is tolerated (pyarrow skips it too).
        obj = json.loads(
            text.removeprefix("\ufeff"),
            object_pairs_hook=_object_pairs,
            parse_constant=_reject_constant,
        )
    except _DuplicateKey as exc:
        return RecordError(ErrorCode.MALFORMED_JSON, f"duplicate key {exc.args[0]!r}", exc.args[0])
    except (ValueError, RecursionError) as exc:
        return RecordError(ErrorCode.MALFORMED_JSON, f"not JSON: {exc}")
    if not isinstance(obj, dict):
        return RecordError(
            ErrorCode.NOT_AN_OBJECT, f"expected a JSON object, got {_json_type(obj)}"
        )
    unknown = sorted(k for k in obj if k not in by_name)
    if unknown:
        listed = ", ".join(repr(k) for k in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        return RecordError(
            ErrorCode.UNKNOWN_FIELD,
            f"field(s) {listed} not in the {event_type} contract",
            unknown[0],
        )
    row: dict[str, object] = {c.name: default_of(c) for c in columns}
    for key, value in obj.items():
        column = by_name[key]
        if value is None:
            continue  # proto3 JSON: null means the default value
        if column.repeated:
            if not isinstance(value, list):
                return RecordError(
                    ErrorCode.WRONG_TYPE, f"{key}: expected an array, got {_json_type(value)}", key
                )
            items = []
            for item in value:
                converted = _convert(column, item) if item is not None else None
                if converted is None:
                    return RecordError(ErrorCode.WRONG_TYPE, f"{key}: null inside the array", key)
                if isinstance(converted, RecordError):
                    return converted
                items.append(converted)
            row[key] = items
        else:
            converted = _convert(column, value)
            if isinstance(converted, RecordError):
                return converted
            row[key] = converted
    return row


# ---------------------------------------------------------------- fast path: a chunk


@dataclass(frozen=True)
class Job:
    """A chunk of whole lines of one file (the unit of decoding and of parallelism)."""

    data: bytes  # whole lines, each ending in "\n"
    first_line: int  # 1-based number of the first line in the file
    offset: int  # byte offset of `data` in the decompressed file
    lines: int = 1  # number of lines in `data`
    tail: bool = False  # True: `data` is the file's last line, without its newline
    # Line start offsets in `data`, then its length (lines + 1 values), when known.
    bounds: np.ndarray | None = field(default=None, compare=False, repr=False)


def _too_long(line: int, offset: int, cap: int) -> SourceError:
    return SourceError(
        ErrorCode.RECORD_TOO_LONG,
        f"line {line} (at byte {offset} of the decompressed file) is longer than {cap} "
        f"bytes, the cap on one record (contract.encoding.MAX_LINE_BYTES): no event comes "
        f"near it, so the file is quarantined whole instead of buffered",
    )


class JsonlDecoder:
    """Decodes the JSONL files of one event type (see the module docstring)."""

    def __init__(self, event_type: str, columns: Sequence[Column]) -> None:
        self.event_type = event_type
        self.columns = tuple(columns)
        self.by_name = {c.name: c for c in self.columns}
        self._string_ints: frozenset[str] = frozenset()
        self._schema = self._relaxed_schema()
        # Set after a chunk failed to parse whole; read and written by decoding threads
        # without a lock, which is fine: it only picks the faster of two correct paths.
        self._dirty = False

    # -- chunking a stream of decompressed blocks into jobs

    def jobs(
        self,
        blocks: Iterator[bytes],
        chunk_bytes: int = CHUNK_BYTES,
        chunk_lines: int = CHUNK_LINES,
        max_line: int = MAX_LINE_BYTES,
    ) -> Iterator[Job]:
        """Cut the stream at line ends into jobs; the cut-off tail last.

        A job holds at most `chunk_bytes` bytes (or one longer line) and `chunk_lines`
        lines, so its decoding cost and its rejects are bounded whatever the input (a
        bomb of empty lines is a stream of 64k-line jobs, not one of millions). Newlines
        are located `SCAN_BYTES` at a time, and a line longer than `max_line` (without its
        newline) raises `record_too_long` as soon as it is seen, so neither a job nor the
        carried incomplete line grows with the input.
        """
        data = b""
        pos = 0  # where the next job starts in `data` (a line start)
        scanned = 0  # the newlines of data[:scanned] are known ...
        ends = _NO_LINES  # ... as the offsets just past each one in data[pos:scanned]
        line_start = 0  # where the line being scanned starts
        line_no, offset = 1, 0  # of data[pos], and of data[0] in the stream
        sniffed = False
        for block in blocks:
            if not block:
                continue
            # Keep what is not handed out yet (less than a job and a line), add the block.
            data = data[pos:] + block if pos < len(data) else block
            ends = ends - pos
            scanned -= pos
            line_start -= pos
            offset += pos
            pos = 0
            if not sniffed:
                first_end = data.find(b"\n", 0, max_line + 1)
                self._sniff(data[: first_end if first_end >= 0 else max_line])
                sniffed = True
            while True:
                while len(ends) >= chunk_lines or (len(ends) and scanned - pos >= chunk_bytes):
                    job = self._job(data, pos, ends, line_no, offset, chunk_bytes, chunk_lines)
                    yield job
                    line_no += job.lines
                    pos = int(ends[job.lines - 1])
                    ends = ends[job.lines :]
                if scanned >= len(data):
                    break
                stop = min(scanned + SCAN_BYTES, len(data))
                view = np.frombuffer(data, dtype=np.uint8, count=stop - scanned, offset=scanned)
                found = np.flatnonzero(view == 10) + (scanned + 1)
                if found.size:
                    too_long = np.flatnonzero(np.diff(found, prepend=line_start) > max_line + 1)
                    if too_long.size:
                        i = int(too_long[0])
                        at = int(found[i - 1]) if i else line_start
                        raise _too_long(line_no + len(ends) + i, offset + at, max_line)
                    line_start = int(found[-1])
                    ends = np.concatenate((ends, found)) if len(ends) else found
                scanned = stop
                if scanned - line_start > max_line:
                    raise _too_long(line_no + len(ends), offset + line_start, max_line)
        while len(ends):
            job = self._job(data, pos, ends, line_no, offset, chunk_bytes, chunk_lines)
            yield job
            line_no += job.lines
            pos = int(ends[job.lines - 1])
            ends = ends[job.lines :]
        if pos < len(data):
            yield Job(data[pos:], line_no, offset + pos, 1, tail=True)

    @staticmethod
    def _job(
        data: bytes,
        pos: int,
        ends: np.ndarray,
        line_no: int,
        offset: int,
        chunk_bytes: int,
        chunk_lines: int,
    ) -> Job:
        """The job of the first lines of data[pos:] (`ends`: just past their newlines)."""
        fit = int(np.searchsorted(ends, pos + chunk_bytes, side="right"))
        k = max(1, min(len(ends), chunk_lines, fit))
        end = int(ends[k - 1])
        bounds = np.concatenate(([pos], ends[:k])).astype(np.int64) - pos
        return Job(data[pos:end], line_no, offset + pos, k, bounds=bounds)

    def _sniff(self, first_line: bytes) -> None:
        """Read int columns as strings when this writer writes them as strings."""
        try:
            obj = json.loads(first_line)
        except ValueError:
            return
        if isinstance(obj, dict):
            self._string_ints = frozenset(
                c.name
                for c in self.columns
                if c.proto_type in _INT_TYPES
                and not c.repeated
                and isinstance(obj.get(c.name), str)
            )
            self._schema = self._relaxed_schema()

    # -- decoding one job

    def decode(self, job: Job, window: TimeWindow | None = None) -> Checked:
        """Decode and check one job; `window`: the file's event-time window, if any."""
        if job.tail:
            return self._decode_tail(job, window)
        data = job.data
        n = job.lines
        bounds: np.ndarray | None = job.bounds  # line start offsets, then the end

        def line_bounds() -> np.ndarray:
            nonlocal bounds
            if bounds is None:
                ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10) + 1
                bounds = np.concatenate(([0], ends)).astype(np.int64)
            return bounds

        pieces: list[tuple[np.ndarray, pa.Table]] = []
        slow: list[int] = []
        whole = None
        # pyarrow does not check that string values are UTF-8: lines that are not go the
        # slow way (invalid_utf8). An ASCII chunk, the common case, needs no look.
        not_utf8 = None if data.isascii() else _not_utf8(data, line_bounds())
        if not self._dirty and not_utf8 is None:
            try:
                whole = self._read(data)  # the common case: the chunk parses as it is
            except pa.ArrowException:
                # Garbage rarely comes alone: until a chunk parses whole again, skip the
                # attempt (it fails half way on average) and go around errors directly.
                self._dirty = True
        if whole is not None and whole.num_rows == n:
            pieces.append((np.arange(n, dtype=np.int64), whole))
        else:
            self._parse_around_errors(data, line_bounds(), pieces, slow, not_utf8)
            if not slow:
                self._dirty = False

        # Unknown keys came in as extra columns: their rows go the slow way. Dropped per
        # piece, since the same unknown key may have different types in two pieces.
        tables, lines = [], []
        for idx, relaxed in pieces:
            relaxed, flagged = self._drop_extra(relaxed)
            if flagged is not None:
                slow.extend(idx[flagged].tolist())
                relaxed, idx = relaxed.filter(pa.array(~flagged)), idx[~flagged]
            tables.append(relaxed)
            lines.append(idx)
        fast_lines = np.concatenate(lines) if lines else np.zeros(0, dtype=np.int64)
        table = None
        if tables:
            relaxed = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
            table, flagged = self._to_contract(relaxed)
            if flagged is not None:
                slow.extend(fast_lines[flagged].tolist())
                table, fast_lines = table.filter(pa.array(~flagged)), fast_lines[~flagged]

        rejects: list[Reject] = []
        parts = [table] if table is not None else []
        line_parts = [fast_lines]
        if slow:
            b = line_bounds()
            rows: list[dict[str, object]] = []
            row_lines: list[int] = []
            for li in sorted(slow):
                start, end = int(b[li]), int(b[li + 1])
                line = data[start : end - 1]
                got = decode_line(line, self.columns, self.by_name, self.event_type)
                if isinstance(got, RecordError):
                    rejects.append(Reject.of(job.first_line + li, job.offset + start, got, line))
                else:
                    rows.append(got)
                    row_lines.append(li)
            if rows:
                parts.append(rows_to_table(rows, self.columns))
                line_parts.append(np.asarray(row_lines, dtype=np.int64))

        if not parts:
            table, line_of = rows_to_table([], self.columns), np.zeros(0, dtype=np.int64)
        elif len(parts) == 1 and not slow:
            table, line_of = parts[0], line_parts[0]
        else:
            line_of = np.concatenate(line_parts)
            table = pa.concat_tables(parts)
            if (np.diff(line_of) < 0).any():
                order = np.argsort(line_of, kind="stable")
                table, line_of = table.take(pa.array(order)), line_of[order]

        def spans(rows_idx: np.ndarray) -> list[tuple[int, bytes]]:
            b = line_bounds()
            out = []
            for li in line_of[rows_idx].tolist():
                start, end = int(b[li]), int(b[li + 1])
                out.append((job.offset + start, data[start : end - 1]))
            return out

        return finish(
            table, job.first_line + line_of, spans, rejects, self.event_type, self.columns, window
        )

    def _decode_tail(self, job: Job, window: TimeWindow | None = None) -> Checked:
        """The file's last line has no newline: complete if it parses, else truncated."""
        got = decode_line(job.data, self.columns, self.by_name, self.event_type)
        if isinstance(got, RecordError):
            if got.code in (ErrorCode.MALFORMED_JSON, ErrorCode.INVALID_UTF8):
                got = RecordError(
                    ErrorCode.TRUNCATED_RECORD,
                    f"the file ends inside this line (no newline, and {got.message})",
                    got.field,
                )
            return Checked(
                rows_to_table([], self.columns),
                [Reject.of(job.first_line, job.offset, got, job.data)],
                1,
            )
        table = rows_to_table([got], self.columns)
        return finish(
            table,
            np.array([job.first_line]),
            lambda idx: [(job.offset, job.data)],
            [],
            self.event_type,
            self.columns,
            window,
        )

    # -- the pyarrow part

    def _relaxed_schema(self) -> pa.Schema:
        fields = []
        for c in self.columns:
            if c.repeated:
                t = arrow_type(c)
            elif c.proto_type in _INT_TYPES:
                t = pa.string() if c.name in self._string_ints else pa.float64()
            else:
                t = arrow_type(c)
            fields.append(pa.field(c.name, t))
        return pa.schema(fields)

    def _read(self, data: bytes | memoryview) -> pa.Table:
        return pj.read_json(
            pa.BufferReader(pa.py_buffer(data)),
            # One block per call: pyarrow's "in row N" is then the row within `data`.
            read_options=pj.ReadOptions(use_threads=False, block_size=len(data) + 1),
            parse_options=pj.ParseOptions(
                explicit_schema=self._schema, unexpected_field_behavior="infer"
            ),
        )

    def _parse_around_errors(
        self,
        data: bytes,
        bounds: np.ndarray,
        pieces: list[tuple[np.ndarray, pa.Table]],
        slow: list[int],
        exclude: np.ndarray | None = None,
    ) -> None:
        """Parse a chunk that failed as a whole: fast where possible, the rest to `slow`.

        `exclude`: lines known to need the slow path (per line, True).

        First, lines that cannot be a JSON object (empty, not opening with "{", not
        closing with "}") go straight to the slow path: truncated lines and HTML error
        pages, the commonest garbage, then cost no pyarrow failures. The rest are parsed
        in ranges, each failure split at the row pyarrow names (else in halves).
        """
        n = len(bounds) - 1
        text = np.frombuffer(data, dtype=np.uint8)
        starts, last = bounds[:-1], bounds[1:] - 2  # last: the byte before the newline
        empty = last < starts
        first_byte = text[np.minimum(starts, len(text) - 1)]
        last_byte = text[np.maximum(last, 0)]
        opens = (first_byte == ord("{")) | np.isin(first_byte, _LEADING_OK)
        closes = (last_byte == ord("}")) | np.isin(last_byte, _TRAILING_WHITESPACE)
        shapeless = empty | ~opens | ~closes
        if exclude is not None:
            shapeless |= exclude
        slow.extend(np.flatnonzero(shapeless).tolist())
        kept = np.flatnonzero(~shapeless)
        if kept.size == n:
            sub, sub_bounds = data, bounds
        else:
            # Join the runs of kept lines between the refused ones (few runs, not a
            # slice per line).
            view = memoryview(data)
            breaks = np.flatnonzero(np.diff(kept) != 1) + 1
            runs = np.split(kept, breaks) if kept.size else []
            sub = b"".join(view[int(bounds[r[0]]) : int(bounds[r[-1] + 1])] for r in runs)
            sub_bounds = np.zeros(kept.size + 1, dtype=np.int64)
            np.cumsum(bounds[kept + 1] - bounds[kept], out=sub_bounds[1:])
        sub_view = memoryview(sub)
        stack = [(0, kept.size)]
        while stack:
            lo, hi = stack.pop()
            if hi <= lo:
                continue
            if hi - lo <= SLOW_RUN:
                slow.extend(kept[lo:hi].tolist())
                continue
            try:
                table = self._read(sub_view[int(sub_bounds[lo]) : int(sub_bounds[hi])])
            except pa.ArrowException as exc:
                hint = _ROW_HINT.search(str(exc))
                row = int(hint.group(1)) if hint else -1
                if 0 <= row < hi - lo:
                    # The row named is the culprit (or, after skipped blank lines, at or
                    # before it): decode it slowly and parse both sides again.
                    slow.append(int(kept[lo + row]))
                    stack.append((lo + row + 1, hi))
                    stack.append((lo, lo + row))
                else:
                    mid = (lo + hi) // 2
                    stack.append((mid, hi))
                    stack.append((lo, mid))
                continue
            if table.num_rows != hi - lo:  # two objects on one line, blank-ish lines
                mid = (lo + hi) // 2
                stack.append((mid, hi))
                stack.append((lo, mid))
                continue
            pieces.append((kept[lo:hi], table))

    def _drop_extra(self, relaxed: pa.Table) -> tuple[pa.Table, np.ndarray | None]:
        names = [_column_name(relaxed, i) for i in range(relaxed.num_columns)]
        if None in names:
            # A key that is not UTF-8 became a column pyarrow cannot name in Python: give
            # it a name no contract field has (its rows then go the slow way, as below).
            relaxed = relaxed.rename_columns(
                [name if name is not None else f"\x00key{i}" for i, name in enumerate(names)]
            )
        extra = [name for name in relaxed.column_names if name not in self.by_name]
        if not extra:
            return relaxed, None
        flagged = np.zeros(relaxed.num_rows, dtype=bool)
        for name in extra:
            column = relaxed[name]
            if column.type == pa.null():
                # `"x": null` for an unknown key: present or absent cannot be told apart
                # column-wise, so every row of this piece goes the slow way.
                flagged[:] = True
            else:
                flagged |= _np(pc.is_valid(column))
        return relaxed.select([c.name for c in self.columns]), flagged

    def _to_contract(self, relaxed: pa.Table) -> tuple[pa.Table, np.ndarray | None]:
        """Relaxed columns -> contract types; also which rows need the slow path."""
        flagged = np.zeros(relaxed.num_rows, dtype=bool)
        arrays = []
        for c in self.columns:
            col = relaxed[c.name]
            if c.repeated:
                flat_nulls = pc.is_null(pc.list_flatten(col))
                if _np(flat_nulls).any():
                    parents = _np_int(pc.list_parent_indices(col))
                    flagged[parents[_np(flat_nulls)]] = True
                arrays.append(pc.fill_null(col, pa.scalar([], type=arrow_type(c))))
            elif c.proto_type in _INT_TYPES:
                arrays.append(self._int_column(c, col, flagged))
            elif c.proto_type == FieldDescriptor.TYPE_DOUBLE:
                filled = pc.fill_null(col, 0.0)
                # NaN/Infinity literals are not JSON; pyarrow takes them, the slow path not.
                flagged |= ~_np(pc.is_finite(filled))
                arrays.append(filled)
            else:
                arrays.append(pc.fill_null(col, default_of(c)))
        table = pa.Table.from_arrays(
            [
                a.cast(arrow_type(c)) if a.type != arrow_type(c) else a
                for a, c in zip(arrays, self.columns, strict=True)
            ],
            names=[c.name for c in self.columns],
        )
        return table, (flagged if flagged.any() else None)

    def _int_column(self, c: Column, col: pa.ChunkedArray, flagged: np.ndarray) -> pa.ChunkedArray:
        low, high = _INT_RANGE[c.proto_type]
        if col.type == pa.string():
            filled = pc.fill_null(col, "0")
            ok = _np(pc.match_substring_regex(filled, r"^-?[0-9]{1,18}$"))
            flagged |= ~ok
            safe = pc.if_else(pa.array(ok), filled, "0")
            values = _np_int(pc.cast(safe, pa.int64()))
        else:
            filled = pc.fill_null(col, 0.0)
            as_float = _np_float(filled)
            # Strictly below 2**53: 2**53 + 1 parses as 2**53 (the nearest double), so a
            # value of 2**53 may be a rounded bigger one; the slow path reads it exactly.
            ok = (np.floor(as_float) == as_float) & (np.abs(as_float) < FLOAT_EXACT)
            flagged |= ~ok
            values = np.where(ok, as_float, 0).astype(np.int64)
        # Out of int32 range: the slow path reports it (out_of_range). int64 needs no check:
        # floats are capped at 2**53 above and strings at 18 digits.
        in_range = (values >= low) & (values <= high)
        flagged |= ~in_range
        values = np.where(in_range, values, 0)
        dtype = np.int32 if c.proto_type == FieldDescriptor.TYPE_INT32 else np.int64
        return pa.chunked_array([pa.array(values.astype(dtype))])


def _not_utf8(data: bytes, bounds: np.ndarray) -> np.ndarray | None:
    """Per line of `data` (line starts then end in `bounds`): not valid UTF-8; None if all are.

    Validated by Arrow in one pass over a zero-copy view of the lines; only when that
    fails are the lines holding non-ASCII bytes decoded one by one to find the culprits.
    """
    n = len(bounds) - 1
    lines = pa.Array.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(bounds.astype(np.int64)), pa.py_buffer(data)]
    )
    try:
        lines.cast(pa.large_string())
        return None
    except pa.ArrowInvalid:
        pass
    high = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) >= 0x80)
    bad = np.zeros(n, dtype=bool)
    for li in np.unique(np.searchsorted(bounds, high, side="right") - 1).tolist():
        try:
            data[int(bounds[li]) : int(bounds[li + 1])].decode("utf-8")
        except UnicodeDecodeError:
            bad[li] = True
    return bad


def _column_name(table: pa.Table, i: int) -> str | None:
    """The name of column `i`, or None when it is not UTF-8 (pyarrow keeps a JSON key's
    bytes as they are, and fails to decode them)."""
    try:
        return str(table.schema.field(i).name)
    except UnicodeDecodeError:
        return None


def _combine(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values


def _np(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    array = _combine(pc.fill_null(values, False))
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)


def _np_int(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(_combine(values).to_numpy(zero_copy_only=False), dtype=np.int64)


def _np_float(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(_combine(values).to_numpy(zero_copy_only=False), dtype=np.float64)
