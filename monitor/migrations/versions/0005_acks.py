"""Acknowledgements as rows of their own, every one kept.

Revision ID: 0005
Revises: 0004
Create Date: 2027-01-08

Before, an incident held one acknowledgement in its own columns, and a
second `examnet ack` silently replaced the first person's name and note
(issue 9.7). Each existing acknowledgement is copied into `acks`; the old
columns stay (the incident writer leaves them alone) and are no longer
written. Downgrading puts each incident's latest ack back into them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {"ix_acks_incident_id_acked_at": ["incident_id", "acked_at"]}


def _row_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "acks",
        sa.Column("id", _row_id(), autoincrement=True, nullable=False),
        sa.Column("incident_id", _row_id(), nullable=False),
        sa.Column("acked_by", sa.Text(), nullable=False),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acks"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_acks_incident_id_incidents"
        ),
    )
    for name, columns in _INDEXES.items():
        op.create_index(name, "acks", columns)
    op.execute(
        "INSERT INTO acks (incident_id, acked_by, acked_at, note) "
        "SELECT id, acknowledged_by, COALESCE(acknowledged_at, updated_at), COALESCE(ack_note, '') "
        "FROM incidents WHERE acknowledged_by IS NOT NULL ORDER BY id"
    )


def downgrade() -> None:
    # the latest ack of each incident goes back into its columns; the others are lost
    op.execute(
        "UPDATE incidents SET "
        "acknowledged_by = (SELECT a.acked_by FROM acks a WHERE a.incident_id = incidents.id "
        "ORDER BY a.acked_at DESC, a.id DESC LIMIT 1), "
        "acknowledged_at = (SELECT a.acked_at FROM acks a WHERE a.incident_id = incidents.id "
        "ORDER BY a.acked_at DESC, a.id DESC LIMIT 1), "
        "ack_note = (SELECT a.note FROM acks a WHERE a.incident_id = incidents.id "
        "ORDER BY a.acked_at DESC, a.id DESC LIMIT 1) "
        "WHERE id IN (SELECT incident_id FROM acks)"
    )
    for name in reversed(_INDEXES):
        op.drop_index(name, table_name="acks")
    op.drop_table("acks")
