"""The outbox, silences and acknowledgements: alerting's rows, writes and reads.

A notification reaches the outbox through the spool like any record (an
insert that a replay cannot duplicate). From there the outbox worker moves
it along `pending → sending → delivered | failed | expired` with the small
synchronous calls below. Per (receiver, group) only the oldest open row may
be sent, so a group's notifications arrive in the order they were made even
after a receiver was down for an hour.

`sending` is a lease (`claimed_until`): a worker that died mid-send lets
the row go when the lease runs out, and it is sent again. That is the only
case of a second delivery, and the notification id lets the receiver drop
it (at-least-once, with an idempotency key: see docs/alerting.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from monitor.model.records import (
    OUTBOX_OPEN,
    IncidentRecord,
    OutboxRecord,
    OutboxRow,
    SilenceRecord,
)
from monitor.storage import incident_rows
from monitor.storage.schema import acks, incidents, outbox, silences
from monitor.storage.text import clean, clean_row


@dataclass(frozen=True, slots=True)
class Ack:
    """One acknowledgement: who, when, and what they said they are doing."""

    by: str
    at: datetime
    note: str = ""


@dataclass(frozen=True, slots=True)
class StoredIncident:
    """An incident with its row id (what `examnet ack` takes) and every acknowledgement."""

    id: int
    record: IncidentRecord
    acks: tuple[Ack, ...] = ()  # oldest first

    @property
    def latest_ack(self) -> Ack | None:
        return self.acks[-1] if self.acks else None

    @property
    def acknowledged_by(self) -> str | None:
        return self.acks[-1].by if self.acks else None

    @property
    def acknowledged_at(self) -> datetime | None:
        return self.acks[-1].at if self.acks else None

    @property
    def ack_note(self) -> str | None:
        return self.acks[-1].note if self.acks else None


# --- the outbox -------------------------------------------------------------------------


def outbox_row(rec: OutboxRecord, _ids: object = None) -> dict[str, Any]:
    row = {f.name: getattr(rec, f.name) for f in fields(rec)}
    row.update(state="pending", attempts=0, next_attempt_at=rec.created_at)
    if rec.delivered_at is not None:
        row.update(state="delivered", attempts=1, finished_at=rec.delivered_at)
    return row


def _outbox_row(row: Any) -> OutboxRow:
    m = row._mapping
    return OutboxRow(**{f.name: m[f.name] for f in fields(OutboxRow)})


RowTest = Callable[[OutboxRow], bool]


def expire_outbox(
    conn: Connection, now: datetime, expired: RowTest | None = None
) -> list[OutboxRow]:
    """Give up on open notifications past their expiry; returns them (to log and count).

    `expired` decides for each open row (the worker's monotonic deadlines);
    without it, the stored `expires_at` is compared with `now`.
    """
    is_late = expired or (lambda row: row.expires_at <= now)
    rows = conn.execute(select(outbox).where(outbox.c.state.in_(OUTBOX_OPEN)))
    late = [row for row in (_outbox_row(r) for r in rows) if is_late(row)]
    if late:
        conn.execute(
            update(outbox)
            .where(outbox.c.id.in_([row.id for row in late]), outbox.c.state.in_(OUTBOX_OPEN))
            .values(state="expired", finished_at=now, claimed_until=None)
        )
    return late


def release_outbox(conn: Connection) -> int:
    """At start-up: what a killed process was sending is due again (one examnet per database)."""
    done = conn.execute(
        update(outbox)
        .where(outbox.c.state == "sending")
        .values(state="pending", claimed_until=None)
    )
    return done.rowcount


def claim_outbox(
    conn: Connection, now: datetime, lease: float, limit: int, due: RowTest | None = None
) -> list[OutboxRow]:
    """The due heads of their groups, marked `sending` until now + lease.

    A group whose head is not due (backing off, or leased to a sender) sends
    nothing: what comes after it waits, so the order holds. `due` decides
    whether a pending head's next attempt has come (the worker's monotonic
    schedule); without it, the stored `next_attempt_at` is compared with `now`.
    """
    is_due = due or (lambda row: row.next_attempt_at <= now)
    rows = conn.execute(
        select(outbox)
        .where(outbox.c.state.in_(OUTBOX_OPEN))
        .order_by(outbox.c.created_at, outbox.c.id)
    )
    heads: dict[tuple[str, str], OutboxRow] = {}
    for row in rows:
        stored = _outbox_row(row)
        heads.setdefault((stored.receiver, stored.group_key), stored)
    claimed: list[OutboxRow] = []
    until = now + timedelta(seconds=lease)
    for head in heads.values():
        if len(claimed) >= limit:
            break
        if head.state == "pending" and not is_due(head):
            continue
        if head.state == "sending" and head.claimed_until is not None and head.claimed_until > now:
            continue
        # conditional on what was read: of two claimers, one wins
        done = conn.execute(
            update(outbox)
            .where(
                outbox.c.id == head.id,
                outbox.c.state == head.state,
                outbox.c.attempts == head.attempts,
            )
            .values(state="sending", claimed_until=until)
        )
        if done.rowcount == 1:
            claimed.append(head)
    return claimed


def outbox_delivered(conn: Connection, ident: str, now: datetime) -> None:
    conn.execute(
        update(outbox)
        .where(outbox.c.id == ident)
        .values(
            state="delivered",
            attempts=outbox.c.attempts + 1,
            delivered_at=now,
            finished_at=now,
            claimed_until=None,
            last_error=None,
        )
    )


def outbox_retry(conn: Connection, ident: str, error: str, next_at: datetime) -> None:
    conn.execute(
        update(outbox)
        .where(outbox.c.id == ident, outbox.c.state == "sending")
        .values(
            state="pending",
            attempts=outbox.c.attempts + 1,
            next_attempt_at=next_at,
            claimed_until=None,
            last_error=clean(error),  # a receiver's answer may hold anything
        )
    )


def outbox_failed(conn: Connection, ident: str, error: str, now: datetime) -> None:
    conn.execute(
        update(outbox)
        .where(outbox.c.id == ident)
        .values(
            state="failed",
            attempts=outbox.c.attempts + 1,
            finished_at=now,
            claimed_until=None,
            last_error=clean(error),
        )
    )


def outbox_rows(
    conn: Connection, receiver: str | None = None, states: Sequence[str] | None = None
) -> list[OutboxRow]:
    query = select(outbox).order_by(outbox.c.created_at, outbox.c.id)
    if receiver is not None:
        query = query.where(outbox.c.receiver == receiver)
    if states is not None:
        query = query.where(outbox.c.state.in_(list(states)))
    return [_outbox_row(r) for r in conn.execute(query)]


def outbox_latest(conn: Connection) -> list[OutboxRow]:
    """The newest notification of each (receiver, group): what each group was last told."""
    newest = (
        select(
            outbox.c.receiver,
            outbox.c.group_key,
            func.max(outbox.c.created_at).label("created_at"),
        )
        .group_by(outbox.c.receiver, outbox.c.group_key)
        .subquery()
    )
    query = select(outbox).join(
        newest,
        and_(
            outbox.c.receiver == newest.c.receiver,
            outbox.c.group_key == newest.c.group_key,
            outbox.c.created_at == newest.c.created_at,
        ),
    )
    latest: dict[tuple[str, str], OutboxRow] = {}
    for row in conn.execute(query.order_by(outbox.c.created_at, outbox.c.id)):
        stored = _outbox_row(row)
        latest[(stored.receiver, stored.group_key)] = stored
    return list(latest.values())


def outbox_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """(receiver, state) → notifications, for /metrics and status."""
    query = select(outbox.c.receiver, outbox.c.state, func.count()).group_by(
        outbox.c.receiver, outbox.c.state
    )
    return {(receiver, state): count for receiver, state, count in conn.execute(query)}


# --- silences -------------------------------------------------------------------------------


def silence_row(rec: SilenceRecord) -> dict[str, Any]:
    row = {f.name: getattr(rec, f.name) for f in fields(rec)}
    row["matchers"] = list(rec.matchers)
    return row


def silence_record(row: Any) -> SilenceRecord:
    m = row._mapping
    values = {f.name: m[f.name] for f in fields(SilenceRecord)}
    values["matchers"] = tuple(values["matchers"])
    return SilenceRecord(**values)


def upsert_silence(conn: Connection, dialect: str, rec: SilenceRecord) -> None:
    """Insert a silence; a file's silence changed since is updated, unless someone ended it."""
    insert = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(silences)
    row = clean_row(silence_row(rec))
    kept = ("matchers", "starts_at", "ends_at", "created_by", "comment")
    stmt = insert.values(row).on_conflict_do_update(
        index_elements=["id"],
        set_={name: insert.excluded[name] for name in kept},
        where=silences.c.expired_at.is_(None),
    )
    conn.execute(stmt)


def silences_query(active_at: datetime | None) -> Any:
    query = select(silences).order_by(silences.c.starts_at, silences.c.id)
    if active_at is not None:
        query = query.where(silences.c.starts_at <= active_at, silences.c.ends_at > active_at)
    return query


def silence_records(conn: Connection, active_at: datetime | None) -> list[SilenceRecord]:
    return [silence_record(r) for r in conn.execute(silences_query(active_at))]


def get_silence(conn: Connection, ident: str) -> SilenceRecord | None:
    row = conn.execute(select(silences).where(silences.c.id == ident)).first()
    return None if row is None else silence_record(row)


def expire_silence(conn: Connection, ident: str, by: str, now: datetime) -> bool:
    """End a silence now (audited); False when it is unknown or already over."""
    found = get_silence(conn, ident)
    if found is None or found.ends_at <= now:
        return False
    # a silence that has not started yet ends before it began: keep start < end
    starts_at = min(found.starts_at, now - timedelta(microseconds=1))
    conn.execute(
        update(silences)
        .where(silences.c.id == ident)
        .values(starts_at=starts_at, ends_at=now, expired_by=clean(by), expired_at=now)
    )
    return True


# --- acknowledgements --------------------------------------------------------------------

# ids per query when reading the acks of many incidents (well under SQLite's
# and PostgreSQL's limits on bound parameters)
_IDS_PER_QUERY = 500


def stored_incidents(conn: Connection, query: Any) -> list[StoredIncident]:
    """The incidents `query` selects, each with its acknowledgements."""
    rows = list(conn.execute(query))
    found = acks_of(conn, [row._mapping["id"] for row in rows])
    return [
        StoredIncident(
            id=row._mapping["id"],
            record=incident_rows.incident_record(row),
            acks=tuple(found.get(row._mapping["id"], ())),
        )
        for row in rows
    ]


def acks_of(conn: Connection, ids: Sequence[int]) -> dict[int, list[Ack]]:
    """Incident id → its acknowledgements, oldest first."""
    found: dict[int, list[Ack]] = {}
    for start in range(0, len(ids), _IDS_PER_QUERY):
        chosen = ids[start : start + _IDS_PER_QUERY]
        query = (
            select(acks).where(acks.c.incident_id.in_(chosen)).order_by(acks.c.acked_at, acks.c.id)
        )
        for row in conn.execute(query):
            m = row._mapping
            found.setdefault(m["incident_id"], []).append(
                Ack(m["acked_by"], m["acked_at"], m["note"])
            )
    return found


def find_incident(conn: Connection, ident: int) -> StoredIncident | None:
    found = stored_incidents(conn, select(incidents).where(incidents.c.id == ident))
    return found[0] if found else None


def acknowledge(conn: Connection, ident: int, by: str, note: str, now: datetime) -> bool:
    """Add an acknowledgement (who, when, why) to the incident; False for an unknown id.

    Each is kept: a second person's ack is added to the first, not written over it.
    """
    if conn.execute(select(incidents.c.id).where(incidents.c.id == ident)).first() is None:
        return False
    conn.execute(
        insert(acks).values(incident_id=ident, acked_by=clean(by), acked_at=now, note=clean(note))
    )
    return True
