"""Alerting: the outbox of notifications, and silences.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Written out in full, like 0001-0003: a migration is history. CHECK names go
through `op.f()` (the metadata's naming convention is not applied twice).
The incidents' acknowledgement columns came with 0003.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OUTBOX_INDEXES = {
    "ix_outbox_state_next_attempt_at": ["state", "next_attempt_at"],
    "ix_outbox_receiver_group_key_created_at": ["receiver", "group_key", "created_at"],
}
_SILENCE_INDEXES = {"ix_silences_ends_at": ["ends_at"]}


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    _create_outbox()
    _create_silences()


def _create_outbox() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("receiver", sa.Text(), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("notification", sa.Text(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _time(), nullable=False),
        sa.Column("claimed_until", _time(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", _time(), nullable=True),
        sa.Column("finished_at", _time(), nullable=True),
        sa.Column("expires_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.CheckConstraint(
            "state IN ('pending', 'sending', 'delivered', 'failed', 'expired')",
            name=op.f("ck_outbox_state"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_attempts")),
    )
    for name, columns in _OUTBOX_INDEXES.items():
        op.create_index(name, "outbox", columns)


def _create_silences() -> None:
    op.create_table(
        "silences",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("starts_at", _time(), nullable=False),
        sa.Column("ends_at", _time(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("expired_by", sa.Text(), nullable=True),
        sa.Column("expired_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_silences"),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_silences_period")),
    )
    for name, columns in _SILENCE_INDEXES.items():
        op.create_index(name, "silences", columns)


def downgrade() -> None:
    for name in reversed(_SILENCE_INDEXES):
        op.drop_index(name, table_name="silences")
    op.drop_table("silences")
    for name in reversed(_OUTBOX_INDEXES):
        op.drop_index(name, table_name="outbox")
    op.drop_table("outbox")
