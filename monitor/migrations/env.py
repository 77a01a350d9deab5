"""Alembic environment for examnet.

`monitor.storage.migrate` hands over its own connection (in
`config.attributes["connection"]`); run by the `alembic` command instead,
the URL comes from `sqlalchemy.url` or, failing that, EXAMNET_DB.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from monitor.storage.engine import DEFAULT_SQLITE_BUSY_TIMEOUT, database_url, make_engine
from monitor.storage.schema import metadata


def _url() -> str:
    return context.config.get_main_option("sqlalchemy.url") or database_url(None, os.environ)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: later migrations copy the table
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url(), sqlite_busy_timeout=DEFAULT_SQLITE_BUSY_TIMEOUT)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


def _run_offline() -> None:
    """`alembic upgrade --sql`: print the DDL for a DBA to apply."""
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
