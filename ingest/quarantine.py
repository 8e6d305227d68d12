"""The quarantine: every record ingest refused, with where it came from and why.

`<home>/lake/quarantine/records/<commit_id>.parquet`, one file per ingest batch that
refused anything, one row per refused record:

| column | meaning |
|---|---|
| commit_id | the ingest batch (`_ledger/batches/<commit_id>.json`) |
| source_path | the file as ingested (absolute path) |
| source_kind | jsonl, jsonl.gz, pb, pb.gz, or ? |
| event_type | the folder's event type ("" when the folder is none) |
| record_number | 1-based line (jsonl) or frame (protobuf) number; null: a whole file, or |
|  | the undecodable rest of a damaged gzip stream |
| byte_offset | where the record starts in the decompressed file |
| error_code | `ingest.errors.ErrorCode` value |
| error_field | the field to blame, "" when none |
| error_message | for people |
| payload | the record's raw bytes: the line without its newline, the frame without its |
|  | length prefix; null for a row about a whole file (refused or stored) |
| stored_file | for a whole file refused (e.g. `format_mismatch`): its copy, relative to `lake/` |
| ingested_at | when the batch ran (UTC) |

Query it with DuckDB: `SELECT error_code, count(*) FROM
read_parquet('<home>/lake/quarantine/records/*.parquet') GROUP BY ALL`. Files refused whole
are copied to `quarantine/files/<commit_id>/<folder>/<name>`, byte for byte — except what
is not a regular file (`not_a_regular_file`: a symlink, FIFO, device, socket), which gets
its row but is never read or copied.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from ingest.decoded import Reject
from ingest.errors import FILE_CODES

SCHEMA = pa.schema(
    [
        pa.field("commit_id", pa.string(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("source_kind", pa.string(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("record_number", pa.int64()),
        pa.field("byte_offset", pa.int64(), nullable=False),
        pa.field("error_code", pa.string(), nullable=False),
        pa.field("error_field", pa.string(), nullable=False),
        pa.field("error_message", pa.string(), nullable=False),
        pa.field("payload", pa.binary()),
        pa.field("stored_file", pa.string()),
        pa.field("ingested_at", pa.timestamp("ms", tz="UTC"), nullable=False),
    ]
)
RECORDS_DIR = "quarantine/records"
FILES_DIR = "quarantine/files"


@dataclass(frozen=True)
class Entry:
    """One quarantine row before the commit id and time are known."""

    source_path: str
    source_kind: str
    event_type: str
    reject: Reject
    stored_file: str | None = None


def records_path(commit_id: str) -> str:
    """Relative to `<home>/lake/`."""
    return f"{RECORDS_DIR}/{commit_id}.parquet"


def stored_file_path(commit_id: str, folder: str, name: str) -> str:
    """Relative to `<home>/lake/`."""
    return f"{FILES_DIR}/{commit_id}/{folder}/{name}"


def to_table(entries: list[Entry], commit_id: str, ingested_at_ms: int) -> pa.Table:
    n = len(entries)
    return pa.table(
        {
            "commit_id": [commit_id] * n,
            "source_path": [e.source_path for e in entries],
            "source_kind": [e.source_kind for e in entries],
            "event_type": [e.event_type for e in entries],
            "record_number": [e.reject.record for e in entries],
            "byte_offset": [e.reject.offset for e in entries],
            "error_code": [str(e.reject.code) for e in entries],
            "error_field": [e.reject.field for e in entries],
            "error_message": [e.reject.message for e in entries],
            "payload": [
                None
                if e.stored_file is not None or e.reject.code in FILE_CODES
                else e.reject.payload
                for e in entries
            ],
            "stored_file": [e.stored_file for e in entries],
            "ingested_at": pa.array([ingested_at_ms] * n, type=pa.timestamp("ms", tz="UTC")),
        },
        schema=SCHEMA,
    )
