"""`examnet db stats`: rows, size and oldest row per table, to see retention at work.

Sizes come from the database itself: PostgreSQL's pg_total_relation_size
(table, indexes and TOAST), SQLite's dbstat table where the library has it
(tables with their indexes). The whole: the database's size, and for
SQLite the pages free for reuse (a DELETE does not shrink the file; the
freed pages take the next rows, so the file stops growing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.exc import OperationalError

from monitor.storage.schema import UtcDateTime, metadata


@dataclass(frozen=True, slots=True)
class TableFigures:
    name: str
    rows: int
    size: int | None  # bytes, None when the database cannot tell
    oldest: datetime | None  # of its first time column


@dataclass(frozen=True, slots=True)
class DatabaseFigures:
    tables: tuple[TableFigures, ...]
    size: int  # bytes
    free: int | None  # SQLite: bytes in free pages


def time_column(table: Table) -> str | None:
    """The first aware-time column: when a row happened (or was made)."""
    return next((c.name for c in table.c if isinstance(c.type, UtcDateTime)), None)


def figures(conn: Connection) -> DatabaseFigures:
    present = set(conn.dialect.get_table_names(conn))
    sizes = _sizes(conn, present)
    known = sorted(present & set(metadata.tables))
    tables = tuple(_table(conn, metadata.tables[name], sizes) for name in known)
    if conn.dialect.name == "postgresql":
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        return DatabaseFigures(tables, int(size), None)
    page = _pragma(conn, "page_size")
    return DatabaseFigures(
        tables, page * _pragma(conn, "page_count"), page * _pragma(conn, "freelist_count")
    )


def _table(conn: Connection, table: Table, sizes: dict[str, int]) -> TableFigures:
    column = time_column(table)
    oldest = func.min(table.c[column]) if column is not None else None
    query = select(func.count(), *([oldest] if oldest is not None else [])).select_from(table)
    row = conn.execute(query).one()
    first = row[1] if oldest is not None else None
    return TableFigures(table.name, int(row[0]), sizes.get(table.name), first)


def _sizes(conn: Connection, tables: set[str]) -> dict[str, int]:
    if conn.dialect.name == "postgresql":
        query = text("SELECT pg_total_relation_size(to_regclass(:name))")
        return {t: int(conn.execute(query, {"name": t}).scalar_one() or 0) for t in tables}
    try:
        rows = conn.execute(
            text(
                "SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat AS d "
                "JOIN sqlite_master AS m ON d.name = m.name GROUP BY m.tbl_name"
            )
        )
    except OperationalError:  # a SQLite built without SQLITE_ENABLE_DBSTAT_VTAB
        return {}
    return {name: int(size) for name, size in rows}


def _pragma(conn: Connection, name: str) -> int:
    value: Any = conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
    return int(value)


def size_text(size: int | None) -> str:
    """Bytes for people: 1.2 MiB."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover - the loop returns at GiB


def render(found: DatabaseFigures) -> list[str]:
    """The table `examnet db stats` prints."""
    lines = [f"{'table':<22}{'rows':>12}{'size':>12}  oldest (UTC)"]
    for t in found.tables:
        oldest = t.oldest.isoformat(timespec="seconds") if t.oldest is not None else "-"
        lines.append(f"{t.name:<22}{t.rows:>12,}{size_text(t.size):>12}  {oldest}")
    free = f", {size_text(found.free)} free for reuse" if found.free is not None else ""
    lines.append(f"{'total':<22}{'':>12}{size_text(found.size):>12}{free}")
    return lines
