"""Warehouse benchmark: full and incremental dbt builds of a day at 500 requests/s, and the
latency of typical analyst queries on the published catalog.

Scenario: a simulated day of traffic at 500 bid requests/s (43.2 M opportunities, ~4.3 M
bids, ~0.87 M impressions; benchmarks/warehouse/synth.py, cached under
benchmarks/results/ because it is deterministic), then one more hour.

Figures (all from this process tree):
- full build: the first `dbt build` of the day (models, tests, unit tests), then publish;
- incremental hour: `dbt build` after the next hour lands (its late events included),
  in this process (dbt already imported and parsed: how a scheduler that keeps a process
  runs it) and as a fresh `bidlake build` process (dbt start-up and parsing included);
  the ratio is to the full build (target <= 0.1);
- queries, best of 3, through `connect_read_only()` - a day of raw bid requests grouped by
  exchange and hour, a week's campaign report - against the same query by bare DuckDB on
  the lake's Parquet glob (baseline).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from benchmarks.harness import Figure, best_of
from benchmarks.warehouse.synth import synthesize
from bidlake.paths import REPO_ROOT, Home

PART = "warehouse"
RATE = 500
START_MS = 1_717_200_000_000  # 2024-06-01T00:00:00Z
HOUR_MS = 3_600_000
CACHE = REPO_ROOT / "benchmarks" / "results" / "warehouse"

DAY_OF_RAW_REQUESTS = """
    select exchange, event_hour, count(*) as bid_requests
    from raw_bid_request
    where event_date = date '2024-06-01'
    group by all order by all
"""
BARE_DAY_OF_RAW_REQUESTS = """
    select exchange, event_hour, count(*) as bid_requests
    from read_parquet('{raw}/bid_request/event_date=2024-06-01/event_hour=*/*.parquet',
        hive_partitioning = true)
    group by all order by all
"""
CAMPAIGN_WEEK = """
    select campaign_id, sum(bids) as bids, sum(impressions) as impressions,
        sum(clicks) as clicks, sum(conversions) as conversions,
        sum(spend_micros) as spend_micros,
        sum(clicks) / nullif(sum(impressions), 0) as ctr
    from rpt_campaign_daily
    where report_date between date '2024-05-26' and date '2024-06-01'
    group by campaign_id order by campaign_id
"""


def _lake_day() -> Path:
    """The cached synthetic day (its raw lake folder), made on first use."""
    raw = CACHE / f"day-{RATE}rps" / "raw"
    done = raw.parent / "COMPLETE"
    if not done.exists():
        shutil.rmtree(raw.parent, ignore_errors=True)
        print(
            f"  synthesizing a day at {RATE} requests/s (cached in {raw.parent}) ...",
            file=sys.stderr,
            flush=True,
        )
        synthesize(raw, START_MS, hours=24, rate=RATE)
        done.write_text("24 hours\n")
    return raw


def _fresh_home(raw_day: Path) -> Home:
    """A new home whose lake holds the cached day (hard links: instant, read-only use)."""
    root = CACHE / "home"
    shutil.rmtree(root, ignore_errors=True)
    home = Home(root)
    shutil.copytree(raw_day, home.raw, copy_function=os.link)
    return home


def run() -> list[Figure]:
    from warehouse.build import build
    from warehouse.catalog import connect_read_only

    home = _fresh_home(_lake_day())
    figures: list[Figure] = []

    full = build(home=home)
    if not full.success:
        raise RuntimeError(f"full build failed: {[(n.name, n.message) for n in full.failed]}")
    assert full.publication is not None
    figures += [
        Figure(
            PART,
            "full dbt build, day at 500 req/s (43.2M requests)",
            full.dbt_seconds,
            "s",
            note=f"{full.count('model')} models, {full.count('test')} tests",
        ),
        Figure(
            PART,
            "publish after full build",
            full.publication.elapsed_s,
            "s",
            note=f"{sum(r.rows_written for r in full.publication.relations):,} rows",
        ),
    ]

    # The next hour lands (with its late events into earlier hours) ...
    synthesize(home.raw, START_MS + 24 * HOUR_MS, hours=1, rate=RATE)
    warm = build(home=home)
    assert warm.success and warm.publication is not None
    figures += [
        Figure(
            PART,
            "incremental hour, dbt build (warm process)",
            warm.dbt_seconds,
            "s",
            baseline="full dbt build, day at 500 req/s (43.2M requests)",
            note="target ratio <= 0.10",
        ),
        Figure(
            PART,
            "publish after incremental hour",
            warm.publication.elapsed_s,
            "s",
            baseline="publish after full build",
            note=f"{sum(r.files_written for r in warm.publication.relations)} files written",
        ),
    ]

    # ... and the hour after, built the way cron would: a fresh `bidlake build` process.
    synthesize(home.raw, START_MS + 25 * HOUR_MS, hours=1, rate=RATE)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bidlake.cli", "build"],
        cwd=REPO_ROOT,
        env={**os.environ, "BIDLAKE_HOME": str(home.root)},
        check=True,
        capture_output=True,
        text=True,
    )
    cold = time.perf_counter() - started
    dbt_part = re.search(r"dbt (\d+\.\d) s", done.stderr)
    figures.append(
        Figure(
            PART,
            "incremental hour, `bidlake build` process (cold)",
            cold,
            "s",
            baseline="full dbt build, day at 500 req/s (43.2M requests)",
            note=f"whole process; dbt {dbt_part[1] if dbt_part else '?'} s of it",
        )
    )

    con = connect_read_only(home)
    try:
        bare = duckdb.connect()

        def raw_query() -> None:
            con.execute(DAY_OF_RAW_REQUESTS).fetchall()

        def bare_query() -> None:
            bare.execute(BARE_DAY_OF_RAW_REQUESTS.format(raw=home.raw)).fetchall()

        def campaign_week() -> None:
            con.execute(CAMPAIGN_WEEK).fetchall()

        bare_s = best_of(3, bare_query)
        figures += [
            Figure(
                PART, "query baseline: day of raw requests, bare DuckDB glob", bare_s * 1000, "ms"
            ),
            Figure(
                PART,
                "query: day of raw requests by exchange and hour",
                best_of(3, raw_query) * 1000,
                "ms",
                baseline="query baseline: day of raw requests, bare DuckDB glob",
                note="raw_bid_request view, target < 1000 ms",
            ),
            Figure(
                PART,
                "query: campaign report for a week",
                best_of(3, campaign_week) * 1000,
                "ms",
                note="rpt_campaign_daily, target < 1000 ms",
            ),
        ]
        bare.close()
    finally:
        con.close()
    return figures
