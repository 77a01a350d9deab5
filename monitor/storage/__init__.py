"""Storage: targets, probe rounds and state changes in SQLite or PostgreSQL.

`Store` is the only way in; `database_url` resolves `--db` / EXAMNET_DB.
"""

from monitor.storage.engine import DEFAULT_DATABASE_URL, database_url
from monitor.storage.spool import SpoolClosedError
from monitor.storage.store import Store, StoreStats

__all__ = [
    "DEFAULT_DATABASE_URL",
    "SpoolClosedError",
    "Store",
    "StoreStats",
    "database_url",
]
