"""`bidlake build` killed (SIGKILL) while dbt runs, and again while it publishes: analysts
never see a broken or half-new warehouse, and the next build repairs everything.

One home gets the warehouse tests' scenario lake and a good build (publication P1), then a
late batch lands. A reader thread keeps opening the published catalog
(`warehouse.catalog.connect_read_only`) and reading totals from the reporting marts, the
features and the raw views, and `bidlake sql` runs as a process during the killed build.
Promises checked (warehouse/catalog.py, README "SQL for analysts"):
- every read is complete and consistent: the totals of the publication it opened - P1's
  until a new build publishes, never an error, never a mix;
- a killed build publishes nothing and leaves no lock behind;
- the next build succeeds, and every published relation equals a clean full build of the
  same lake.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bidlake.paths import Home
from tests.reliability.conftest import published
from tests.reliability.support import bidlake, kill_when, run_bidlake, stop
from tests.warehouse.conftest import write_late_batch, write_scenario
from warehouse import project
from warehouse.build import BuildResult, build
from warehouse.catalog import connect_read_only

TOTALS = """
select
    (select publication_id from _publication),
    (select [count(*), sum(bids), sum(impressions), sum(clicks), sum(spend_micros),
             sum(conversions)]::bigint[] from rpt_campaign_daily),
    (select count(*) from ftr_ctr_training),
    (select count(*) from ftr_cvr_training),
    (select count(*) from stg_tracker__bid_requests),
    (select count(*) from raw_bid_request)
"""


def _ok(result: BuildResult) -> BuildResult:
    assert result.success, [(n.name, n.message) for n in result.failed] or result.error
    assert result.publication is not None
    return result


def totals(home: Home) -> tuple[str, tuple[object, ...]]:
    con = connect_read_only(home)
    try:
        row = con.execute(TOTALS).fetchone()
    finally:
        con.close()
    assert row is not None
    return str(row[0]), tuple(tuple(v) if isinstance(v, list) else v for v in row[1:])


@dataclass
class Reader:
    """Reads the warehouse in a loop, as an analyst's dashboard would."""

    home: Home
    seen: dict[str, set[tuple[object, ...]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    reads: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Reader:
        self._thread = threading.Thread(target=self._loop, name="reader", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                publication, values = totals(self.home)
            except Exception as exc:  # every failure is a finding
                self.errors.append(f"{type(exc).__name__}: {exc}")
            else:
                self.seen.setdefault(publication, set()).add(values)
                self.reads += 1
            self._stop.wait(0.05)


def _models_finished(log: Path, offset: int) -> int:
    if not log.exists():
        return 0
    with log.open("rb") as handle:
        handle.seek(offset)
        return handle.read().count(b"Finished running node model.")


def _log_size(log: Path) -> int:
    return log.stat().st_size if log.exists() else 0


def test_killed_build_never_shows_analysts_a_broken_warehouse(
    tmp_path: Path, scenario_reference: dict[str, list[tuple]]
) -> None:
    rng = random.Random(3)
    home = Home(tmp_path / "home")
    write_scenario(home.raw)
    first = _ok(build(home=home))
    p1, before = totals(home)
    assert first.publication is not None and p1 == first.publication.publication_id
    write_late_batch(home.raw)  # new data the killed builds do not get to publish
    dbt_log = project.dbt_log_dir(home) / "dbt.log"
    output = tmp_path / "build.out"

    with Reader(home) as reader:
        # 1. Killed while dbt runs, after a random number of models (of ~17).
        after_models = rng.randint(2, 12)
        offset = _log_size(dbt_log)
        process = bidlake(home, "build", log=output)
        try:
            sql = run_bidlake(home, "sql", "select * from rpt_campaign_daily", "--format", "json")
            killed = kill_when(process, lambda: _models_finished(dbt_log, offset) >= after_models)
        finally:
            stop(process)
        assert killed, output.read_text(errors="replace")
        assert sql.returncode == 0, sql.stderr
        assert sum(r["impressions"] for r in json.loads(sql.stdout)) == before[0][2]
        assert totals(home) == (p1, before)

        # 2. Killed while publishing: dbt is done, the new catalog half written.
        publications = home.catalog / "publications"
        existing = set(publications.iterdir())
        process = bidlake(home, "build", log=output)
        try:
            killed = kill_when(process, lambda: set(publications.iterdir()) - existing != set())
        finally:
            stop(process)
        assert killed, output.read_text(errors="replace")
        assert totals(home) == (p1, before)

        # 3. The next build (no lock left behind) repairs and publishes.
        final = _ok(build(home=home))
        time.sleep(0.3)  # a few reads of the new publication
    assert final.publication is not None
    p_final, after = totals(home)
    assert p_final == final.publication.publication_id and after != before

    assert reader.errors == []
    assert reader.reads > 20
    assert reader.seen[p1] == {before}  # every read of P1: P1's totals, whole
    assert set(reader.seen) <= {p1, p_final}
    assert reader.seen.get(p_final, {after}) == {after}

    # The repaired warehouse equals a clean full build of the same lake.
    assert published(home) == scenario_reference
