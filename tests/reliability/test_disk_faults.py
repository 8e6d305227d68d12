"""A full disk and refused writes during ingest and during publication.

Real ENOSPC comes from a small tmpfs mounted over the lake or the catalog (root on Linux;
elsewhere the lake test is skipped and the catalog's fault injected); every other step of
the commit and publication protocols gets its fault injected (`monkeypatch`), ENOSPC or
EACCES as the kernel would raise them. Each time, the promise is the same:
- the command fails with a clear message naming the file it could not write and why (no
  traceback), exit status 3 for ingest, 1 for build;
- readers keep a consistent lake and the last good catalog meanwhile;
- once the space is back (or the permission fixed), a plain rerun completes and equals a
  clean run: same rows, same quarantine, same ledger, the same published warehouse.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from bidlake.cli import main
from bidlake.paths import Home
from contract.events import EVENT_TYPES
from ingest import lake, pipeline
from tests.reliability.conftest import Simulated, published
from tests.reliability.support import assert_sound, fill, lake_state, resize, run_bidlake, tmpfs
from tests.reliability.test_build_crash import totals
from tests.warehouse.conftest import write_late_batch, write_scenario
from warehouse import publish
from warehouse.build import build


def enospc(*_: object) -> OSError:
    """What write(2) raises on a full disk: no file name (the writer must add it)."""
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def eacces(path: object, *rest: object) -> OSError:
    """What open(2) or rename(2) raise when refused: with the file name(s)."""
    target = rest[0] if rest else None
    return PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path), None, target)


def _readable(home: Home) -> None:
    for event_type in EVENT_TYPES:
        for path in lake.live_files(event_type, home):
            pq.read_metadata(path)


# ------------------------------------------------------------------------------ ingest


def test_ingest_on_a_full_disk_fails_clearly_and_resumes(
    simulated: Simulated, tmp_path: Path
) -> None:
    home = Home(tmp_path / "home")
    args = ("ingest", str(simulated.landing), "--batch-mb", "0")
    # Skipped where no tmpfs can be mounted: the next test injects the fault at every step.
    with tmpfs(home.lake, "1m"):
        full = run_bidlake(home, *args)
        out = full.stdout + full.stderr
        assert full.returncode == 3, out
        assert "No space left on device" in out and str(home.lake) in out
        assert "Traceback" not in out
        _readable(home)
        resize(home.lake, "64m")
        again = run_bidlake(home, *args)
        assert again.returncode == 0, again.stdout + again.stderr
        state = lake_state(home)
    assert_sound(state)
    assert state == simulated.clean


def _nth(
    n: int, fault: Callable[..., OSError], when: Callable[..., bool] = lambda *a: True
) -> Callable[[Callable], Callable]:
    """A wrapper of `real` raising `fault(*args)` on the nth call for which `when(*args)`
    holds."""

    def wrap(real: Callable) -> Callable:
        calls = 0

        def faulty(*args: object, **kwargs: object) -> object:
            nonlocal calls
            if when(*args):
                calls += 1
                if calls == n:
                    raise fault(*args)
            return real(*args, **kwargs)

        return faulty

    return wrap


def _in(folder: str) -> Callable[..., bool]:
    return lambda path, *_: Path(path).parent.name == folder


def _named(name: str) -> Callable[..., bool]:
    return lambda path, *_: Path(path).name == name


# step -> (module, attribute, wrapper, what the message must name)
STEPS = {
    "staged parquet, disk full": (lake.pq, "write_table", _nth(3, enospc), "_staging"),
    "quarantined file copy, denied": (
        pipeline,
        "_copy_file",
        _nth(1, lambda src, dst: eacces(dst)),
        "w9-",
    ),
    "commit intent, disk full": (lake, "atomic_write", _nth(2, enospc, _in("pending")), "pending"),
    "rename into the lake, denied": (
        os,
        "replace",
        _nth(4, eacces, lambda src, dst: "/raw/" in str(dst)),
        "/raw/",
    ),
    "ledger entry, disk full": (lake, "atomic_write", _nth(3, enospc, _in("batches")), "batches"),
    "manifest, disk full": (
        lake,
        "atomic_write",
        _nth(2, enospc, _named(lake.MANIFEST_NAME)),
        lake.MANIFEST_NAME,
    ),
    # The last commit's manifest: the rerun has no batch left to commit.
    "last manifest, disk full": (lake, "atomic_write", None, lake.MANIFEST_NAME),
}


@pytest.mark.parametrize("step", list(STEPS))
def test_ingest_write_fault_at_each_step_fails_clearly_and_resumes(
    step: str,
    simulated: Simulated,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = Home(tmp_path / "home")
    monkeypatch.setenv("BIDLAKE_HOME", str(home.root))
    args = ["ingest", str(simulated.landing), "--batch-mb", "0"]
    target, name, wrapper, named = STEPS[step]
    if wrapper is None:  # one commit per landing file
        last = sum(1 for _ in simulated.landing.glob("*/*"))
        wrapper = _nth(last, enospc, _named(lake.MANIFEST_NAME))
    with monkeypatch.context() as patch:
        patch.setattr(target, name, wrapper(getattr(target, name)))
        assert main(args) == 3
    out = " ".join(capsys.readouterr().out.split())
    assert os.strerror(errno.ENOSPC if "full" in step else errno.EACCES) in out
    assert named in out and "run it again" in out, out
    _readable(home)

    assert main(args) == 0
    state = lake_state(home)
    assert_sound(state)
    assert state == simulated.clean


# ------------------------------------------------------------------------- publication


def _duckdb_full(writer: object, select: str, target: Path) -> Exception:
    """What DuckDB's COPY raises when the disk fills under it."""
    return duckdb.IOException(f'IO Error: Could not write file "{target}": No space left on device')


def _duckdb_refused(path: Path, **_: object) -> Exception:
    """What duckdb.connect raises for a catalog file it may not create."""
    return duckdb.IOException(f'IO Error: Cannot open file "{path}": Permission denied')


def test_publication_fault_keeps_the_last_catalog_and_the_next_build_repairs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    scenario_reference: dict[str, list[tuple]],
) -> None:
    home = Home(tmp_path / "home")
    monkeypatch.setenv("BIDLAKE_HOME", str(home.root))
    write_scenario(home.raw)
    home.catalog.mkdir(parents=True)
    catalog = home.catalog
    with tmpfs(catalog, "16m", required=False) as disk:
        first = build(home=home)
        assert first.success and first.publication is not None
        p1, before = totals(home)
        files_before = sorted(catalog.rglob("*"))

        # 1. The catalog's disk is full when the next build publishes (a real full tmpfs,
        # or, where none can be mounted, DuckDB's error injected at the third snapshot).
        write_late_batch(home.raw)
        with monkeypatch.context() as patch:
            if disk is not None:
                filler = fill(disk)
            else:
                full = _nth(3, _duckdb_full)(publish._SnapshotWriter._copy)
                patch.setattr(publish._SnapshotWriter, "_copy", full)
            assert main(["build"]) == 1
        out = " ".join(capsys.readouterr().err.split())
        assert "publication failed" in out and "No space left on device" in out, out
        assert str(catalog) in out and "unchanged" in out
        assert totals(home) == (p1, before)  # readers keep the last good catalog
        if disk is not None:
            filler.unlink()
        assert sorted(catalog.rglob("*")) == files_before  # its partial files are gone

        # 2. Space is back, but the new catalog file cannot be created.
        with monkeypatch.context() as patch:
            refused = _nth(1, _duckdb_refused)(publish._write_catalog)
            patch.setattr(publish, "_write_catalog", refused)
            with pytest.raises(publish.PublishError, match="Permission denied"):
                publish.publish(home)
        assert totals(home) == (p1, before)

        # 3. Fixed: the next build publishes what the failed ones could not.
        final = build(home=home)
        assert final.success and final.publication is not None
        assert totals(home)[0] == final.publication.publication_id
        assert published(home) == scenario_reference
