"""Incidents and readiness snapshots.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

Written out in full, like 0001 and 0002: a migration is history. CHECK
names go through `op.f()`: a plain name would be run through the metadata's
naming convention again (ck_<table>_ck_<table>_<name>), as in 0001 and 0002.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INCIDENT_INDEXES = {
    # open incidents: ended_at IS NULL (a plain index, the same on both dialects)
    "ix_incidents_ended_at": ["ended_at"],
    "ix_incidents_started_at": ["started_at"],
    "ix_incidents_subject_started_at": ["subject", "started_at"],
    "ix_incidents_carrier_started_at": ["carrier", "started_at"],
    "ix_incidents_site_started_at": ["site", "started_at"],
}


def _row_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    _create_incidents()
    _create_readiness_snapshots()


def _create_incidents() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", _row_id(), autoincrement=True, nullable=False),
        sa.Column("subject_kind", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("started_at", _time(), nullable=False),
        sa.Column("ended_at", _time(), nullable=True),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("phase", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.Column("carrier", sa.Text(), nullable=True),
        sa.Column("site", sa.Text(), nullable=True),
        sa.Column("sessions", sa.JSON(), nullable=False),
        sa.Column("worst_loss", sa.Double(), nullable=True),
        sa.Column("worst_rtt_ms", sa.Double(), nullable=True),
        sa.Column("worst_utilisation", sa.Double(), nullable=True),
        sa.Column("cause", sa.Text(), nullable=True),
        sa.Column("affected", sa.JSON(), nullable=False),
        sa.Column("acknowledged_by", sa.Text(), nullable=True),
        sa.Column("acknowledged_at", _time(), nullable=True),
        sa.Column("ack_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
        sa.UniqueConstraint(
            "subject_kind",
            "subject",
            "kind",
            "started_at",
            name="uq_incidents_subject_kind_subject_kind_started_at",
        ),
        sa.CheckConstraint(
            "ended_at IS NULL OR ended_at >= started_at", name=op.f("ck_incidents_period")
        ),
        sa.CheckConstraint(
            "severity IN ('info', 'warning', 'critical')", name=op.f("ck_incidents_severity")
        ),
    )
    for name, columns in _INCIDENT_INDEXES.items():
        op.create_index(name, "incidents", columns)


def _create_readiness_snapshots() -> None:
    op.create_table(
        "readiness_snapshots",
        sa.Column("id", _row_id(), autoincrement=True, nullable=False),
        sa.Column("session", sa.Text(), nullable=False),
        sa.Column("session_start", _time(), nullable=False),
        sa.Column("taken_at", _time(), nullable=False),
        sa.Column("seconds_before", sa.Integer(), nullable=False),
        sa.Column("ready", sa.Boolean(), nullable=False),
        sa.Column("sites_total", sa.Integer(), nullable=False),
        sa.Column("sites_ready", sa.Integer(), nullable=False),
        sa.Column("not_ready", sa.JSON(), nullable=False),
        sa.Column("open_incidents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_readiness_snapshots"),
        sa.UniqueConstraint(
            "session",
            "session_start",
            "seconds_before",
            name="uq_readiness_snapshots_session_session_start_seconds_before",
        ),
        sa.CheckConstraint(
            "sites_ready >= 0 AND sites_ready <= sites_total",
            name=op.f("ck_readiness_snapshots_site_counts"),
        ),
    )


def downgrade() -> None:
    op.drop_table("readiness_snapshots")
    for name in reversed(_INCIDENT_INDEXES):
        op.drop_index(name, table_name="incidents")
    op.drop_table("incidents")
