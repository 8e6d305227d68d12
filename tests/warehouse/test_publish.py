"""Publication: old catalogs and the snapshot files only they used are removed after the
grace period, and not before."""

from __future__ import annotations

from pathlib import Path

from bidlake.paths import Home
from tests.warehouse.conftest import write_scenario
from warehouse import catalog
from warehouse.build import build
from warehouse.publish import publish


def test_old_publications_are_removed_after_the_grace_period(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    write_scenario(home.raw)
    first = build(home=home)
    assert first.success and first.publication is not None
    reader = catalog.connect_read_only(home)  # a reader on the first publication
    second = publish(home, grace=3600.0)
    kept = sorted(p.name for p in (home.catalog / "publications").iterdir())
    assert kept == sorted([first.publication.publication_id, second.publication_id])
    # within the grace period the old reader still reads
    assert reader.execute("select count(*) from ftr_ctr_training").fetchall() == [(3,)]
    reader.close()
    third = publish(home, grace=0.0)
    assert third.removed_publications == 2
    assert [p.name for p in (home.catalog / "publications").iterdir()] == [third.publication_id]
    # only the files the current catalog uses remain, and it still reads them all
    data_files = {
        str(p.relative_to(home.catalog)) for p in (home.catalog / "data").rglob("*.parquet")
    }
    manifest_files = catalog_files(home)
    assert data_files == manifest_files
    con = catalog.connect_read_only(home)
    try:
        assert con.execute("select count(*) from ftr_ctr_training").fetchall() == [(3,)]
    finally:
        con.close()


def catalog_files(home: Home) -> set[str]:
    import json

    manifest = json.loads((catalog.current_catalog(home).parent / "manifest.json").read_text())
    return {
        f
        for entry in manifest["relations"].values()
        if entry["kind"] == "snapshot"
        for f in entry["files"]
    }
