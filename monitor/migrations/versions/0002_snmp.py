"""SNMP: polls, interface samples, power samples, custom values, device events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

Written out in full, like 0001: a migration is history.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _row_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _keys(table: str, *unique: str) -> list[sa.Constraint]:
    return [
        sa.ForeignKeyConstraint(
            ["target_id"], ["targets.id"], name=f"fk_{table}_target_id_targets"
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.UniqueConstraint(*unique, name=f"uq_{table}_{'_'.join(unique)}"),
    ]


def upgrade() -> None:
    op.create_table(
        "snmp_polls",
        sa.Column("id", _row_id(), autoincrement=True, nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("started_at", _time(), nullable=False),
        sa.Column("duration_ms", sa.Double(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("problems", sa.Integer(), nullable=False),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        *_keys("snmp_polls", "target_id", "started_at"),
    )
    op.create_table(
        "interface_samples",
        sa.Column("id", _row_id(), autoincrement=True, nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("started_at", _time(), nullable=False),
        sa.Column("interface", sa.Text(), nullable=False),
        sa.Column("if_index", sa.Integer(), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("oper_status", sa.Integer(), nullable=True),
        sa.Column("in_bps", sa.Double(), nullable=True),
        sa.Column("out_bps", sa.Double(), nullable=True),
        sa.Column("utilisation_in", sa.Double(), nullable=True),
        sa.Column("utilisation_out", sa.Double(), nullable=True),
        sa.Column("errors_per_s", sa.Double(), nullable=True),
        sa.Column("discards_per_s", sa.Double(), nullable=True),
        sa.Column("no_rate", sa.Text(), nullable=True),
        *_keys("interface_samples", "target_id", "started_at", "interface"),
        sa.CheckConstraint(
            "in_bps IS NULL OR in_bps >= 0", name=op.f("ck_interface_samples_in_rate")
        ),
        sa.CheckConstraint(
            "out_bps IS NULL OR out_bps >= 0", name=op.f("ck_interface_samples_out_rate")
        ),
    )
    op.create_index(
        "ix_interface_samples_link_started_at", "interface_samples", ["link", "started_at"]
    )
    op.create_table(
        "power_samples",
        sa.Column("id", _row_id(), autoincrement=True, nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("started_at", _time(), nullable=False),
        sa.Column("on_battery", sa.Boolean(), nullable=True),
        sa.Column("output_source", sa.Integer(), nullable=True),
        sa.Column("battery_status", sa.Integer(), nullable=True),
        sa.Column("minutes_remaining", sa.Integer(), nullable=True),
        sa.Column("charge_percent", sa.Integer(), nullable=True),
        sa.Column("input_voltage", sa.Double(), nullable=True),
        sa.Column("seconds_on_battery", sa.Integer(), nullable=True),
        *_keys("power_samples", "target_id", "started_at"),
    )
    op.create_table(
        "device_values",
        sa.Column("id", _row_id(), autoincrement=True, nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("started_at", _time(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        *_keys("device_values", "target_id", "started_at", "name"),
    )
    op.create_table(
        "device_events",
        sa.Column("id", _row_id(), autoincrement=True, nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("at", _time(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        *_keys("device_events", "target_id", "at", "kind"),
    )


def downgrade() -> None:
    op.drop_table("device_events")
    op.drop_table("device_values")
    op.drop_table("power_samples")
    op.drop_index("ix_interface_samples_link_started_at", table_name="interface_samples")
    op.drop_table("interface_samples")
    op.drop_table("snmp_polls")
