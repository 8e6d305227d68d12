"""The campaign book the bidder bids with, and its hot reload (as bidder.models does models).

Where the book comes from (`--campaigns`, setting `campaigns`):
  (empty)              the book's database: $BIDLAKE_CAMPAIGNS_URL, else
                       $BIDLAKE_HOME/campaigns.sqlite3 (bidlake.campaign_book; made and
                       seeded on first use)
  sqlite:///…, postgresql+psycopg://…   that database
  a path               a JSON book file (the format of bidlake/campaigns.json), reloaded
                       when the file changes (tests, benchmarks, a pinned book)

`CampaignReloader.open()` loads the first book at start-up (a bidder without a book does
not start). Then `poll()` runs off the hot path every `campaign_poll_s`: it reads the
book's version (one row of the database, or the file's stat) in a worker thread and, when
it moved, loads the whole book in that thread, builds every CampaignPlan and returns a
`LoadedBook`; the service swaps it in with one assignment (a new Engine holding the new
plan set). A request reads the engine once at its start and decides with that plan set to
its end, so a swap never mixes two books in one request.

So a change reaches the bids within `campaign_poll_s` + the load time (one SELECT of the
version, then a few of the book: milliseconds for hundreds of campaigns) of its commit —
docs/campaigns.md has the figures measured under load. Paused campaigns get no plan (they
never bid) but stay known, so a click on one of their earlier bids still redirects.
Budgets: a plan carries its daily budget, which the decision passes to every reservation,
and the budget store keys spend by campaign and day, so a new budget applies from the next
reservation, against the spend already counted today (no reset).

A book that fails to load (database away, invalid file) is logged and counted; the bidder
keeps bidding with the book it has and tries again at the next poll (a file only once it
changes again). /readyz and /metrics show the version served and the last error.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bidder.decision import CampaignPlan
from bidlake.campaigns import Campaign, campaign_from_document, load_campaigns

log = logging.getLogger("bidder.campaigns")


class BookSource(Protocol):
    description: str

    def version(self) -> str:
        """A token that changes whenever the book does (cheap: polled every second)."""
        ...

    def load(self) -> tuple[str, int, tuple[Campaign, ...]]:
        """(version token, book version number or 0, campaigns) of one consistent read."""
        ...


class FileSource:
    """A JSON book file; its version is the file's identity and modification time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"file {path}"

    def version(self) -> str:
        st = os.stat(self.path)
        return f"file:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"

    def load(self) -> tuple[str, int, tuple[Campaign, ...]]:
        version = self.version()  # before reading: a later change is seen at the next poll
        return version, 0, load_campaigns(self.path)


class DatabaseSource:
    """The book's database (bidlake.campaign_book); its version is the book version."""

    def __init__(self, url: str | None = None) -> None:
        # SQLAlchemy is loaded only by a bidder that reads the database (~0.15 s at start).
        from bidlake.campaign_book.store import CampaignStore
        from bidlake.redact import redact_url

        self.store = CampaignStore(url)
        self.description = f"database {redact_url(self.store.url)}"

    def version(self) -> str:
        return f"db:{self.store.version()}"

    def load(self) -> tuple[str, int, tuple[Campaign, ...]]:
        state = self.store.state()
        campaigns = tuple(campaign_from_document(doc) for doc in state.campaigns)
        return f"db:{state.version}", state.version, campaigns

    def close(self) -> None:
        self.store.close()


def source_for(setting: str) -> BookSource:
    """The source the `campaigns` setting names (see the module's docstring)."""
    if not setting:
        return DatabaseSource()
    if "://" in setting:
        return DatabaseSource(setting)
    return FileSource(Path(setting))


@dataclass(frozen=True)
class LoadedBook:
    """One version of the book, ready for the hot path."""

    version: str  # "db:<n>" or "file:<stat>"
    number: int  # the book version (0 for a file)
    campaigns: dict[str, Campaign]  # every campaign, paused ones too
    plans: tuple[CampaignPlan, ...]  # the active campaigns', budgets at this process's share
    loaded_at: float  # time.time() when it was ready
    load_s: float  # how long reading and planning took


class CampaignReloader:
    def __init__(self, source: BookSource, budget_share: float = 1.0) -> None:
        self.source = source
        self.share = budget_share
        self.reloads = 0  # successful swaps after the first load
        self.failures = 0
        self.last_error = ""
        self._failed_version = ""
        self.current = self._load()

    @classmethod
    def open(cls, setting: str, budget_share: float = 1.0) -> CampaignReloader:
        """The book the setting names, first version loaded (errors propagate: a bidder
        without a campaign book must not start)."""
        reloader = cls(source_for(setting), budget_share)
        book = reloader.current
        log.info(
            "campaign book from %s: version %s, %d campaigns (%d active), loaded in %.3f s",
            reloader.source.description,
            book.version,
            len(book.campaigns),
            len(book.plans),
            book.load_s,
        )
        return reloader

    def _load(self) -> LoadedBook:
        started = time.perf_counter()
        version, number, campaigns = self.source.load()
        plans = tuple(CampaignPlan.of(c, self.share) for c in campaigns if c.active)
        return LoadedBook(
            version=version,
            number=number,
            campaigns={c.campaign_id: c for c in campaigns},
            plans=plans,
            loaded_at=time.time(),
            load_s=time.perf_counter() - started,
        )

    async def poll(self) -> LoadedBook | None:
        """Load the book if its version moved; the new book, or None (unchanged or failed)."""
        try:
            version = await asyncio.to_thread(self.source.version)
        except Exception as exc:  # the database away: keep bidding with the book we have
            self._failed("", f"cannot read the book's version: {exc}")
            return None
        if version in (self.current.version, self._failed_version):
            return None
        try:
            book = await asyncio.to_thread(self._load)
        except Exception as exc:  # an invalid file, a broken connection mid-read
            self._failed(version, f"cannot load version {version}: {exc}")
            return None
        self.current = book
        self.reloads += 1
        self.last_error = ""
        self._failed_version = ""
        log.info(
            "campaign book: serving version %s, %d campaigns (%d active), loaded in %.3f s",
            book.version,
            len(book.campaigns),
            len(book.plans),
            book.load_s,
        )
        return book

    def _failed(self, version: str, error: str) -> None:
        self.failures += 1
        if error != self.last_error:  # once per streak, not once a second
            log.error("campaign book: %s; still serving version %s", error, self.current.version)
        self.last_error = error
        # A file that failed is retried when it changes again; a database at every poll
        # (its version only moves on a valid, committed change).
        self._failed_version = version if isinstance(self.source, FileSource) else ""

    def status(self) -> dict[str, Any]:
        """What /readyz shows about the book."""
        book = self.current
        return {
            "source": self.source.description,
            "version": book.version,
            "campaigns": len(book.campaigns),
            "active": len(book.plans),
            "reloads": self.reloads,
            "error": self.last_error or None,
        }

    def close(self) -> None:
        close = getattr(self.source, "close", None)
        if close is not None:
            close()
