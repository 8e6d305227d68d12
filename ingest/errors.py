"""Machine-readable error codes: everything ingest can find wrong with a record or a file.

A code is a stable string (it is a column value in the quarantine table and a key in the
ledger, so renaming one breaks saved queries); the message next to it is for people.
Record-level codes go to the quarantine table with the record's raw bytes; file-level
codes describe a whole source (the ledger keeps them, and a file that is readable but not
what its name says is copied whole into the quarantine).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    # ---- record level: one line (jsonl) or one frame (protobuf) ----
    MALFORMED_JSON = "malformed_json"  # not JSON at all, empty line, or duplicate keys
    NOT_AN_OBJECT = "not_an_object"  # JSON, but not an object ({...})
    MALFORMED_PROTOBUF = "malformed_protobuf"  # bad tag, bad varint, a field past the end
    TRUNCATED_RECORD = "truncated_record"  # the last line/frame of a file is cut short
    CORRUPT_STREAM = "corrupt_stream"  # damaged compressed data: the rest is unreadable
    INVALID_UTF8 = "invalid_utf8"  # a string that is not valid UTF-8 / Unicode
    UNKNOWN_FIELD = "unknown_field"  # a field the contract does not have
    WRONG_TYPE = "wrong_type"  # a value of the wrong JSON type or protobuf wire type
    MISSING_REQUIRED = "missing_required"  # event_id, event_time or a key of the type empty
    BAD_EVENT_TIME = "bad_event_time"  # event_time outside the plausible window
    # event_time too far before or after the hour in the file's name (`ingest.rules`)
    EVENT_TIME_OUTSIDE_WINDOW = "event_time_outside_window"
    OUT_OF_RANGE = "out_of_range"  # negative price, probability outside [0, 1], ...
    UNKNOWN_VALUE = "unknown_value"  # a categorical value outside its vocabulary
    # ---- file level ----
    FORMAT_MISMATCH = "format_mismatch"  # content is not what the file name says
    UNKNOWN_EVENT_TYPE = "unknown_event_type"  # the folder is not an event type
    UNKNOWN_FORMAT = "unknown_format"  # the extension is none of jsonl, jsonl.gz, pb, pb.gz
    UNREADABLE = "unreadable"  # the operating system refused to read it
    # A symlink, FIFO, device, socket or folder where a log file should be: refused unread,
    # never followed or copied (the ledger and the quarantine table say so).
    NOT_A_REGULAR_FILE = "not_a_regular_file"
    # The caps of `ingest.pipeline` (see ingest/README.md, "Limits"); past one, the file is
    # copied whole into the quarantine instead of record by record.
    RECORD_TOO_LONG = "record_too_long"  # a line or frame (length prefix) over the cap
    TOO_MANY_REJECTS = "too_many_rejects"  # more refused records (or bytes) than allowed
    TOO_MANY_PARTITIONS = "too_many_partitions"  # events spread over too many hours
    FILE_TOO_LARGE = "file_too_large"  # decompresses to more than a file may hold


RECORD_CODES: frozenset[ErrorCode] = frozenset(
    {
        ErrorCode.MALFORMED_JSON,
        ErrorCode.NOT_AN_OBJECT,
        ErrorCode.MALFORMED_PROTOBUF,
        ErrorCode.TRUNCATED_RECORD,
        ErrorCode.CORRUPT_STREAM,
        ErrorCode.INVALID_UTF8,
        ErrorCode.UNKNOWN_FIELD,
        ErrorCode.WRONG_TYPE,
        ErrorCode.MISSING_REQUIRED,
        ErrorCode.BAD_EVENT_TIME,
        ErrorCode.EVENT_TIME_OUTSIDE_WINDOW,
        ErrorCode.OUT_OF_RANGE,
        ErrorCode.UNKNOWN_VALUE,
    }
)
FILE_CODES: frozenset[ErrorCode] = frozenset(set(ErrorCode) - RECORD_CODES)


@dataclass(frozen=True)
class RecordError:
    """Why one record was rejected; `field` is "" when no single field is to blame."""

    code: ErrorCode
    message: str
    field: str = ""


class SourceError(Exception):
    """A whole source cannot be ingested (see the file-level codes)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
