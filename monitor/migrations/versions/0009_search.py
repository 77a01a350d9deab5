"""Free-text search of the incident history, fast on PostgreSQL: a trigram index.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

Issue 13's load target (a filtered page of 100,000 incidents in < 200 ms)
failed only for `q`: ILIKE '%…%' over four columns scans every row (0.4 s
on PostgreSQL). pg_trgm's GIN index serves exactly that pattern. The index
is on the one expression the search uses (`monitor.storage.history.search_text`),
written here as the same SQL. pg_trgm is a trusted extension (PostgreSQL 13+):
the database's owner may create it. Where it cannot be had (no contrib
files, no right), the search still works, by a scan, and the migration says so.
SQLite has no such index; its scan answers within the target (benchmarks/incidents.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from alembic import op
from sqlalchemy.exc import DBAPIError

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("examnet.storage")

INDEX = "ix_incidents_search_trgm"  # monitor.storage.schema.DIALECT_INDEXES names it too
EXPRESSION = "(subject || ' ' || reason || ' ' || coalesce(site, '') || ' ' || kind)"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as exc:  # no contrib files, no right: search by a scan
        log.warning(
            "PostgreSQL refused the pg_trgm extension (%s): free-text search of incidents "
            "works without its index, more slowly",
            str(exc).splitlines()[0],
        )
        return
    op.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON incidents USING gin ({EXPRESSION} gin_trgm_ops)"
    )


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
