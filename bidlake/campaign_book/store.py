"""Reading and changing the campaign book, with every change versioned.

`CampaignStore(url)` opens the book (default: bidlake.campaign_book.config.database_url()).
The first use of a database migrates it (migrate.py) and seeds it from the JSON book
($BIDLAKE_CAMPAIGNS, else the packaged bidlake/campaigns.json), so `make run` needs no
step of its own.

A change runs in one write transaction: it takes the book's lock (BEGIN IMMEDIATE on
SQLite; SELECT … FOR UPDATE of the book row on PostgreSQL, so a fleet's writers queue),
applies the campaigns' new state, writes one history row per campaign changed (who, when,
before/after in the JSON format, valid_from), closes the previous row's interval
(valid_to), and bumps the book version by one. A reader sees a version and the book of that
version together (`state()`: one transaction, REPEATABLE READ on PostgreSQL), which is what
the bidder swaps in. Change times only move forward: a change gets at least the previous
change's time plus a microsecond, so versions never overlap even across skewed clocks.

Validation is bidlake.campaigns.campaign_document's (strict: unknown fields are refused),
so an error names the field; a change that changes nothing writes nothing.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, text, update
from sqlalchemy.orm import Session

from bidlake.atomic_files import atomic_write
from bidlake.campaign_book import config, migrate
from bidlake.campaign_book.model import Book, CampaignRow, CreativeRow, HistoryRow, TargetingRow
from bidlake.campaigns import (
    ACTIVE,
    FIELDS,
    PAUSED,
    BookFile,
    CampaignConfigError,
    campaign_document,
    read_book,
)
from bidlake.paths import Home
from bidlake.redact import redact_url

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # valid_from of the seed: the book before the database
TICK = timedelta(microseconds=1)
LOCK_KEY = 0x0B1D1A4E  # PostgreSQL advisory lock of first-use initialisation


class UnknownCampaign(LookupError):
    pass


def who(by: str | None = None) -> str:
    """The author of a change: `by`, else $USER, else the login name."""
    if by:
        return by[:200]
    with contextlib.suppress(Exception):
        return (os.environ.get("USER") or getpass.getuser() or "unknown")[:200]
    return "unknown"


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 with microseconds and a Z (what the history export and the CLI show)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class BookState:
    """The whole book at one version, as one reader saw it."""

    version: int
    currency: str
    comment: str
    changed_at: datetime
    campaigns: tuple[dict, ...]  # canonical documents (bidlake.campaigns), in book order

    def to_file(self) -> BookFile:
        return BookFile(self.currency, self.comment, self.campaigns)


@dataclass(frozen=True)
class Change:
    """One history row: what one change did to one campaign (or to the book: no id)."""

    book_version: int
    campaign_id: str | None
    action: str
    changed_by: str
    changed_at: datetime
    note: str
    valid_from: datetime
    valid_to: datetime | None
    before: dict | None
    after: dict | None

    def diff(self) -> list[tuple[str, object, object]]:
        """(field path, before, after) of every leaf that differs."""
        return _diffs(_explicit(self.before), _explicit(self.after))

    def to_json(self) -> dict[str, Any]:
        return {
            "book_version": self.book_version,
            "campaign_id": self.campaign_id,
            "action": self.action,
            "changed_by": self.changed_by,
            "changed_at": iso(self.changed_at),
            "note": self.note,
            "valid_from": iso(self.valid_from),
            "valid_to": iso(self.valid_to),
            "before": self.before,
            "after": self.after,
        }


def _diff(prefix: str, before: object, after: object, out: list) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in [*before, *(k for k in after if k not in before)]:
            _diff(f"{prefix}.{key}" if prefix else key, before.get(key), after.get(key), out)
    elif before != after:
        out.append((prefix, before, after))


def apply_patch(target: object, patch: object) -> object:
    """RFC 7386 JSON merge patch: objects merge key by key, null removes a key (here: back to
    its default), anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_patch(result.get(key), value)
    return result


@dataclass
class _Tx:
    """One write transaction: the new version, its time, and the history it writes."""

    session: Session
    version: int
    now: datetime
    by: str
    note: str
    changes: list[Change] = field(default_factory=list)

    def record(
        self,
        campaign_id: str | None,
        action: str,
        before: dict | None,
        after: dict | None,
        valid_from: datetime | None = None,
    ) -> None:
        valid_from = valid_from or self.now
        open_rows = (
            HistoryRow.campaign_id.is_(None)
            if campaign_id is None
            else HistoryRow.campaign_id == campaign_id
        )
        self.session.execute(
            update(HistoryRow)
            .where(open_rows, HistoryRow.valid_to.is_(None))
            .values(valid_to=self.now)
        )
        row = HistoryRow(
            book_version=self.version,
            campaign_id=campaign_id,
            action=action,
            changed_by=self.by,
            changed_at=self.now,
            note=self.note,
            valid_from=valid_from,
            valid_to=None,
            before=before,
            after=after,
        )
        self.session.add(row)
        self.session.flush()
        self.changes.append(_change(row))


def _change(row: HistoryRow) -> Change:
    return Change(
        book_version=row.book_version,
        campaign_id=row.campaign_id,
        action=row.action,
        changed_by=row.changed_by,
        changed_at=row.changed_at,
        note=row.note,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        before=row.before,
        after=row.after,
    )


# The plain columns of a campaign: the JSON format's fields up to its nested ones.
_SCALARS = FIELDS[: FIELDS.index("creatives")]


def document(row: CampaignRow) -> dict:
    """The campaign of a row in the JSON format (canonical: bidlake.campaigns.FIELDS)."""
    targeting = row.targeting
    doc: dict[str, Any] = {
        "campaign_id": row.campaign_id,
        "advertiser_id": row.advertiser_id,
        "name": row.name,
        "goal": row.goal,
        "goal_micros": row.goal_micros,
        "max_bid_cpm_micros": row.max_bid_cpm_micros,
        "daily_budget_micros": row.daily_budget_micros,
        "frequency_cap_per_day": row.frequency_cap_per_day,
        "creatives": [
            {
                "creative_id": c.creative_id,
                "width": c.width,
                "height": c.height,
                "format": c.format,
            }
            for c in row.creatives
        ],
        "adomain": list(row.adomain),
        "targeting": {
            "countries": list(targeting.countries),
            "device_types": list(targeting.device_types),
            "hours": list(targeting.hours),
            "blocked_domains": list(targeting.blocked_domains),
        },
        "categories": list(row.categories),
    }
    if row.status != ACTIVE:
        doc["status"] = row.status
    return doc


def _apply(row: CampaignRow, doc: dict, version: int, now: datetime) -> None:
    """Write a canonical document into a (new or existing) row."""
    row.advertiser_id = doc["advertiser_id"]
    row.name = doc["name"]
    row.goal = doc["goal"]
    row.goal_micros = doc["goal_micros"]
    row.max_bid_cpm_micros = doc["max_bid_cpm_micros"]
    row.daily_budget_micros = doc["daily_budget_micros"]
    row.frequency_cap_per_day = doc["frequency_cap_per_day"]
    row.status = doc.get("status", ACTIVE)
    row.adomain = list(doc["adomain"])
    row.categories = list(doc["categories"])
    row.version = version
    row.updated_at = now
    # Creatives are updated in place by id (a new object with the id of a live one would
    # clash in the session); the ones left out are deleted as orphans.
    existing = {c.creative_id: c for c in row.creatives} if row.campaign_id else {}
    creatives = []
    for position, c in enumerate(doc["creatives"]):
        creative = existing.get(c["creative_id"]) or CreativeRow(creative_id=c["creative_id"])
        creative.position = position
        creative.width, creative.height, creative.format = c["width"], c["height"], c["format"]
        creatives.append(creative)
    row.creatives = creatives
    t = doc["targeting"]
    lists = {k: list(t[k]) for k in ("countries", "device_types", "hours", "blocked_domains")}
    if row.targeting is None:
        row.targeting = TargetingRow(**lists)
    else:
        for key, value in lists.items():
            setattr(row.targeting, key, value)


def make_engine(url: str) -> Engine:
    """An engine for the book: SQLite gets WAL (readers never block the writer), a busy
    timeout, foreign keys, and real transactions (pysqlite's own are off, see below)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        if engine.url.database and engine.url.database != ":memory:":
            Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: object) -> None:
            # SQLAlchemy's recipe: pysqlite's implicit BEGIN off, ours in `_begin`.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("pragma journal_mode=wal")
            cursor.execute("pragma foreign_keys=on")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Writers BEGIN IMMEDIATE: they take the write lock first, so two writers queue
            # (busy timeout) instead of one failing to upgrade its read lock.
            mode = conn.get_execution_options().get("sqlite_begin", "")
            conn.exec_driver_sql(f"begin {mode}".strip())

        return engine
    return create_engine(url, pool_pre_ping=True)


class CampaignStore:
    def __init__(
        self,
        url: str | None = None,
        *,
        home: Home | None = None,
        seed: Path | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.url = url or config.database_url(home)
        self.engine = engine or make_engine(self.url)
        self.sqlite = self.engine.dialect.name == "sqlite"
        self.seed_path = seed
        self._ready = False
        self._writer = self.engine.execution_options(sqlite_begin="immediate")
        self._reader = (
            self.engine
            if self.sqlite
            else self.engine.execution_options(isolation_level="REPEATABLE READ")
        )

    def __repr__(self) -> str:
        return f"CampaignStore({redact_url(self.url)!r})"

    def close(self) -> None:
        self.engine.dispose()

    # ---- first use ----

    def ensure_ready(self) -> bool:
        """Migrate and seed the database if it needs it; True when it did anything."""
        if self._ready:
            return False
        with self.engine.connect() as conn:
            ready = migrate.check(migrate.current_revision(conn))
            seeded = ready and conn.execute(select(Book.id)).first() is not None
        did = False
        if not (ready and seeded):
            with self._writer.begin() as conn:
                if not self.sqlite:
                    conn.execute(text("select pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
                if not migrate.check(migrate.current_revision(conn)):
                    migrate.upgrade(conn)
                with Session(bind=conn) as session:
                    if session.get(Book, 1) is None:
                        self._seed(session)
                    session.flush()
            did = True
        self._ready = True
        return did

    def _seed(self, session: Session) -> None:
        book = read_book(self.seed_path)
        source = self.seed_path or os.environ.get(config.SEED_ENV) or "bidlake/campaigns.json"
        now = datetime.now(UTC)
        session.add(
            Book(id=1, version=1, currency=book.currency, comment=book.comment, changed_at=now)
        )
        tx = _Tx(session, 1, now, "bidlake", f"seeded from {source}")
        for position, doc in enumerate(book.campaigns):
            row = CampaignRow(campaign_id=doc["campaign_id"], position=position, created_at=now)
            _apply(row, doc, 1, now)
            session.add(row)
            tx.record(doc["campaign_id"], "seed", None, doc, valid_from=EPOCH)

    # ---- reading ----

    def version(self) -> int:
        """The book version: one row, one column (what every bidder polls)."""
        self.ensure_ready()
        with self.engine.connect() as conn:
            return int(conn.execute(select(Book.version).where(Book.id == 1)).scalar_one())

    def state(self) -> BookState:
        """The book at its current version, read in one transaction: four plain SELECTs
        (no ORM objects: a bidder reloads thousands of campaigns in a thread that shares
        the GIL with its event loop)."""
        self.ensure_ready()
        c, cr, t = CampaignRow.__table__, CreativeRow.__table__, TargetingRow.__table__
        with self._reader.begin() as conn:
            book = conn.execute(select(Book.__table__).where(Book.id == 1)).one()
            creatives: dict[str, list[dict]] = {}
            for row in conn.execute(
                select(
                    cr.c.campaign_id, cr.c.creative_id, cr.c.width, cr.c.height, cr.c.format
                ).order_by(cr.c.campaign_id, cr.c.position)
            ):
                creatives.setdefault(row[0], []).append(
                    {"creative_id": row[1], "width": row[2], "height": row[3], "format": row[4]}
                )
            targeting = {
                row[0]: {
                    "countries": row[1],
                    "device_types": row[2],
                    "hours": row[3],
                    "blocked_domains": row[4],
                }
                for row in conn.execute(
                    select(
                        t.c.campaign_id,
                        t.c.countries,
                        t.c.device_types,
                        t.c.hours,
                        t.c.blocked_domains,
                    )
                )
            }
            docs = []
            for m in conn.execute(select(c).order_by(c.c.position)).mappings():
                doc: dict[str, Any] = {name: m[name] for name in _SCALARS}
                doc["creatives"] = creatives.get(m["campaign_id"], [])
                doc["adomain"] = m["adomain"]
                doc["targeting"] = targeting[m["campaign_id"]]
                doc["categories"] = m["categories"]
                if m["status"] != ACTIVE:
                    doc["status"] = m["status"]
                docs.append(doc)
        return BookState(
            version=book.version,
            currency=book.currency,
            comment=book.comment,
            changed_at=book.changed_at,
            campaigns=tuple(docs),
        )

    def get(self, campaign_id: str) -> dict:
        self.ensure_ready()
        with Session(self.engine) as session:
            row = session.get(CampaignRow, campaign_id)
            if row is None:
                raise UnknownCampaign(f"no campaign {campaign_id!r} in the book")
            return document(row)

    def info(self, campaign_id: str) -> dict[str, Any]:
        """The campaign's bookkeeping: status, version of its last change, times."""
        self.ensure_ready()
        with Session(self.engine) as session:
            row = session.get(CampaignRow, campaign_id)
            if row is None:
                raise UnknownCampaign(f"no campaign {campaign_id!r} in the book")
            return {
                "status": row.status,
                "version": row.version,
                "created_at": iso(row.created_at),
                "updated_at": iso(row.updated_at),
            }

    def history(self, campaign_id: str | None = None, limit: int | None = None) -> list[Change]:
        """Changes, newest first (of one campaign, or of the whole book)."""
        self.ensure_ready()
        query = select(HistoryRow).order_by(HistoryRow.book_version.desc(), HistoryRow.id.desc())
        if campaign_id is not None:
            query = query.where(HistoryRow.campaign_id == campaign_id)
        if limit:
            query = query.limit(limit)
        with Session(self.engine) as session:
            return [_change(r) for r in session.scalars(query)]

    # ---- changing ----

    def _write(self, work: Callable[[_Tx], None], by: str | None, note: str) -> list[Change]:
        self.ensure_ready()
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            book = session.get(Book, 1, with_for_update=True)
            assert book is not None
            now = max(datetime.now(UTC), book.changed_at + TICK)
            tx = _Tx(session, book.version + 1, now, who(by), note)
            work(tx)
            if tx.changes:
                book.version, book.changed_at = tx.version, now
            return tx.changes

    def create(self, raw: object, *, by: str | None = None, note: str = "") -> Change:
        doc = campaign_document(raw, "campaign", strict=True)

        def work(tx: _Tx) -> None:
            s = tx.session
            if s.get(CampaignRow, doc["campaign_id"]) is not None:
                raise CampaignConfigError(
                    f"campaign.campaign_id: {doc['campaign_id']!r} is already in the book "
                    "(use update)",
                    "campaign_id",
                )
            last = s.execute(select(CampaignRow.position).order_by(CampaignRow.position.desc()))
            position = (last.scalars().first() or 0) + 1
            row = CampaignRow(campaign_id=doc["campaign_id"], position=position, created_at=tx.now)
            _apply(row, doc, tx.version, tx.now)
            s.add(row)
            tx.record(doc["campaign_id"], "create", None, doc)

        return self._write(work, by, note)[0]

    def update(
        self, campaign_id: str, patch: dict, *, by: str | None = None, note: str = ""
    ) -> Change | None:
        """Apply a JSON merge patch to a campaign; None when it changes nothing."""
        if "campaign_id" in patch and patch["campaign_id"] != campaign_id:
            raise CampaignConfigError(
                f"campaign {campaign_id}.campaign_id: cannot change (create a new campaign)",
                "campaign_id",
            )

        def work(tx: _Tx) -> None:
            row = tx.session.get(CampaignRow, campaign_id)
            if row is None:
                raise UnknownCampaign(f"no campaign {campaign_id!r} in the book")
            before = document(row)
            after = campaign_document(
                apply_patch(before, patch), f"campaign {campaign_id}", strict=True
            )
            if after == before:
                return
            _apply(row, after, tx.version, tx.now)
            changed = {path.split(".")[0] for path, _, _ in _diffs(before, after)}
            action = "update"
            if changed == {"status"}:
                action = "pause" if after.get("status") == PAUSED else "resume"
            tx.record(campaign_id, action, before, after)

        changes = self._write(work, by, note)
        return changes[0] if changes else None

    def set_status(
        self, campaign_id: str, status: str, *, by: str | None = None, note: str = ""
    ) -> Change | None:
        """Pause or resume; None when it already had that status."""
        return self.update(campaign_id, {"status": status}, by=by, note=note)

    def import_book(
        self,
        book: BookFile,
        *,
        by: str | None = None,
        note: str = "",
        replace: bool = False,
    ) -> list[Change]:
        """Bring the book in line with a file: new campaigns are added (at the end), changed
        ones updated, unchanged ones left alone; with `replace`, campaigns the file lacks
        are deleted. One version for the whole import."""
        book = BookFile(
            book.currency,
            book.comment,
            tuple(
                campaign_document(d, f"campaigns[{i}]", strict=True)
                for i, d in enumerate(book.campaigns)
            ),
        )

        def work(tx: _Tx) -> None:
            s = tx.session
            rows = {r.campaign_id: r for r in s.scalars(select(CampaignRow))}
            position = max((r.position for r in rows.values()), default=-1)
            for doc in book.campaigns:
                row = rows.get(doc["campaign_id"])
                if row is None:
                    position += 1
                    row = CampaignRow(
                        campaign_id=doc["campaign_id"], position=position, created_at=tx.now
                    )
                    _apply(row, doc, tx.version, tx.now)
                    s.add(row)
                    tx.record(doc["campaign_id"], "import", None, doc)
                    continue
                before = document(row)
                if before != doc:
                    _apply(row, doc, tx.version, tx.now)
                    tx.record(doc["campaign_id"], "import", before, doc)
            if replace:
                wanted = {d["campaign_id"] for d in book.campaigns}
                for campaign_id, row in rows.items():
                    if campaign_id not in wanted:
                        before = document(row)
                        s.delete(row)
                        tx.record(campaign_id, "delete", before, None)
            current = s.get(Book, 1)
            assert current is not None
            old = {"currency": current.currency, "comment": current.comment}
            new = {"currency": book.currency, "comment": book.comment}
            if old != new:
                current.currency, current.comment = book.currency, book.comment
                tx.record(None, "book", old, new)

        return self._write(work, by, note)

    # ---- the history export dbt reads ----

    def export_history(self, path: Path) -> Path:
        """Every campaign's history as JSON lines, for dbt (the campaign_book source):
        one line per change, with the campaign's fields after it flattened (NULL: deleted)
        and its interval [valid_from, valid_to). Written atomically."""
        self.ensure_ready()
        with Session(self._reader) as session, session.begin():
            currency = session.execute(select(Book.currency)).scalar_one()
            rows = session.scalars(
                select(HistoryRow)
                .where(HistoryRow.campaign_id.is_not(None))
                .order_by(HistoryRow.book_version, HistoryRow.id)
            ).all()
            lines = [json.dumps(_export_line(r, currency), ensure_ascii=False) for r in rows]
        return atomic_write(path, "".join(line + "\n" for line in lines))


def _explicit(doc: dict | None) -> dict:
    """A document with its status spelled out (the format leaves "active" implicit)."""
    if doc is None:
        return {}
    if "campaign_id" in doc and "status" not in doc:
        return {**doc, "status": ACTIVE}
    return doc


def _diffs(before: dict, after: dict) -> list[tuple[str, object, object]]:
    out: list[tuple[str, object, object]] = []
    _diff("", before, after, out)
    return out


def _export_line(row: HistoryRow, currency: str) -> dict[str, Any]:
    after = row.after or {}
    return {
        "book_version": row.book_version,
        "campaign_id": row.campaign_id,
        "action": row.action,
        "changed_by": row.changed_by,
        "changed_at": iso(row.changed_at),
        "valid_from": iso(row.valid_from),
        "valid_to": iso(row.valid_to),
        "currency": currency,
        "advertiser_id": after.get("advertiser_id"),
        "name": after.get("name"),
        "goal": after.get("goal"),
        "goal_micros": after.get("goal_micros"),
        "max_bid_cpm_micros": after.get("max_bid_cpm_micros"),
        "daily_budget_micros": after.get("daily_budget_micros"),
        "frequency_cap_per_day": after.get("frequency_cap_per_day"),
        "status": (after.get("status", ACTIVE) if row.after is not None else None),
        "campaign": row.after,
    }


@contextlib.contextmanager
def opened(url: str | None = None, **kwargs: Any) -> Iterator[CampaignStore]:
    """A store for one block, its connections closed at the end."""
    store = CampaignStore(url, **kwargs)
    try:
        yield store
    finally:
        store.close()


def write_history_export(home: Home, path: Path | None = None) -> Path:
    """Export the book's history of `home` for dbt (what `bidlake build` runs first)."""
    with opened(home=home) as store:
        return store.export_history(path or config.history_export_path(home))
