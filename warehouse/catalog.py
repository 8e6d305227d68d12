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

Two ways in:
  - analysts (`bidlake sql`, notebooks, BI tools): `connect_analyst()` and, for SQLAlchemy,
    `analyst_engine()` - the same sandbox (warehouse/sandbox.py): one read-only query per
    call, files outside the catalog and the lake unreachable, settings locked. The bare URL
    `duckdb:///.../current.duckdb?access_mode=read_only` is no longer supported: a
    read-only DuckDB still runs COPY ... TO, ATTACH, INSTALL and reads any file
    (docs/security.md, "Analyst SQL");
  - bidlake's own code with fixed queries (ml training, the PostgreSQL export, run
    summaries): `connect_read_only()`, a plain read-only connection.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bidlake.paths import Home
from bidlake.paths import home as current_home

if TYPE_CHECKING:
    import duckdb
    import sqlalchemy

    from warehouse.sandbox import AnalystConnection

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


def connect_analyst(home: Home | None = None) -> AnalystConnection:
    """The analysts' connection: sandboxed, read-only, in UTC (warehouse.sandbox)."""
    from warehouse.sandbox import connect_analyst as _connect_analyst

    return _connect_analyst(home)


def analyst_engine(home: Home | None = None, **kwargs: Any) -> sqlalchemy.Engine:
    """A SQLAlchemy engine over `connect_analyst()` connections (warehouse.sandbox)."""
    from warehouse.sandbox import analyst_engine as _analyst_engine

    return _analyst_engine(home, **kwargs)


def connect_read_only(home: Home | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection to the current catalog, in UTC, for bidlake's own code.

    Not for SQL typed by people: that is `connect_analyst()`. Extensions are never
    installed or loaded automatically; spills go to a private temporary folder (published
    folders are read-only). The connection stays on the publication it opened; open a new
    one to see a newer build.
    """
    import duckdb

    con = duckdb.connect(
        str(current_catalog(home)),
        read_only=True,
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "temp_directory": _process_temp_dir(),
        },
    )
    # Dates and hours of timestamptz values are UTC, as in the models.
    con.execute("set TimeZone = 'UTC'")
    return con


_TEMP_DIRS: dict[int, str] = {}


def _process_temp_dir() -> str:
    """One temporary folder per process: DuckDB shares an instance between connections to
    one file only if their configuration is identical."""
    pid = os.getpid()
    if pid not in _TEMP_DIRS:
        _TEMP_DIRS[pid] = tempfile.mkdtemp(prefix="bidlake-duckdb-")
        atexit.register(_remove_temp_dir, pid)
    return _TEMP_DIRS[pid]


def _remove_temp_dir(pid: int) -> None:
    path = _TEMP_DIRS.pop(pid, None)
    if path and pid == os.getpid():  # not a forked child's copy of the parent's handler
        shutil.rmtree(path, ignore_errors=True)
