"""The campaign book: book, campaigns, creatives, targeting and history.

Revision ID: 0001
Revises:
Create Date: 2026-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bidlake.campaign_book.model import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_book",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_campaign_book_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_book")),
    )
    op.create_table(
        "campaigns",
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("advertiser_id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("goal", sa.String(8), nullable=False),
        sa.Column("goal_micros", sa.BigInteger(), nullable=False),
        sa.Column("max_bid_cpm_micros", sa.BigInteger(), nullable=False),
        sa.Column("daily_budget_micros", sa.BigInteger(), nullable=False),
        sa.Column("frequency_cap_per_day", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("adomain", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("goal in ('cpc', 'cpa')", name=op.f("ck_campaigns_goal")),
        sa.CheckConstraint("status in ('active', 'paused')", name=op.f("ck_campaigns_status")),
        sa.CheckConstraint(
            "goal_micros > 0 and max_bid_cpm_micros > 0 and daily_budget_micros > 0",
            name=op.f("ck_campaigns_money_positive"),
        ),
        sa.CheckConstraint("frequency_cap_per_day >= 0", name=op.f("ck_campaigns_frequency_cap")),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "campaign_creatives",
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("creative_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.CheckConstraint(
            "width > 0 and height > 0", name=op.f("ck_campaign_creatives_size_positive")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.campaign_id"],
            name=op.f("fk_campaign_creatives_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "creative_id", name=op.f("pk_campaign_creatives")),
    )
    op.create_table(
        "campaign_targeting",
        sa.Column("campaign_id", sa.String(64), nullable=False),
        sa.Column("countries", sa.JSON(), nullable=False),
        sa.Column("device_types", sa.JSON(), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("blocked_domains", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.campaign_id"],
            name=op.f("fk_campaign_targeting_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_campaign_targeting")),
    )
    op.create_table(
        "campaign_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("book_version", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("valid_from", UtcDateTime(), nullable=False),
        sa.Column("valid_to", UtcDateTime(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_history")),
        sa.UniqueConstraint(
            "campaign_id", "book_version", name=op.f("uq_campaign_history_campaign_id_book_version")
        ),
    )
    op.create_index(
        op.f("ix_campaign_history_campaign_id_valid_from"),
        "campaign_history",
        ["campaign_id", "valid_from"],
    )
    op.create_index(op.f("ix_campaign_history_book_version"), "campaign_history", ["book_version"])


def downgrade() -> None:
    op.drop_table("campaign_history")
    op.drop_table("campaign_targeting")
    op.drop_table("campaign_creatives")
    op.drop_table("campaigns")
    op.drop_table("campaign_book")
