"""Database URLs and engines: the SQLite pragmas and the PostgreSQL settings.

Only sqlite and postgresql are supported: idempotent replays rely on their
`INSERT ... ON CONFLICT DO NOTHING`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from monitor.storage.sqlite_file import SqliteFile

DEFAULT_DATABASE_URL = "sqlite:///examnet.db"
ENV_VARIABLE = "EXAMNET_DB"
SUPPORTED_DIALECTS = frozenset({"sqlite", "postgresql"})
DEFAULT_SQLITE_BUSY_TIMEOUT = 2.0
# Seconds before a connection attempt to a PostgreSQL server that does not
# answer (host down, packets dropped) gives up and the rows go to the spool.
POSTGRES_CONNECT_TIMEOUT = 10


def database_url(cli_value: str | None, env: Mapping[str, str]) -> str:
    """`--db`, else `EXAMNET_DB`, else ./examnet.db; a bare path means SQLite."""
    value = cli_value or env.get(ENV_VARIABLE) or DEFAULT_DATABASE_URL
    return normalize_url(value)


class NoDatabaseError(Exception):
    """A command that only reads was pointed at a database the monitor never wrote."""


WHERE_FROM = "start the monitor (examnet run) or point --db / EXAMNET_DB at its database"


def require_sqlite_file(url: str) -> None:
    """Refuse a SQLite file that does not exist: opening it would create an empty
    database, and a mistyped --db would then report a quiet history."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
        raise NoDatabaseError(f"{parsed.database}: no such database: {WHERE_FROM}")


def no_data(url: str) -> NoDatabaseError:
    return NoDatabaseError(f"{safe_url(url)} holds no examnet data yet: {WHERE_FROM}")


def normalize_url(value: str) -> str:
    """A SQLAlchemy URL as given, or a file path turned into a SQLite URL."""
    if "://" in value:
        return value
    return URL.create("sqlite", database=value).render_as_string(hide_password=False)


def safe_url(url: str | URL) -> str:
    """The URL for logs and messages: the password is masked."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path | None:
    """The file of a plain SQLite URL (absolute), or None (another database, or a URI form)."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite" or "uri" in parsed.query:
        return None
    if parsed.database in (None, "", ":memory:"):
        return None
    return Path(os.path.abspath(parsed.database))


def make_engine(
    url: str, *, sqlite_busy_timeout: float, sqlite_file: SqliteFile | None = None
) -> Engine:
    """An engine with examnet's settings for its dialect.

    A plain SQLite file is created 0600 and reopened with `mode=rw` only
    (sqlite_file.py); pass `sqlite_file` to watch it from the caller.
    """
    parsed = make_url(normalize_url(url))
    dialect = parsed.get_backend_name()
    if dialect not in SUPPORTED_DIALECTS:
        raise ValueError(f"unsupported database {safe_url(parsed)}: use sqlite or postgresql")
    if dialect == "sqlite":
        path = sqlite_path(url)
        if sqlite_file is None and path is not None:
            sqlite_file = SqliteFile(path)
        return _sqlite_engine(parsed, sqlite_busy_timeout, sqlite_file)
    return _postgres_engine(parsed)


def _sqlite_engine(url: URL, busy_timeout: float, file: SqliteFile | None) -> Engine:
    if url.database in (None, "", ":memory:") or url.query.get("mode") == "memory":
        # each connection of the pool would see its own empty database
        raise ValueError("an in-memory SQLite database cannot be shared: give a file path")
    engine = create_engine(url)
    if file is not None:
        event.listen(engine, "do_connect", file.on_connect)
    event.listen(engine, "connect", _sqlite_pragmas(busy_timeout))
    return engine


def _sqlite_pragmas(busy_timeout: float) -> Any:
    timeout_ms = max(0, round(busy_timeout * 1000))

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets the CLI and reports read while the writer writes;
        # NORMAL is durable in WAL except for the last commits on power loss.
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    return on_connect


def _postgres_engine(url: URL) -> Engine:
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT
    # pre-ping: after a server restart the pooled connections are dead.
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def describe_error(exc: BaseException, url: str | URL | None = None) -> str:
    """One line about a database error: the driver's message, never SQL or parameters.

    SQLAlchemy's own text carries the statement and its parameters (rows,
    possibly long); the driver's first line is what an operator needs.
    """
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    text = f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    password = make_url(url).password if url is not None else None
    if password:
        text = text.replace(str(password), "***")
    return text
