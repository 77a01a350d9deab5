"""Text at the storage boundary: no NUL characters reach the database.

PostgreSQL's text type cannot hold U+0000, and psycopg refuses the whole
statement before it leaves the client ("PostgreSQL text fields cannot
contain NUL (0x00) bytes"). An SNMP agent's ifDescr padded with NULs, or
a receiver's error page, must not cost the batch it rides in (issue 10.9).
Each NUL becomes U+FFFD, the replacement character: visible, and the same
on SQLite, so both databases store the same rows.
"""

from __future__ import annotations

from typing import Any

NUL = "\x00"
REPLACEMENT = "\ufffd"


def clean(value: Any) -> Any:
    """`value` with every NUL in its strings replaced, inside lists and dicts (JSON) too."""
    if isinstance(value, str):
        return value.replace(NUL, REPLACEMENT) if NUL in value else value
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def clean_row(row: dict[str, Any]) -> dict[str, Any]:
    """A row to insert, its text and JSON values cleaned."""
    return {name: clean(value) for name, value in row.items()}
