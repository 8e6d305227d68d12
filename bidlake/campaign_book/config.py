"""Where the campaign book lives: its database URL and the files derived from it.

    BIDLAKE_CAMPAIGNS_URL   the database (SQLAlchemy URL), e.g. postgresql+psycopg://u:pw@h/db
                            for a fleet; default sqlite:///$BIDLAKE_HOME/campaigns.sqlite3
    BIDLAKE_CAMPAIGNS       the JSON book a new, empty database is seeded from (default:
                            the packaged bidlake/campaigns.json)
    <home>/campaign_book/history.jsonl   the history export dbt reads (written by
                            `bidlake build` before dbt runs, or `bidlake campaigns dbt-export`)

Read at call time, like bidlake.paths.
"""

from __future__ import annotations

import os
from pathlib import Path

from bidlake.paths import Home, home

URL_ENV = "BIDLAKE_CAMPAIGNS_URL"
SEED_ENV = "BIDLAKE_CAMPAIGNS"
SQLITE_NAME = "campaigns.sqlite3"


def sqlite_path(where: Home | None = None) -> Path:
    return (where or home()).root / SQLITE_NAME


def database_url(where: Home | None = None) -> str:
    """$BIDLAKE_CAMPAIGNS_URL, else the embedded SQLite file of the data home."""
    url = os.environ.get(URL_ENV, "").strip()
    return url or f"sqlite:///{sqlite_path(where)}"


def history_export_path(where: Home | None = None) -> Path:
    return (where or home()).root / "campaign_book" / "history.jsonl"
