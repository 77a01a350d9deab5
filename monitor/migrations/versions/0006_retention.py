"""Retention: indexes to delete raw figures and finished notifications by age.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

The housekeeper (monitor/storage/retention.py) deletes in small batches
selected by time; without these indexes each batch would scan its table.
probe_rounds has had its index on started_at since 0001. On PostgreSQL a
plain CREATE INDEX blocks writes to its table while it builds: the writer
spools meanwhile, nothing is lost.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {
    "ix_snmp_polls_started_at": ("snmp_polls", ["started_at"]),
    "ix_interface_samples_started_at": ("interface_samples", ["started_at"]),
    "ix_power_samples_started_at": ("power_samples", ["started_at"]),
    "ix_device_values_started_at": ("device_values", ["started_at"]),
    "ix_outbox_finished_at": ("outbox", ["finished_at"]),
}


def upgrade() -> None:
    for name, (table, columns) in _INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in reversed(_INDEXES.items()):
        op.drop_index(name, table_name=table)
