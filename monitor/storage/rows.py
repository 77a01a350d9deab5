"""Records to rows and back, and the statements that move them.

Every insert ignores a row that is already there (same natural key): the
writer may replay a batch whose commit outcome it never learnt.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, Row, Select, Table, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from monitor.inventory import Target
from monitor.records import RoundRecord, StateChange, SubjectKind
from monitor.storage.schema import probe_rounds, state_changes, targets

Record = RoundRecord | StateChange

_TARGET_FIELDS = ("kind", "address", "site", "carrier", "link", "endpoint")


def _insert(dialect: str, table: Table) -> sqlite.Insert | postgresql.Insert:
    if dialect == "sqlite":
        return sqlite.insert(table)
    return postgresql.insert(table)


class Statements:
    """The dialect's idempotent inserts, built once per store."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.rounds = _insert(dialect, probe_rounds).on_conflict_do_nothing(
            index_elements=["target_id", "started_at"]
        )
        self.state_changes = _insert(dialect, state_changes).on_conflict_do_nothing(
            index_elements=["subject_kind", "subject", "at", "state"]
        )

    def upsert_targets(self) -> Any:
        """Insert targets; on a known key update it, but only if it changed."""
        stmt = _insert(self.dialect, targets)
        changed = or_(*(targets.c[f].is_distinct_from(stmt.excluded[f]) for f in _TARGET_FIELDS))
        updates = {f: stmt.excluded[f] for f in (*_TARGET_FIELDS, "updated_at")}
        return stmt.on_conflict_do_update(index_elements=["key"], set_=updates, where=changed)


def target_row(target: Target, now: datetime) -> dict[str, Any]:
    return {
        "key": target.key,
        "kind": str(target.kind),
        "address": target.address,
        "site": target.site,
        "carrier": target.carrier,
        "link": target.link,
        "endpoint": target.endpoint,
        "created_at": now,
        "updated_at": now,
    }


def register(conn: Connection, stmts: Statements, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Upsert targets; returns key -> id for every stored target."""
    if rows:
        conn.execute(stmts.upsert_targets(), list(rows))
    return {key: id_ for key, id_ in conn.execute(select(targets.c.key, targets.c.id))}


def write_records(
    conn: Connection, stmts: Statements, ids: dict[str, int], records: Sequence[Record]
) -> None:
    """One executemany per run of same-kind records, in arrival order."""
    for is_round, run in groupby(records, key=lambda r: isinstance(r, RoundRecord)):
        if is_round:
            conn.execute(stmts.rounds, [_round_row(r, ids) for r in _rounds(run)])
        else:
            conn.execute(stmts.state_changes, [_change_row(r) for r in _changes(run)])


def _rounds(records: Iterable[Record]) -> Iterator[RoundRecord]:
    return (r for r in records if isinstance(r, RoundRecord))


def _changes(records: Iterable[Record]) -> Iterator[StateChange]:
    return (r for r in records if isinstance(r, StateChange))


def _round_row(rec: RoundRecord, ids: dict[str, int]) -> dict[str, Any]:
    return {
        "target_id": ids[rec.target],
        "started_at": rec.started_at,
        "duration_ms": rec.duration_ms,
        "sent": rec.sent,
        "received": rec.received,
        "loss": rec.loss,
        "rtt_min_ms": rec.rtt_min_ms,
        "rtt_avg_ms": rec.rtt_avg_ms,
        "rtt_median_ms": rec.rtt_median_ms,
        "rtt_max_ms": rec.rtt_max_ms,
        "jitter_ms": rec.jitter_ms,
        "error": rec.error,
    }


def _change_row(rec: StateChange) -> dict[str, Any]:
    return {
        "subject_kind": str(rec.subject_kind),
        "subject": rec.subject,
        "at": rec.at,
        "previous": rec.previous,
        "state": rec.state,
        "reason": rec.reason,
        "figures": dict(rec.figures),
    }


def describe(rec: Record) -> str:
    """A record named for a log line (no figures: they may be long)."""
    if isinstance(rec, RoundRecord):
        return f"the round of {rec.target} at {rec.started_at.isoformat()}"
    return f"the change of {rec.subject_kind} {rec.subject} to {rec.state} at {rec.at.isoformat()}"


def rounds_query(target: str | None, since: datetime | None) -> Select[Any]:
    pr = probe_rounds
    query = select(targets.c.key, pr).join(targets, pr.c.target_id == targets.c.id)
    if target is not None:
        query = query.where(targets.c.key == target)
    if since is not None:
        query = query.where(pr.c.started_at >= since)
    return query.order_by(pr.c.started_at, pr.c.id)


def round_record(row: Row[Any]) -> RoundRecord:
    m = row._mapping
    return RoundRecord(
        target=m["key"],
        started_at=m["started_at"],
        duration_ms=m["duration_ms"],
        sent=m["sent"],
        received=m["received"],
        loss=m["loss"],
        rtt_min_ms=m["rtt_min_ms"],
        rtt_avg_ms=m["rtt_avg_ms"],
        rtt_median_ms=m["rtt_median_ms"],
        rtt_max_ms=m["rtt_max_ms"],
        jitter_ms=m["jitter_ms"],
        error=m["error"],
    )


def changes_query(subject: str | None) -> Select[Any]:
    sc = state_changes
    query = select(sc)
    if subject is not None:
        query = query.where(sc.c.subject == subject)
    return query.order_by(sc.c.at, sc.c.id)


def state_change(row: Row[Any]) -> StateChange:
    m = row._mapping
    return StateChange(
        subject_kind=SubjectKind(m["subject_kind"]),
        subject=m["subject"],
        at=m["at"],
        previous=m["previous"],
        state=m["state"],
        reason=m["reason"],
        figures=dict(m["figures"]),
    )


def latest_states_query() -> Select[Any]:
    """The newest change per (subject_kind, subject); a tie on `at` goes to the later row."""
    sc = state_changes
    rank = func.row_number().over(
        partition_by=(sc.c.subject_kind, sc.c.subject), order_by=(sc.c.at.desc(), sc.c.id.desc())
    )
    ranked = select(sc.c.subject_kind, sc.c.subject, sc.c.state, rank.label("rank")).subquery()
    return select(ranked.c.subject_kind, ranked.c.subject, ranked.c.state).where(ranked.c.rank == 1)
