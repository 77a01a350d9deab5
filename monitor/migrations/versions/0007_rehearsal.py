"""Rehearsal: the shift `examnet run --rehearse` moved the plan by.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

One row while the last run was a rehearsal, none otherwise; `status`
reads it so it shows the calendar the monitor runs on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rehearsal",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session", sa.Text, nullable=False),
        sa.Column("shift_seconds", sa.Double, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rehearsal")
