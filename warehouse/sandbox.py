"""Analyst SQL: the one sandboxed connection behind `bidlake sql`, Python and SQLAlchemy.

Analysts send SQL text; this module makes sure that text can only read the published
warehouse. Three layers, each measured against DuckDB 2.0 (docs/security.md, "Analyst SQL"):

1. The connection. A fresh in-memory DuckDB (never the process-wide instance cache, so its
   settings cannot leak into, or clash with, another connection of the process) ATTACHes
   the current catalog READ_ONLY; extensions are never installed or loaded automatically;
   then `allowed_directories` = the catalog folder and the raw lake, external access off,
   configuration locked. Reading any other file (`read_text('/etc/passwd')`, `glob`,
   `read_csv`, a URL), ATTACH elsewhere, INSTALL/LOAD and every setting are refused by
   DuckDB itself.
2. The statement. DuckDB still lets the locked connection write into an allowed folder
   (`COPY ... TO`, `EXPORT DATABASE`, `ATTACH ... (READ_ONLY false)`) and create temporary
   tables, so every call is parsed by DuckDB's own parser (`extract_statements`, never a
   regex) and must be exactly one statement of type SELECT (which covers WITH, VALUES,
   FROM-first, DESCRIBE, SHOW, SUMMARIZE) or an EXPLAIN [ANALYZE] of one; EXPLAIN ANALYZE
   runs what it explains, so the explained statement is checked too, and what runs is
   rebuilt from the checked parts.
3. The files. publish() leaves every published file 0444 and its folders 0555, so even a
   DuckDB outside this sandbox, run by a non-root user, cannot rewrite a snapshot.

Python code running in the analyst's own process can always open its own DuckDB: the
sandbox protects against SQL text (typed, pasted, sent by a BI tool), the file modes and
OS users against everything else.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import warnings
import weakref
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import duckdb

from bidlake.paths import Home
from bidlake.paths import home as current_home

if TYPE_CHECKING:
    import sqlalchemy

# Set when connecting: nothing is fetched from the network or loaded from disk, ever.
CONNECT_CONFIG: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_persistent_secrets": False,
}
ALIAS = "catalog"  # the name the attached catalog gets (and its file stem): catalog.main.*
ALLOWED = (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN)
ALLOWED_TEXT = (
    "one read-only query per call: SELECT, WITH, VALUES, FROM, DESCRIBE, SHOW, SUMMARIZE, "
    "PIVOT ... IN (...), or EXPLAIN [ANALYZE] of one of them"
)
# How a refused statement type is named in the error (DuckDB files INSTALL under LOAD).
_TYPE_NAMES = {
    duckdb.StatementType.LOAD: "INSTALL/LOAD",
    duckdb.StatementType.SET: "SET/RESET/USE (or PRAGMA x = y)",
    duckdb.StatementType.VARIABLE_SET: "SET VARIABLE",
    duckdb.StatementType.MULTI: "multi-step (e.g. PIVOT without IN (...))",
    duckdb.StatementType.TRANSACTION: "transaction (BEGIN/COMMIT/ROLLBACK)",
    duckdb.StatementType.COPY_DATABASE: "COPY FROM DATABASE",
    duckdb.StatementType.CALL: "CALL/CHECKPOINT",
}


_PARSERS = threading.local()


class RefusedStatementError(duckdb.PermissionException):
    """The SQL is not exactly one read-only query (raised before anything runs)."""


def type_name(kind: duckdb.StatementType) -> str:
    return _TYPE_NAMES.get(kind, kind.name)


# ------------------------------------------------------------------------ the statement


def checked(parser: duckdb.DuckDBPyConnection, sql: str) -> str | duckdb.Statement:
    """What to run for `sql`: its one parsed SELECT, or a rebuilt EXPLAIN; else refuses.

    `parser` is any DuckDB connection (parsing touches no data).
    """
    if not isinstance(sql, str):
        raise RefusedStatementError(f"analyst SQL must be text, not {type(sql).__name__}")
    statements = parser.extract_statements(sql)  # a syntax error is DuckDB's to explain
    if not statements:
        raise RefusedStatementError(f"no SQL statement; analyst SQL is {ALLOWED_TEXT}")
    if len(statements) > 1:
        kinds = ", ".join(type_name(s.type) for s in statements)
        raise RefusedStatementError(
            f"{len(statements)} statements ({kinds}); one per call. Analyst SQL is {ALLOWED_TEXT}"
        )
    statement = statements[0]
    if statement.type == duckdb.StatementType.SELECT:
        return statement
    if statement.type == duckdb.StatementType.EXPLAIN:
        return _checked_explain(parser, statement.query)
    raise RefusedStatementError(
        f"{type_name(statement.type)} statements are not allowed; analyst SQL is {ALLOWED_TEXT}"
    )


def _checked_explain(parser: duckdb.DuckDBPyConnection, sql: str) -> str:
    """`EXPLAIN [ANALYZE] <query>`, rebuilt from its checked query (ANALYZE runs it)."""
    tokens = [pos for pos, kind in duckdb.tokenize(sql) if kind != duckdb.token_type.comment]
    words = [_word_at(sql, pos) for pos in tokens]
    analyze = len(words) > 1 and words[1] in ("analyze", "analyse")
    body_at = 2 if analyze else 1
    if words[:1] != ["explain"] or len(tokens) <= body_at:
        raise RefusedStatementError(f"only EXPLAIN [ANALYZE] <query> is allowed; {ALLOWED_TEXT}")
    body = sql[tokens[body_at] :]
    try:
        inner = parser.extract_statements(body)
    except duckdb.Error as exc:
        raise RefusedStatementError(
            f"only EXPLAIN [ANALYZE] <query> is allowed (no options): {str(exc).splitlines()[0]}"
        ) from exc
    if len(inner) != 1 or inner[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(type_name(s.type) for s in inner) or "nothing"
        raise RefusedStatementError(
            f"EXPLAIN of {kinds} is not allowed (EXPLAIN ANALYZE runs it); analyst SQL is "
            f"{ALLOWED_TEXT}"
        )
    rebuilt = f"EXPLAIN {'ANALYZE ' if analyze else ''}{inner[0].query}"
    again = parser.extract_statements(rebuilt)
    if len(again) != 1 or again[0].type != duckdb.StatementType.EXPLAIN:
        raise RefusedStatementError(f"only EXPLAIN [ANALYZE] <query> is allowed; {ALLOWED_TEXT}")
    return rebuilt


def _word_at(sql: str, pos: int) -> str:
    end = pos
    while end < len(sql) and (sql[end].isalnum() or sql[end] == "_"):
        end += 1
    return sql[pos:end].lower()


# ----------------------------------------------------------------------- the connection


def allowed_directories(home: Home) -> list[str]:
    """The folders analyst SQL may read: the published catalog and the raw lake."""
    folders: list[str] = []
    for folder in (home.catalog, home.raw):
        for form in (folder.absolute(), folder.resolve()):
            text = str(form).rstrip("/") + "/"
            if text not in folders:
                folders.append(text)
    return folders


def connect_analyst(home: Home | None = None) -> AnalystConnection:
    """A sandboxed, read-only connection to the current catalog, in UTC.

    Like `catalog.connect_read_only()` it stays on the publication it opened (reconnect
    within BIDLAKE_CATALOG_GRACE_SECONDS to see newer builds). Close it when done.
    """
    from warehouse.catalog import current_catalog

    home = home or current_home()
    path = current_catalog(home)
    # Spills go to a private folder (removed on close), not next to the published file.
    temp = tempfile.mkdtemp(prefix="bidlake-sql-")
    try:
        con = duckdb.connect(":memory:", config={**CONNECT_CONFIG, "temp_directory": temp})
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    try:
        con.execute(f"ATTACH {_literal(str(path))} AS {ALIAS} (READ_ONLY)")
        con.execute(f"USE {ALIAS}")
        # Dates and hours of timestamptz values are UTC, as in the models.
        con.execute("SET GLOBAL TimeZone = 'UTC'")
        listing = ", ".join(_literal(d) for d in allowed_directories(home))
        con.execute(f"SET allowed_directories = [{listing}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        _close(con, temp)
        raise
    return AnalystConnection(con, temp)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _close(con: duckdb.DuckDBPyConnection, temp: str) -> None:
    try:
        con.close()
    finally:
        shutil.rmtree(temp, ignore_errors=True)


class AnalystConnection:
    """A DuckDB connection that runs only checked analyst SQL.

    `execute(sql, parameters)` returns the connection, so the usual result methods follow:
    `.fetchall()`, `.fetchone()`, `.fetchmany(n)`, `.df()`, `.to_arrow_table()`,
    `.to_arrow_reader()`, `.fetchnumpy()`, `.description`. The lazy relation API (`sql()`,
    `table()`, `read_parquet()`, ...) is not offered: its relations can write files
    (`write_parquet`, `to_table`).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, temp: str) -> None:
        self._con = con
        self._finalizer = weakref.finalize(self, _close, con, temp)

    def check(self, sql: str) -> str | duckdb.Statement:
        """What `execute(sql)` would run; raises RefusedStatementError if it is refused."""
        return checked(self._con, sql)

    def execute(self, sql: str, parameters: object = None) -> AnalystConnection:
        statement = self.check(sql)
        if parameters is None:
            self._con.execute(statement)
        else:
            self._con.execute(statement, parameters)
        return self

    def executemany(self, sql: str, parameters: Sequence[object] = ()) -> AnalystConnection:
        self._con.executemany(self.check(sql), list(parameters))
        return self

    # results of the last execute()
    @property
    def description(self) -> Any:
        return self._con.description

    @property
    def rowcount(self) -> int:
        return int(self._con.rowcount)

    def fetchall(self) -> list[Any]:
        return self._con.fetchall()

    def fetchone(self) -> Any:
        return self._con.fetchone()

    def fetchmany(self, size: int = 1) -> list[Any]:
        return self._con.fetchmany(size)

    def fetchdf(self) -> Any:
        return self._con.fetchdf()

    def df(self) -> Any:
        return self._con.df()

    def fetch_df(self) -> Any:
        return self._con.fetch_df()

    def to_arrow_table(self) -> Any:
        with warnings.catch_warnings():  # "makes an extra copy": the price of the check
            warnings.simplefilter("ignore", UserWarning)
            return self._con.to_arrow_table()

    def to_arrow_reader(self, batch_size: int = 1_000_000) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return self._con.to_arrow_reader(batch_size)

    def fetchnumpy(self) -> Any:
        return self._con.fetchnumpy()

    # transactions (DB-API; nothing is writable, they only bound a consistent read)
    def begin(self) -> None:
        self._con.begin()

    def commit(self) -> None:
        self._con.commit()

    def rollback(self) -> None:
        self._con.rollback()

    def close(self) -> None:
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __enter__(self) -> AnalystConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(
            f"{name!r} is not available on an analyst connection (sandboxed, read-only): "
            f"use execute(sql).fetchall() / .df() / .to_arrow_table()"
        )


# ------------------------------------------------------------------------- SQLAlchemy


def analyst_engine(home: Home | None = None, **kwargs: Any) -> sqlalchemy.Engine:
    """A SQLAlchemy engine (duckdb-engine) whose connections are `connect_analyst()`.

    Every statement is checked twice: by a `before_cursor_execute` event (a clear
    SQLAlchemy error before the cursor runs anything) and by the connection itself (which
    also covers `engine.raw_connection()`). NullPool by default: each connection opens the
    catalog current at that moment (pass `poolclass=` and `pool_recycle=` below
    BIDLAKE_CATALOG_GRACE_SECONDS to pool).
    """
    import sqlalchemy
    from duckdb_engine import ConnectionWrapper
    from sqlalchemy.pool import NullPool

    def creator() -> Any:
        return ConnectionWrapper(connect_analyst(home))  # type: ignore[arg-type]

    kwargs.setdefault("poolclass", NullPool)
    engine = sqlalchemy.create_engine("duckdb://", creator=creator, **kwargs)
    sqlalchemy.event.listen(engine, "before_cursor_execute", _before_cursor_execute)
    return engine


def _before_cursor_execute(
    conn: Any,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
) -> None:
    checked(_parser(), statement)


def _parser() -> duckdb.DuckDBPyConnection:
    """A private, empty DuckDB for parsing only, one per thread."""
    parser: duckdb.DuckDBPyConnection | None = getattr(_PARSERS, "con", None)
    if parser is None:
        parser = duckdb.connect(
            ":memory:", config={**CONNECT_CONFIG, "enable_external_access": False}
        )
        _PARSERS.con = parser
    return parser
