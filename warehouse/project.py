"""Where the dbt project and the warehouse's files are, for one data home.

    <home>/build.duckdb          the private build database: only dbt opens it (read-write)
    <home>/build/target|logs     dbt's target and log folders for builds of this home
    <home>/build.lock            held by the process that builds or publishes this home
    <home>/catalog/current.duckdb  symlink to the published read-only catalog
    <home>/catalog/publications/<id>/  one publication: catalog.duckdb + manifest.json
    <home>/catalog/data/<model>/...    immutable Parquet snapshots the catalogs point at

The dbt profile (dbt_project/profiles.yml) derives the build database's path from the same
BIDLAKE_HOME, so `dbt build` run by hand, by `bidlake build` or by dagster-dbt agree.
"""

from __future__ import annotations

import os
from pathlib import Path

from bidlake.paths import REPO_ROOT, Home

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


def build_database(home: Home) -> Path:
    return home.root / "build.duckdb"


def dbt_target_dir(home: Home) -> Path:
    return home.root / "build" / "target"


def dbt_log_dir(home: Home) -> Path:
    return home.root / "build" / "logs"


def build_lock(home: Home) -> Path:
    return home.root / "build.lock"


def dbt_env(home: Home) -> dict[str, str]:
    """The environment dbt_project/profiles.yml and the sources read, all absolute.

    Writes the campaign book's history export first (<home>/campaign_book/history.jsonl,
    bidlake.campaign_book): the `campaign_book` source reads it, so every build — `bidlake
    build`, Dagster's, `bidlake docs` — sees the book as it is when dbt starts."""
    from bidlake.campaign_book.store import write_history_export  # SQLAlchemy: only here

    return {
        "BIDLAKE_HOME": str(home.root),
        "BIDLAKE_CAMPAIGN_HISTORY": str(write_history_export(home)),
        "BIDLAKE_DBT_TARGET": os.environ.get("BIDLAKE_DBT_TARGET", "dev"),
    }
