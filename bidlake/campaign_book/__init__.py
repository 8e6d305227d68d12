"""The campaign book as data: campaigns, creatives, targeting, goals and budgets in a database.

One SQLAlchemy model (`model.py`) over SQLite — the embedded default,
`$BIDLAKE_HOME/campaigns.sqlite3` — or PostgreSQL when a fleet shares one
(`BIDLAKE_CAMPAIGNS_URL=postgresql+psycopg://…`), its schema made by Alembic migrations
(`migrations/`, run in code by `migrate.py`). `store.CampaignStore` reads and changes it:
every change bumps the book's version and writes a history row (who, when, before/after);
the bidder polls that version and swaps in a new plan set when it moves (bidder/
campaign_reload.py). `bidlake campaigns` is the command line (`cli.py`); the JSON format of
bidlake/campaigns.py is its import/export format, and the packaged book seeds a new
database. docs/campaigns.md has the whole story.

This module imports nothing heavy: SQLAlchemy loads only with `model`/`store`.
"""

from __future__ import annotations

from bidlake.campaign_book.config import database_url, history_export_path
from bidlake.redact import redact_url

__all__ = ["database_url", "history_export_path", "redact_url"]
