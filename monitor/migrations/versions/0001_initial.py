"""Targets, probe rounds and state changes.

Revision ID: 0001
Revises:
Create Date: 2024-06-01

Written out in full rather than imported from the schema module: a
migration is history and must not change when the model does.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _row_id() -> sa.types.TypeEngine[int]:
    # SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias).
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("site", sa.Text(), nullable=True),
        sa.Column("carrier", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("endpoint", sa.Text(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_targets"),
        sa.UniqueConstraint("key", name="uq_targets_key"),
    )
    op.create_table(
        "probe_rounds",
        sa.Column("id", _row_id(), autoincrement=True, nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("started_at", _time(), nullable=False),
        sa.Column("duration_ms", sa.Double(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("loss", sa.Double(), nullable=True),
        sa.Column("rtt_min_ms", sa.Double(), nullable=True),
        sa.Column("rtt_avg_ms", sa.Double(), nullable=True),
        sa.Column("rtt_median_ms", sa.Double(), nullable=True),
        sa.Column("rtt_max_ms", sa.Double(), nullable=True),
        sa.Column("jitter_ms", sa.Double(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["target_id"], ["targets.id"], name="fk_probe_rounds_target_id_targets"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_probe_rounds"),
        sa.UniqueConstraint("target_id", "started_at", name="uq_probe_rounds_target_id_started_at"),
        sa.CheckConstraint(
            "received >= 0 AND received <= sent", name=op.f("ck_probe_rounds_echo_counts")
        ),
        sa.CheckConstraint(
            "loss IS NULL OR (loss >= 0 AND loss <= 1)", name=op.f("ck_probe_rounds_loss_ratio")
        ),
    )
    op.create_index("ix_probe_rounds_started_at", "probe_rounds", ["started_at"])
    op.create_table(
        "state_changes",
        sa.Column("id", _row_id(), autoincrement=True, nullable=False),
        sa.Column("subject_kind", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("previous", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_state_changes"),
        sa.UniqueConstraint(
            "subject_kind",
            "subject",
            "at",
            "state",
            name="uq_state_changes_subject_kind_subject_at_state",
        ),
    )
    op.create_index(
        "ix_state_changes_subject_kind_subject_at_id",
        "state_changes",
        ["subject_kind", "subject", "at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_state_changes_subject_kind_subject_at_id", table_name="state_changes")
    op.drop_table("state_changes")
    op.drop_index("ix_probe_rounds_started_at", table_name="probe_rounds")
    op.drop_table("probe_rounds")
    op.drop_table("targets")
