"""The initial schema: users, conversations, turns, handoffs, reminders, bulletin subscriptions.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Datetimes are ``DateTime(timezone=True)``: timestamptz on PostgreSQL, naive UTC text on SQLite (the
store's ``_UTCDateTime`` converts).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _user_fk() -> sa.Column:
    return sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("channel", "external_id", name="uq_users_channel_external_id"),
        sa.CheckConstraint("role IN ('customer', 'staff', 'coordinator')", name="ck_users_role"),
    )
    op.create_table(
        "conversations",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "turns",
        sa.Column("id", sa.Integer, primary_key=True),
        _user_fk(),
        sa.Column("at", TZ, nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("intent", sa.String(64), nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("template", sa.String(128), nullable=True),
        sa.CheckConstraint("direction IN ('in', 'out')", name="ck_turns_direction"),
    )
    op.create_index("ix_turns_user_id_id", "turns", ["user_id", "id"])
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer, primary_key=True),
        _user_fk(),
        sa.Column("at", TZ, nullable=False),
        sa.Column("topic", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("closed_at", TZ, nullable=True),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_handoffs_status"),
    )
    op.create_index("ix_handoffs_status_at", "handoffs", ["status", "at"])
    op.create_index("ix_handoffs_user_id", "handoffs", ["user_id"])
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer, primary_key=True),
        _user_fk(),
        sa.Column("due", TZ, nullable=False),
        sa.Column("template", sa.String(128), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("sent_at", TZ, nullable=True),
        sa.Column("cancelled_at", TZ, nullable=True),
    )
    op.create_index("ix_reminders_due", "reminders", ["due"])
    op.create_index("ix_reminders_user_id", "reminders", ["user_id"])
    op.create_table(
        "bulletin_subscriptions",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("subscribed", sa.Boolean, nullable=False),
        sa.Column("at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bulletin_subscriptions")
    op.drop_index("ix_reminders_user_id", "reminders")
    op.drop_index("ix_reminders_due", "reminders")
    op.drop_table("reminders")
    op.drop_index("ix_handoffs_user_id", "handoffs")
    op.drop_index("ix_handoffs_status_at", "handoffs")
    op.drop_table("handoffs")
    op.drop_index("ix_turns_user_id_id", "turns")
    op.drop_table("turns")
    op.drop_table("conversations")
    op.drop_table("users")
