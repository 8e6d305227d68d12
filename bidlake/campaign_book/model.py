"""The campaign book's schema: the one SQLAlchemy model for SQLite and PostgreSQL.

    campaign_book        one row (id = 1): the book's version, currency, comment, last change
    campaigns            one row per campaign: goal, budget, bid cap, cap, status, order
    campaign_creatives   the campaign's creatives, in order
    campaign_targeting   one row per campaign: countries, device types, UTC hours, blocked domains
    campaign_history     one row per change of a campaign: the book version it made, who,
                         when, the action, the campaign before and after (JSON, the export
                         format), and the interval [valid_from, valid_to) the `after` state
                         was the book's (valid_to NULL: still is) - a type-2 history

`campaign_book.version` is the book version: it goes up by one in every transaction that
changes anything, the same transaction that writes the history rows, so a reader that sees
version N sees exactly the book of version N. Migrations (`migrations/versions/`) create
this schema; tests/bidlake/test_campaign_book.py checks that they match this module.
Lists (adomain, categories, targeting) are JSON arrays, which keep their order, so the JSON
export round-trips the file byte for byte.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

ID = 64  # characters of an id (bidlake.campaigns.MAX_ID_LENGTH)
VERSION_TABLE = "campaign_book_alembic_version"  # Alembic's, named apart in a shared database

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python: timestamptz in PostgreSQL,
    naive UTC text in SQLite (which has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the campaign book stores UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


class Book(Base):
    __tablename__ = "campaign_book"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    comment: Mapped[str] = mapped_column(Text, default="")
    changed_at: Mapped[datetime]


class CampaignRow(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("goal in ('cpc', 'cpa')", name="goal"),
        CheckConstraint("status in ('active', 'paused')", name="status"),
        CheckConstraint(
            "goal_micros > 0 and max_bid_cpm_micros > 0 and daily_budget_micros > 0",
            name="money_positive",
        ),
        CheckConstraint("frequency_cap_per_day >= 0", name="frequency_cap"),
    )

    campaign_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    advertiser_id: Mapped[str] = mapped_column(String(ID))
    name: Mapped[str] = mapped_column(Text)
    goal: Mapped[str] = mapped_column(String(8))
    goal_micros: Mapped[int] = mapped_column(BigInteger)
    max_bid_cpm_micros: Mapped[int] = mapped_column(BigInteger)
    daily_budget_micros: Mapped[int] = mapped_column(BigInteger)
    frequency_cap_per_day: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(8))
    adomain: Mapped[list[Any]]
    categories: Mapped[list[Any]]
    position: Mapped[int] = mapped_column(Integer)  # order in the book (and its export)
    version: Mapped[int] = mapped_column(BigInteger)  # book version of its last change
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    creatives: Mapped[list[CreativeRow]] = relationship(
        order_by="CreativeRow.position", cascade="all, delete-orphan", lazy="selectin"
    )
    targeting: Mapped[TargetingRow] = relationship(
        cascade="all, delete-orphan", lazy="selectin", uselist=False
    )


class CreativeRow(Base):
    __tablename__ = "campaign_creatives"
    __table_args__ = (CheckConstraint("width > 0 and height > 0", name="size_positive"),)

    campaign_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("campaigns.campaign_id", ondelete="CASCADE"), primary_key=True
    )
    creative_id: Mapped[str] = mapped_column(String(ID), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    format: Mapped[str] = mapped_column(String(16))


class TargetingRow(Base):
    __tablename__ = "campaign_targeting"

    campaign_id: Mapped[str] = mapped_column(
        String(ID), ForeignKey("campaigns.campaign_id", ondelete="CASCADE"), primary_key=True
    )
    countries: Mapped[list[Any]]  # empty = any
    device_types: Mapped[list[Any]]  # empty = any
    hours: Mapped[list[Any]]  # UTC hours of day; empty = any
    blocked_domains: Mapped[list[Any]]


class HistoryRow(Base):
    __tablename__ = "campaign_history"
    __table_args__ = (
        UniqueConstraint("campaign_id", "book_version"),
        Index(None, "campaign_id", "valid_from"),
        Index(None, "book_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    book_version: Mapped[int] = mapped_column(BigInteger)
    # NULL for a change of the book itself (its currency or comment, by an import).
    campaign_id: Mapped[str | None] = mapped_column(String(ID))
    # seed, create, update, pause, resume, import, delete, book
    action: Mapped[str] = mapped_column(String(16))
    changed_by: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(Text, default="")
    # The `after` state was the book's during [valid_from, valid_to). valid_from is the
    # change time, except for the seed: the book before it was a database, valid from 1970.
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]
    before: Mapped[dict[str, Any] | None]  # the campaign in the export format; NULL: new
    after: Mapped[dict[str, Any] | None]  # NULL: deleted
