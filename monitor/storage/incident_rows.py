"""Incidents and readiness snapshots: records to rows, their writes and reads.

An incident is written again each time it changes. The upsert applies a
write only when it is not older than the stored row (`updated_at`), so a
replayed batch or a late write never undoes a newer state, and it never
touches the acknowledgement columns, which belong to alerting.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from monitor.model.records import IncidentRecord, ReadinessRecord
from monitor.model.vocabulary import ConditionKind, Phase, Severity, SubjectKind
from monitor.storage.schema import ACK_COLUMNS, incidents, readiness_snapshots

INCIDENT_KEY = ("subject_kind", "subject", "kind", "started_at")
READINESS_KEY = ("session", "session_start", "seconds_before")
# What a later write of an incident may change: all but its id, key and ack.
_UPDATED = tuple(c.name for c in incidents.c if c.name not in {"id", *INCIDENT_KEY, *ACK_COLUMNS})

Insert = sqlite.Insert | postgresql.Insert


def upsert_incidents(insert: Insert) -> Any:
    """Insert an incident, or update it from a write that is not older than the stored one."""
    updates = {name: insert.excluded[name] for name in _UPDATED}
    not_older = incidents.c.updated_at <= insert.excluded.updated_at
    return insert.on_conflict_do_update(
        index_elements=list(INCIDENT_KEY), set_=updates, where=not_older
    )


def insert_readiness(insert: Insert) -> Any:
    """Insert a snapshot; one already taken for that session and lead time stays."""
    return insert.on_conflict_do_nothing(index_elements=list(READINESS_KEY))


def incident_row(rec: IncidentRecord, _ids: object = None) -> dict[str, Any]:
    row = _as_dict(rec)
    row["sessions"] = list(rec.sessions)
    row["affected"] = list(rec.affected)
    for name in ("subject_kind", "kind", "severity", "phase"):  # members, stored as text
        row[name] = str(row[name])
    return row


def readiness_row(rec: ReadinessRecord, _ids: object = None) -> dict[str, Any]:
    row = _as_dict(rec)
    row["not_ready"] = [dict(site) for site in rec.not_ready]
    return row


def _as_dict(rec: IncidentRecord | ReadinessRecord) -> dict[str, Any]:
    return {f.name: getattr(rec, f.name) for f in fields(rec)}


def describe(rec: IncidentRecord | ReadinessRecord) -> str:
    """The record named for a log line."""
    if isinstance(rec, IncidentRecord):
        return (
            f"the {rec.kind} incident of {rec.subject_kind} {rec.subject} "
            f"started at {rec.started_at.isoformat()}"
        )
    return (
        f"the readiness snapshot {rec.seconds_before} s before session {rec.session} "
        f"at {rec.session_start.isoformat()}"
    )


def incidents_query(
    *,
    subject: str | None,
    carrier: str | None,
    site: str | None,
    since: datetime | None,
    until: datetime | None,
    open_only: bool,
) -> Select[Any]:
    """Incidents that overlap [since, until), oldest start first."""
    t = incidents
    equal = {"subject": subject, "carrier": carrier, "site": site}
    where: list[ColumnElement[bool]] = [t.c[n] == v for n, v in equal.items() if v is not None]
    if since is not None:
        where.append(or_(t.c.ended_at.is_(None), t.c.ended_at >= since))
    if until is not None:
        where.append(t.c.started_at < until)
    if open_only:
        where.append(t.c.ended_at.is_(None))
    return select(t).where(*where).order_by(t.c.started_at, t.c.id)


def incident_record(row: Row[Any]) -> IncidentRecord:
    values = _values(IncidentRecord, row)
    values["sessions"] = tuple(values["sessions"])
    values["affected"] = tuple(values["affected"])
    # stored as their values; read back as the members the record carries
    values["subject_kind"] = SubjectKind(values["subject_kind"])
    values["kind"] = ConditionKind(values["kind"])
    values["severity"] = Severity(values["severity"])
    values["phase"] = Phase(values["phase"])
    return IncidentRecord(**values)


def readiness_query(session: str | None) -> Select[Any]:
    t = readiness_snapshots
    query = select(t) if session is None else select(t).where(t.c.session == session)
    return query.order_by(t.c.taken_at, t.c.id)


def readiness_record(row: Row[Any]) -> ReadinessRecord:
    values = _values(ReadinessRecord, row)
    values["not_ready"] = tuple(dict(site) for site in values["not_ready"])
    return ReadinessRecord(**values)


def _values(kind: type[Any], row: Row[Any]) -> dict[str, Any]:
    m = row._mapping
    return {f.name: m[f.name] for f in fields(kind)}
