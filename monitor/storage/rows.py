"""Records to rows and back, and the statements that move them.

Every insert ignores a row that is already there (same natural key): the
writer may replay a batch whose commit outcome it never learnt. Incidents
are the exception: an upsert that only a newer write can change (see
incident_rows.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, Row, Select, Table, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from monitor.model.inventory import Target
from monitor.model.records import (
    DeviceEvent,
    DeviceValue,
    IncidentRecord,
    InterfaceSample,
    OutboxRecord,
    PollRecord,
    PowerSample,
    ReadinessRecord,
    Record,
    RoundRecord,
    StateChange,
)
from monitor.model.vocabulary import SubjectKind
from monitor.storage import alert_rows, incident_rows
from monitor.storage.schema import (
    device_events,
    device_values,
    incidents,
    interface_samples,
    outbox,
    power_samples,
    probe_rounds,
    readiness_snapshots,
    snmp_polls,
    state_changes,
    targets,
)
from monitor.storage.text import clean_row

# A device record's fields are its table's columns, `device` becoming target_id;
# the second element is the natural key that makes a replay a no-op.
DEVICE_TABLES: dict[type[Any], tuple[Table, tuple[str, ...]]] = {
    PollRecord: (snmp_polls, ("target_id", "started_at")),
    InterfaceSample: (interface_samples, ("target_id", "started_at", "interface")),
    PowerSample: (power_samples, ("target_id", "started_at")),
    DeviceValue: (device_values, ("target_id", "started_at", "name")),
    DeviceEvent: (device_events, ("target_id", "at", "kind")),
}

# What each record is called in logs and in the `kind` label of the dropped-rows metric.
RECORD_KINDS: dict[type[Any], str] = {
    RoundRecord: "round",
    PollRecord: "poll",
    InterfaceSample: "interface_sample",
    PowerSample: "power_sample",
    DeviceValue: "device_value",
    DeviceEvent: "device_event",
    StateChange: "state_change",
    IncidentRecord: "incident",
    ReadinessRecord: "readiness",
    OutboxRecord: "notification",
}
# The audit trail: rare, and never measured again if lost (issue 10.7). The
# rest are measurements, each soon replaced by a newer one.
AUDIT_KINDS = frozenset({"device_event", "state_change", "incident", "readiness", "notification"})


def kind_of(rec: Record) -> str:
    return RECORD_KINDS[type(rec)]


def is_audit(rec: Record) -> bool:
    return RECORD_KINDS[type(rec)] in AUDIT_KINDS


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
        self.by_type: dict[type[Any], Any] = {
            RoundRecord: self.rounds,
            StateChange: self.state_changes,
            IncidentRecord: incident_rows.upsert_incidents(_insert(dialect, incidents)),
            ReadinessRecord: incident_rows.insert_readiness(_insert(dialect, readiness_snapshots)),
            # a notification is written once; a replay must not reset its delivery state
            OutboxRecord: _insert(dialect, outbox).on_conflict_do_nothing(index_elements=["id"]),
        }
        for kind, (table, key) in DEVICE_TABLES.items():
            self.by_type[kind] = _insert(dialect, table).on_conflict_do_nothing(
                index_elements=list(key)
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
    for kind, run in groupby(records, key=type):
        make = _ROW_MAKERS.get(kind, _device_row)
        conn.execute(stmts.by_type[kind], [clean_row(make(r, ids)) for r in run])


def _device_row(rec: Any, ids: dict[str, int]) -> dict[str, Any]:
    row = {f.name: getattr(rec, f.name) for f in fields(rec)}
    row["target_id"] = ids[row.pop("device")]
    return row


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


def _change_row(rec: StateChange, ids: dict[str, int] | None = None) -> dict[str, Any]:
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
    if isinstance(rec, IncidentRecord | ReadinessRecord):
        return incident_rows.describe(rec)
    if isinstance(rec, OutboxRecord):
        return f"the notification {rec.id} to {rec.receiver} ({rec.group_key})"
    if isinstance(rec, RoundRecord):
        return f"the round of {rec.target} at {rec.started_at.isoformat()}"
    if isinstance(rec, DeviceEvent):
        return f"the {rec.kind} event of {rec.device} at {rec.at.isoformat()}"
    if not isinstance(rec, StateChange):
        return f"the {type(rec).__name__} of {rec.device} at {rec.started_at.isoformat()}"
    return f"the change of {rec.subject_kind} {rec.subject} to {rec.state} at {rec.at.isoformat()}"


def rounds_query(target: str | None, since: datetime | None) -> Select[Any]:
    pr = probe_rounds
    query = select(targets.c.key, pr).join(targets, pr.c.target_id == targets.c.id)
    if target is not None:
        query = query.where(targets.c.key == target)
    if since is not None:
        query = query.where(pr.c.started_at >= since)
    return query.order_by(pr.c.started_at, pr.c.id)


def recent_rounds_query(per_target: int) -> Select[Any]:
    """The newest `per_target` rounds of every target, oldest first (a window function:
    SQLite 3.25+ and PostgreSQL both have one)."""
    pr = probe_rounds
    newest = func.row_number().over(
        partition_by=pr.c.target_id, order_by=(pr.c.started_at.desc(), pr.c.id.desc())
    )
    ranked = select(pr, newest.label("newest")).subquery()
    query = select(targets.c.key, ranked).join(targets, ranked.c.target_id == targets.c.id)
    return query.where(ranked.c.newest <= per_target).order_by(ranked.c.started_at, ranked.c.id)


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


_ROW_MAKERS: dict[type[Any], Callable[[Any, dict[str, int]], dict[str, Any]]] = {
    RoundRecord: _round_row,
    StateChange: _change_row,
    IncidentRecord: incident_rows.incident_row,
    ReadinessRecord: incident_rows.readiness_row,
    OutboxRecord: alert_rows.outbox_row,
}


def device_records_query(kind: type[Any], device: str | None) -> Select[Any]:
    table, _key = DEVICE_TABLES[kind]
    query = select(targets.c.key, table).join(targets, table.c.target_id == targets.c.id)
    if device is not None:
        query = query.where(targets.c.key == device)
    order = table.c.at if "at" in table.c else table.c.started_at
    return query.order_by(order, table.c.id)


def device_record(kind: type[Any], row: Row[Any]) -> Any:
    values = row._mapping
    names = [f.name for f in fields(kind)]
    return kind(**{n: values["key"] if n == "device" else values[n] for n in names})


def poll_summary_query(since: datetime) -> Select[Any]:
    """Per device: polls, failures by kind and unreadable values since a moment."""
    sp = snmp_polls
    return (
        select(
            targets.c.key,
            sp.c.failure,
            func.count(),
            func.sum(sp.c.problems),
            func.max(sp.c.started_at),
        )
        .join(targets, sp.c.target_id == targets.c.id)
        .where(sp.c.started_at >= since)
        .group_by(targets.c.key, sp.c.failure)
    )
