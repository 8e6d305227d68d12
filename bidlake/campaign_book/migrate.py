"""The campaign book's migrations, run in code: Alembic with a configuration built here (the
scripts are in `migrations/`, inside the package; no alembic.ini anywhere).

`upgrade(connection)` brings a database to HEAD inside the caller's transaction, which
holds the book's write lock (store.CampaignStore.ensure_ready: BEGIN IMMEDIATE on SQLite,
an advisory transaction lock on PostgreSQL), so processes starting together migrate once.
Alembic is imported only when a migration has to run: a bidder starting on an up-to-date
book reads one row of the version table instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

from bidlake.campaign_book.model import VERSION_TABLE

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

SCRIPTS = Path(__file__).with_name("migrations")
HEAD = "0001"  # the newest revision in migrations/versions (a test checks they agree)
KNOWN = ("0001",)  # every revision, oldest first


class SchemaError(RuntimeError):
    """The database's schema is newer than this bidlake knows."""


def config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def current_revision(connection: Connection) -> str | None:
    """The database's revision; None when it has no campaign book yet."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    row = connection.execute(text(f"select version_num from {VERSION_TABLE}")).first()
    return None if row is None else str(row[0])


def check(revision: str | None) -> bool:
    """True when the database is at HEAD; False when it needs `upgrade`."""
    if revision is not None and revision not in KNOWN:
        raise SchemaError(
            f"the campaign book's schema is at revision {revision!r}, newer than this "
            f"bidlake knows ({HEAD}): upgrade bidlake"
        )
    return revision == HEAD


def upgrade(connection: Connection) -> None:
    """Migrate to HEAD on `connection`, in its open transaction."""
    from alembic import command

    command.upgrade(config(connection), "head")
