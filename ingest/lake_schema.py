"""The lake's Arrow schema of each event type: the contract's columns as Parquet columns.

Derived from `contract.events.columns`, so a field added to `events.proto` becomes a lake
column with no other change. Kept here, where the lake is written, so that the contract
package (imported by the bidder) stays free of pyarrow.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

import pyarrow as pa
from google.protobuf.descriptor import FieldDescriptor

from contract.events import Column, columns

_ARROW_TYPES = {
    FieldDescriptor.TYPE_STRING: pa.string(),
    FieldDescriptor.TYPE_INT64: pa.int64(),
    FieldDescriptor.TYPE_INT32: pa.int32(),
    FieldDescriptor.TYPE_DOUBLE: pa.float64(),
    FieldDescriptor.TYPE_BOOL: pa.bool_(),
}


def arrow_type(column: Column) -> pa.DataType:
    base = _ARROW_TYPES[column.proto_type]
    return pa.list_(base) if column.repeated else base


def schema_of(cols: Iterable[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c)) for c in cols])


@cache
def arrow_schema(event_type: str) -> pa.Schema:
    """The Arrow schema of an event type's raw lake files (without ingest metadata)."""
    return schema_of(columns(event_type))
