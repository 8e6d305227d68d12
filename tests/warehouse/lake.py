"""Small raw lakes for warehouse tests, written exactly as ingest writes them.

Layout and columns are the interface (docs/interfaces.md): `<raw>/<event_type>/event_date=
YYYY-MM-DD/event_hour=HH/<name>.parquet`, zstd, columns `ingest.lake_schema.arrow_schema`
with every field present (defaults "" / 0 / []), the partition only in the path, files
appearing by atomic rename.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bidlake.atomic_files import atomic_write_with
from contract.events import Column, columns
from ingest.lake_schema import arrow_schema

HOUR_MS = 3_600_000


def ms(text: str) -> int:
    """Epoch ms of an ISO time, UTC ("2024-06-10T00:15:00")."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def _default(column: Column) -> object:
    """The contract's default of a field: "" / 0 / 0.0 / [] (proto3 defaults)."""
    return [] if column.repeated else column.python_type()


def write_events(
    raw: Path, event_type: str, events: Iterable[Mapping[str, object]], name: str
) -> list[Path]:
    """Writes events (dicts, contract field names) into their hour partitions as `name`."""
    schema = arrow_schema(event_type)
    by_hour: dict[int, list[Mapping[str, object]]] = defaultdict(list)
    for event in events:
        unknown = set(event) - set(schema.names)
        if unknown:
            raise ValueError(f"{event_type}: unknown fields {sorted(unknown)}")
        by_hour[int(event["event_time"]) // HOUR_MS].append(event)  # type: ignore[call-overload]
    written = []
    for hour, rows in sorted(by_hour.items()):
        stamp = datetime.fromtimestamp(hour * 3600, tz=UTC)
        folder = raw / event_type / f"event_date={stamp:%Y-%m-%d}" / f"event_hour={stamp:%H}"
        folder.mkdir(parents=True, exist_ok=True)
        data = {c.name: [row.get(c.name, _default(c)) for row in rows] for c in columns(event_type)}
        table = pa.table(data, schema=schema)
        write = functools.partial(pq.write_table, table, compression="zstd")
        written.append(atomic_write_with(folder / f"{name}.parquet", write))
    return written
