from __future__ import annotations

from pathlib import Path

import pytest

from bidlake.paths import Home
from ingest import lake


def test_partition_paths_round_trip() -> None:
    assert lake.partition_of(491_000) == "event_date=2026-01-05/event_hour=08"
    assert lake.bucket_of("event_date=2026-01-05/event_hour=08") == 491_000
    with pytest.raises(ValueError):
        lake.bucket_of("event_date=2026-01-06/event_hour=24")


def test_publish_never_replaces_a_file_already_there(tmp_path: Path) -> None:
    # A crashed commit published this file already; a reader may have it open.
    staged, final = tmp_path / "_staging" / "a.parquet", tmp_path / "raw" / "a.parquet"
    for path, data in ((staged, b"again"), (final, b"first")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    fresh = tmp_path / "_staging" / "b.parquet"
    fresh.write_bytes(b"new")
    assert lake.publish([(staged, final), (fresh, tmp_path / "raw" / "b.parquet")]) == [
        final,
        tmp_path / "raw" / "b.parquet",
    ]
    assert final.read_bytes() == b"first" and not staged.exists()
    assert (tmp_path / "raw" / "b.parquet").read_bytes() == b"new" and not fresh.exists()


def test_the_manifest_lists_live_files_and_counts_generations(home: Path) -> None:
    h = Home(home)
    names = ["part-a.parquet", "part-b.parquet", ".part-c.parquet.tmp"]
    folder = h.raw / "click" / lake.partition_of(491_000)
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_bytes(b"")
    retired = {f"click/{lake.partition_of(491_000)}/part-a.parquet"}
    lake.write_manifest(h, retired)
    assert lake.live_files("click", h) == [folder / "part-b.parquet"]
    assert lake.live_files("bid", h) == []
    lake.write_manifest(h, set())
    assert lake.read_manifest(h)["generation"] == 2
    assert lake.live_files("click", h) == [folder / n for n in names[:2]]
    assert [p.name for p in h.ledger.iterdir()] == ["manifest.json"]  # no temp file left
