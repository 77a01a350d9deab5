"""Who may see what: API tokens (hashed), incident notes and the audit log.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

Issue 13.2: tokens with a role (admin, noc, carrier), only their SHA-256
stored; notes the NOC adds to an incident; every write through the API or
the token commands logged with who, when and what.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _row_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("carrier", sa.Text(), nullable=True),
        sa.Column("digest", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("expires_at", _time(), nullable=True),
        sa.Column("revoked_at", _time(), nullable=True),
        sa.Column("revoked_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("name", name="uq_api_tokens_name"),
        sa.UniqueConstraint("digest", name="uq_api_tokens_digest"),
        sa.CheckConstraint("role IN ('admin', 'noc', 'carrier')", name=op.f("ck_api_tokens_role")),
        sa.CheckConstraint(
            "(role = 'carrier') = (carrier IS NOT NULL)", name=op.f("ck_api_tokens_carrier_scope")
        ),
    )
    op.create_table(
        "incident_notes",
        sa.Column("id", _row_id(), autoincrement=True, nullable=False),
        sa.Column("incident_id", _row_id(), nullable=False),
        sa.Column("by", sa.Text(), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incident_notes"),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name="fk_incident_notes_incident_id_incidents"
        ),
    )
    op.create_index("ix_incident_notes_incident_id_at", "incident_notes", ["incident_id", "at"])
    op.create_table(
        "audit_log",
        sa.Column("id", _row_id(), autoincrement=True, nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("incident_notes")
    op.drop_table("api_tokens")
