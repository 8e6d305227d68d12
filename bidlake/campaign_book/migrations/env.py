"""Alembic's environment for the campaign book: run by bidlake.campaign_book.migrate, which
builds the configuration in code and hands over an open connection (no alembic.ini)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from bidlake.campaign_book.model import VERSION_TABLE, Base

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things: later migrations rebuild tables in batch mode.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # `alembic` run by hand with sqlalchemy.url set in its configuration
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
