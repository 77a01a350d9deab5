"""When the monitor was watching: one row per run, its heartbeat and its stop.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

Availability used to count every moment nobody measured as up: a monitor
stopped for a night reported the night as 100 %. With the runs recorded,
the time outside them is "not measured" and left out of the figures.
The history written before this migration gets one run, from its first
stored round to its last: those rounds are the evidence that it watched.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _row_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    runs = op.create_table(
        "monitor_runs",
        sa.Column("id", _row_id(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_monitor_runs"),
    )
    op.create_index("ix_monitor_runs_started_at", "monitor_runs", ["started_at"])
    rounds = sa.table("probe_rounds", sa.column("started_at", sa.DateTime(timezone=True)))
    first, last = (
        op.get_bind()
        .execute(sa.select(sa.func.min(rounds.c.started_at), sa.func.max(rounds.c.started_at)))
        .one()
    )
    if first is not None and runs is not None:
        op.bulk_insert(runs, [{"started_at": first, "seen_at": last, "stopped_at": last}])


def downgrade() -> None:
    op.drop_table("monitor_runs")
