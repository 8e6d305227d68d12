"""What a decoder hands on: typed rows in contract order, and the rejects with provenance.

Both decoders (JSONL, protobuf) end in `finish`: the semantic rules of `ingest.rules` run
over the decoded table, rows that fail them become rejects with their raw bytes, and the
rest is the valid table. Counting happens here too, so `records == valid + rejects` holds
for every chunk by construction (the ledger's reconciliation builds on it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from contract.events import Column
from ingest.errors import ErrorCode, RecordError
from ingest.lake_schema import schema_of
from ingest.rules import TimeWindow, check, explain


@dataclass(frozen=True)
class Reject:
    """One quarantined record and where it came from."""

    record: int | None  # 1-based line (jsonl) or frame (protobuf) number; None: whole rest
    offset: int  # byte offset of the record in the decompressed stream
    code: ErrorCode
    message: str
    field: str
    payload: bytes

    @classmethod
    def of(cls, record: int | None, offset: int, error: RecordError, payload: bytes) -> Reject:
        return cls(record, offset, error.code, error.message, error.field, payload)


@dataclass
class Checked:
    """One decoded and validated chunk of a source."""

    valid: pa.Table  # exactly the contract schema, defaults filled
    rejects: list[Reject]
    records: int  # records read: valid.num_rows + len(rejects)


def default_of(column: Column) -> object:
    if column.repeated:
        return []
    return column.python_type()


def rows_to_table(rows: Sequence[dict[str, object]], columns: Sequence[Column]) -> pa.Table:
    """Rows decoded one by one (the slow paths), as a table of the contract schema."""
    data = {c.name: [row[c.name] for row in rows] for c in columns}
    return pa.table(data, schema=schema_of(columns))


# (row indices) -> [(byte offset, raw payload)] of those rows, computed only for rejects.
Spans = Callable[[np.ndarray], list[tuple[int, bytes]]]


def finish(
    table: pa.Table,
    record_numbers: np.ndarray,
    spans: Spans,
    rejects: list[Reject],
    event_type: str,
    columns: Sequence[Column],
    window: TimeWindow | None = None,
) -> Checked:
    """Apply the rules to decoded rows; rows that fail join `rejects` with their bytes.

    `window`: the event-time window of the file (`ingest.rules.file_window`), if any.
    """
    verdict = check(table, event_type, columns, window)
    records = table.num_rows + len(rejects)
    if verdict.all_valid:
        return Checked(table, rejects, records)
    bad = np.flatnonzero(~verdict.valid)
    located = spans(bad)
    # Only the blamed field of each rejected row is needed for its message: gather those
    # columns, not whole rows (a chunk of 64k garbage rows must stay cheap).
    blamed = verdict.fields[bad]
    value_of: dict[int, object] = {}
    for column_index in np.unique(blamed).tolist():
        rows = bad[blamed == column_index]
        values = table[columns[column_index].name].take(pa.array(rows)).to_pylist()
        value_of.update(zip(rows.tolist(), values, strict=True))
    for k, row_index in enumerate(bad.tolist()):
        field = columns[int(verdict.fields[row_index])].name
        row = {field: value_of[row_index]}
        error = explain(row, verdict.code(row_index), field, event_type, columns, window)
        offset, payload = located[k]
        rejects.append(Reject.of(int(record_numbers[row_index]), offset, error, payload))
    rejects.sort(key=lambda r: (r.record is None, r.record or 0, r.offset))
    valid = table.filter(pa.array(verdict.valid))
    return Checked(valid, rejects, records)
