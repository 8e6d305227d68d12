"""The lake's schema follows the contract (`ingest.lake_schema`): when the contract gains an
optional field, old partitions stay readable next to new ones."""

from __future__ import annotations

from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.internal.encoder import _VarintBytes

from bidlake.paths import Home
from contract import events as contract
from contract.events import Column
from ingest import lake, pipeline
from ingest.compaction import compact
from ingest.lake_schema import arrow_type
from tests.ingest.factories import HOUR, T0, event, events, land

# v2 of the click contract: v1 plus an optional string field number 6.
V2 = (*contract.columns("click"), Column("referrer", 6, FieldDescriptor.TYPE_STRING, False, None))


def v2_columns(event_type: str) -> tuple[Column, ...]:
    return V2 if event_type == "click" else contract.columns(event_type)


def v2_protobuf(e: dict[str, object]) -> bytes:
    """A v2 click on the wire: the v1 fields, then field 6 (what a v2 writer emits)."""
    v1 = {k: v for k, v in e.items() if k != "referrer"}
    body = contract.EVENT_MESSAGES["click"](**v1).SerializeToString()
    extra = str(e["referrer"]).encode()
    return body + b"\x32" + _VarintBytes(len(extra)) + extra


def test_old_and_new_partitions_read_together(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = Home(home)
    landing = tmp_path / "landing"
    land(landing, "click", events("click", 6), writer_id="old")  # hour 0, contract v1
    pipeline.ingest(landing)

    # The contract gains `referrer`; v2 writers log it, in JSON and in protobuf.
    monkeypatch.setattr(pipeline, "contract_columns", v2_columns)
    new = [event("click", 100 + i, t=T0 + HOUR, referrer=f"https://r{i}") for i in range(4)]
    path = landing / "click" / "new-20260105T01-000000.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in new[:2]))
    path = landing / "click" / "new-20260105T01-000001.pb"
    path.write_bytes(b"".join(_VarintBytes(len(b)) + b for b in map(v2_protobuf, new[2:])))
    report = pipeline.ingest(landing)
    assert report.totals() == {"records": 4, "raw": 4, "quarantined": 0, "duplicates": 0}

    glob = str(h.raw / "click" / "*" / "*" / "*.parquet")
    by_hour = duckdb.sql(
        f"""
        SELECT event_hour, count(*) AS n, count(referrer) AS with_referrer
        FROM read_parquet('{glob}', union_by_name = true, hive_partitioning = true)
        GROUP BY ALL ORDER BY ALL
        """
    ).fetchall()
    assert [(int(hour), n, r) for hour, n, r in by_hour] == [(0, 6, 0), (1, 4, 4)]

    schema = pa.schema([pa.field(c.name, arrow_type(c)) for c in V2])
    table = ds.dataset(lake.live_files("click", h), schema=schema, format="parquet").to_table()
    referrers = sorted((r or "") for r in table["referrer"].to_pylist())
    assert referrers == [""] * 6 + [f"https://r{i}" for i in range(4)]

    # A v1 reader, knowing nothing of `referrer`, reads the new partitions unchanged.
    v1_names = ", ".join(c.name for c in contract.columns("click"))
    v1_query = f"SELECT {v1_names} FROM read_parquet('{glob}', union_by_name = true)"
    count = duckdb.sql(f"SELECT count(*) FROM ({v1_query})").fetchall()
    assert count == [(10,)]


def test_compaction_merges_files_of_both_schemas(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    land(landing, "click", events("click", 3), writer_id="old")
    pipeline.ingest(landing)
    monkeypatch.setattr(pipeline, "contract_columns", v2_columns)
    path = landing / "click" / "new-20260105T00-000000.jsonl"
    path.write_bytes(orjson.dumps(event("click", 50, referrer="https://x")) + b"\n")
    pipeline.ingest(landing)
    report = compact(grace_seconds=3600)
    assert (report.files_in, report.files_out) == (2, 1)
    (merged,) = lake.live_files("click", Home(home))
    table = ds.dataset(merged, format="parquet").to_table()
    assert "referrer" in table.column_names
    assert sorted(table["referrer"].to_pylist(), key=lambda r: r or "") == [None] * 3 + [
        "https://x"
    ]
