"""Readers keep working, and see whole publications, while builds and ingest run.

Reader threads query the published catalog in a loop - each loop a fresh read-only
connection, as `bidlake sql` or a notebook would open - while, in another process,
`bidlake build` rebuilds the warehouse and swaps in a new catalog, and while new files
land in the lake. Every query must succeed, and within one connection the reports must
agree with the feature mart and staging (all from one publication, never a mix).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from benchmarks.warehouse.synth import synthesize
from bidlake.paths import REPO_ROOT, Home
from warehouse.build import build
from warehouse.catalog import connect_read_only

START_MS = 1_717_200_000_000  # 2024-06-01T00:00Z
HOUR_MS = 3_600_000
READERS = 3

CONSISTENCY = """
select
    (select publication_id from _publication),
    (select sum(impressions) from rpt_campaign_daily),
    (select count(*) from ftr_ctr_training),
    (select count(*) from stg_tracker__impressions),
    (select sum(bid_requests) from rpt_exchange_hourly),
    (select count(*) from stg_tracker__bid_requests)
"""


@dataclass
class Observations:
    queries: int = 0
    errors: list[str] = field(default_factory=list)
    inconsistent: list[tuple] = field(default_factory=list)
    publications: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _reader(home: Home, stop: threading.Event, seen: Observations) -> None:
    while not stop.is_set():
        try:
            con = connect_read_only(home)
            try:
                row = con.execute(CONSISTENCY).fetchall()[0]
                # an analyst's query on the raw lake, through the published file list
                con.execute(
                    "select exchange, event_hour, count(*) from raw_bid_request group by all"
                ).fetchall()
            finally:
                con.close()
        except Exception as exc:  # any error at all is a failure of the design under test
            with seen.lock:
                seen.errors.append(f"{type(exc).__name__}: {exc}")
            continue
        publication, impressions, ctr_rows, staged, requests, staged_requests = row
        with seen.lock:
            seen.queries += 1
            seen.publications.add(publication)
            if not (impressions == ctr_rows == staged and requests == staged_requests):
                seen.inconsistent.append(row)


def test_readers_during_a_build_and_ingest(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    synthesize(home.raw, START_MS, hours=1, rate=20)
    first = build(home=home)
    assert first.success and first.publication is not None

    seen = Observations()
    stop = threading.Event()
    readers = [
        threading.Thread(target=_reader, args=(home, stop, seen), daemon=True)
        for _ in range(READERS)
    ]
    for reader in readers:
        reader.start()
    try:
        # Ingest lands a new hour while readers read ...
        synthesize(home.raw, START_MS + HOUR_MS, hours=1, rate=20)
        # ... then a build in its own process, as cron or Dagster would run it.
        env = {**os.environ, "BIDLAKE_HOME": str(home.root)}
        build_process = subprocess.run(
            [sys.executable, "-m", "bidlake.cli", "build", "--warn-error"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        # and ingest again while readers still read the new publication
        synthesize(home.raw, START_MS + 2 * HOUR_MS, hours=1, rate=20)
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=60)

    assert build_process.returncode == 0, build_process.stderr[-3000:]
    assert "published" in build_process.stderr
    assert seen.errors == []
    assert seen.inconsistent == []
    assert seen.queries >= READERS
    # the readers really ran across the swap of catalogs
    assert first.publication.publication_id in seen.publications
    assert len(seen.publications) == 2


def test_a_second_build_of_the_same_home_is_refused_while_one_runs(tmp_path: Path) -> None:
    from warehouse import locking, project

    home = Home(tmp_path / "home")
    home.root.mkdir(parents=True)
    with locking.exclusive(project.build_lock(home), "test"):
        env = {**os.environ, "BIDLAKE_HOME": str(home.root)}
        refused = subprocess.run(
            [sys.executable, "-m", "bidlake.cli", "build"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert refused.returncode == 2
    assert f"pid {os.getpid()}" in refused.stderr


def test_readers_get_a_clear_error_before_the_first_build(tmp_path: Path) -> None:
    from warehouse.catalog import CatalogNotPublishedError

    with pytest.raises(CatalogNotPublishedError, match="run `bidlake build` first"):
        connect_read_only(Home(tmp_path / "empty"))
