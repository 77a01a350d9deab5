"""Alembic, driven from code: no alembic.ini is needed at run time.

The scripts are found inside the installed `monitor` package, so
`examnet db upgrade` works from any directory and from a wheel.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

SCRIPT_LOCATION = "monitor:migrations"
# Several agents may start at once against one PostgreSQL: one migrates,
# the others wait on this lock and then find the schema at head.
_ADVISORY_LOCK_KEY = int.from_bytes(b"examnet", "big")


def alembic_config(connection: Connection | None = None) -> Config:
    """A Config for the packaged scripts, running on `connection` when given."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        command.upgrade(alembic_config(conn), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
