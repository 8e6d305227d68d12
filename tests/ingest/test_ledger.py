from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bidlake.paths import Home
from ingest import lake
from ingest.ledger import Commit, LakeBusy, Ledger, Output


def staged_commit(home: Home, name: str = "c1") -> Commit:
    ledger = Ledger(home)
    rel = f"raw/click/{lake.partition_of(491_000)}/part-{name}.parquet"
    staged = ledger.staging(name) / rel
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"PAR1 not really")
    return Commit(name, "ingest", 1, outputs=[Output(rel, 1, staged.stat().st_size)])


def test_recover_rolls_a_pending_commit_forward(home: Path) -> None:
    h = Home(home)
    ledger = Ledger(h)
    commit = staged_commit(h)
    ledger.prepare(commit)  # then the process dies
    assert ledger.commits() == []
    assert ledger.recover() == ["c1"]
    assert [c.commit_id for c in ledger.commits()] == ["c1"]
    assert (h.lake / commit.outputs[0].path).exists()
    assert not (h.lake / "_staging" / "c1").exists()
    assert ledger.recover() == []  # idempotent


def test_recover_drops_staging_litter_of_commits_never_prepared(home: Path) -> None:
    h = Home(home)
    staged_commit(h, "c2")  # written to staging, then the process died
    assert Ledger(h).recover() == []
    assert not (h.lake / "_staging" / "c2").exists()
    assert lake.data_files(h, "click") == []


def test_a_pending_commit_missing_its_files_is_undone(home: Path) -> None:
    h = Home(home)
    ledger = Ledger(h)
    commit = staged_commit(h, "c3")
    commit.outputs.append(
        Output("raw/click/event_date=2026-01-06/event_hour=09/gone.parquet", 1, 1)
    )
    ledger.prepare(commit)
    first = commit.outputs[0].path
    lake.publish([(ledger.staging("c3") / first, h.lake / first)])  # then the crash
    assert lake.data_files(h, "click")
    assert ledger.recover() == []
    assert ledger.commits() == [] and lake.data_files(h, "click") == []


def test_one_writer_at_a_time(home: Path) -> None:
    ledger = Ledger(Home(home))
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with ledger.lock():
            entered.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    entered.wait(30)
    try:
        # flock locks belong to open file descriptions: a second open conflicts even in
        # the same process, as it would from another one.
        with pytest.raises(LakeBusy), ledger.lock(wait=False):
            pass
    finally:
        release.set()
        holder.join()
    with ledger.lock(wait=False):
        pass
