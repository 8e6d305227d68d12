"""Reading the warehouse: the published, read-only catalog.

A catalog is a small DuckDB file made by `publish()` for one successful build. It holds no
data, only views by name:
  - every reporting and feature mart and every staging model (`rpt_campaign_daily`,
    `ftr_ctr_training`, `stg_tracker__clicks`, ...), over immutable Parquet snapshots;
  - `raw_<event_type>` for each event type of the lake, over the lake's files as they were
    when it was published (an explicit list, so a file ingest adds later never half-appears);
  - `_publication`, one row saying which publication this is and when it was made.
`<home>/catalog/current.duckdb` is a symlink to the newest catalog, swapped atomically.
Readers open it read-only: nothing they do can lock out a build, and a build never changes
a file they read. A publication stays readable for a grace period after the next one
(BIDLAKE_CATALOG_GRACE_SECONDS, default 3600): reconnect at least that often.

SQLAlchemy (duckdb-engine): `sqlalchemy_url()` gives
    duckdb:////<abs home>/catalog/current.duckdb?access_mode=read_only
A pooled connection stays on the publication it opened: use `poolclass=NullPool` (each
connection then opens the current catalog) or recycle connections within the grace period.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bidlake.paths import Home
from bidlake.paths import home as current_home

if TYPE_CHECKING:
    import duckdb

CURRENT = "current.duckdb"


class CatalogNotPublishedError(FileNotFoundError):
    """No build has been published for this data home yet."""


def current_link(home: Home | None = None) -> Path:
    return (home or current_home()).catalog / CURRENT


def current_catalog(home: Home | None = None) -> Path:
    """The catalog file `current.duckdb` points at now."""
    link = current_link(home)
    if not link.is_symlink() and not link.exists():
        raise CatalogNotPublishedError(
            f"no published warehouse in {link.parent}: run `bidlake build` first"
        )
    return link.resolve(strict=True)


def connect_read_only(home: Home | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to the current catalog, in UTC.

    The connection stays on the publication it opened; open a new one to see a newer build.
    """
    import duckdb

    con = duckdb.connect(str(current_catalog(home)), read_only=True)
    # Dates and hours of timestamptz values are UTC, as in the models.
    con.execute("set TimeZone = 'UTC'")
    return con


def sqlalchemy_url(home: Home | None = None) -> str:
    """The SQLAlchemy URL of the warehouse (duckdb-engine), read-only."""
    link = current_link(home).absolute()
    return f"duckdb:///{link}?access_mode=read_only"
