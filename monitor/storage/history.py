"""The incident history: one filtered, paged query for the API and `examnet incidents`.

A carrier's scope (`IncidentQuery.scope`) is a condition of the SQL query
itself, in the count as in the page: nothing of another carrier is read and
then dropped. Text filters are bound parameters; LIKE patterns escape their
wildcards, so `%` or `_` in a search are plain characters.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Text,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    union,
)

from monitor.model.keys import LINK, parse_key, strip_kind
from monitor.model.vocabulary import SubjectKind
from monitor.storage import alert_rows
from monitor.storage.alert_rows import StoredIncident
from monitor.storage.schema import (
    SEVERITIES,
    audit_log,
    incident_notes,
    incidents,
    interface_samples,
    outbox,
    probe_rounds,
    state_changes,
    targets,
)
from monitor.storage.text import clean

SORTS = ("started_at", "-started_at", "ended_at", "-ended_at", "severity", "-severity", "id", "-id")
MAX_LIMIT = 1000
TIMELINE_MARGIN = timedelta(minutes=10)  # state changes this long before and after an incident
MAX_EXPORT = 10_000  # incidents in one download (CSV, JSON)
MAX_FIGURES = 1_500  # probe rounds, and interface samples, in one incident's chart data
KEYS = ("at", "series", "n")  # a figure row's time, series and position; the rest are figures


@dataclass(frozen=True, slots=True)
class IncidentQuery:
    """What to find. `scope` is the carrier a carrier token is bound to (None: everything)."""

    scope: str | None = None
    carrier: str | None = None
    sites: Sequence[str] | None = None  # a site, or a district's sites
    kind: str | None = None
    severity: str | None = None
    state: Literal["open", "closed"] | None = None
    since: datetime | None = None
    until: datetime | None = None
    phase: str | None = None
    session: str | None = None
    text: str | None = None
    sort: str = "-started_at"
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class IncidentPage:
    total: int
    incidents: list[StoredIncident]


@dataclass(frozen=True, slots=True)
class Note:
    by: str
    at: datetime
    note: str


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_text() -> ColumnElement[str]:
    """What free text `q` searches: subject, reason, site and kind, as one string.

    One expression, so PostgreSQL's trigram index (migration 0009, the same
    SQL) serves it; the separators are literals, not parameters, or the
    planner could not match the index's expression.
    """
    t = incidents
    space = literal_column("' '", Text)
    site = func.coalesce(t.c.site, literal_column("''", Text))
    return t.c.subject + space + t.c.reason + space + site + space + t.c.kind


def conditions(q: IncidentQuery) -> list[ColumnElement[bool]]:
    t = incidents
    where: list[ColumnElement[bool]] = []
    if q.scope is not None:
        where.append(t.c.carrier == q.scope)
    equal = {"carrier": q.carrier, "kind": q.kind, "severity": q.severity, "phase": q.phase}
    where += [t.c[name] == value for name, value in equal.items() if value is not None]
    if q.sites is not None:
        where.append(t.c.site.in_(list(q.sites)))
    if q.state == "open":
        where.append(t.c.ended_at.is_(None))
    elif q.state == "closed":
        where.append(t.c.ended_at.is_not(None))
    if q.since is not None:  # overlaps [since, until)
        where.append(or_(t.c.ended_at.is_(None), t.c.ended_at >= q.since))
    if q.until is not None:
        where.append(t.c.started_at < q.until)
    if q.session is not None:
        # `sessions` is a JSON list stored as text by both dialects: match the quoted name
        quoted = json.dumps(q.session)
        where.append(cast(t.c.sessions, Text).like(_like(quoted), escape="\\"))
    if q.text:
        where.append(search_text().ilike(_like(q.text), escape="\\"))
    return where


def _order(sort: str) -> list[Any]:
    name = sort.removeprefix("-")
    if name == "severity":
        column: Any = case({s: i for i, s in enumerate(SEVERITIES)}, value=incidents.c.severity)
    else:
        column = incidents.c[name]
    first = column.desc() if sort.startswith("-") else column.asc()
    tie = incidents.c.id.desc() if sort.startswith("-") else incidents.c.id.asc()
    return [first, tie]


def search(conn: Connection, q: IncidentQuery) -> IncidentPage:
    """One page of the incidents `q` finds, and how many it finds in all."""
    if q.sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}")
    where = conditions(q)
    total = conn.execute(select(func.count()).select_from(incidents).where(*where)).scalar_one()
    query = select(incidents).where(*where).order_by(*_order(q.sort))
    query = query.limit(min(max(q.limit, 0), MAX_EXPORT)).offset(max(q.offset, 0))
    return IncidentPage(int(total), alert_rows.stored_incidents(conn, query))


def overlapping(
    conn: Connection, since: datetime, until: datetime, scope: str | None, sites: Sequence[str]
) -> list[StoredIncident]:
    """Every incident overlapping [since, until), oldest first, with its acks (for reports).

    A carrier's scope, in the query: its own incidents (links, endpoints), and
    the site-level ones (no carrier: isolated, redundancy, power) of `sites`,
    the sites it serves.
    """
    t = incidents
    where = [t.c.started_at < until, or_(t.c.ended_at.is_(None), t.c.ended_at > since)]
    if scope is not None:
        where.append(or_(t.c.carrier == scope, and_(t.c.carrier.is_(None), t.c.site.in_(sites))))
    query = select(t).where(*where).order_by(t.c.started_at, t.c.id)
    return alert_rows.stored_incidents(conn, query)


def find(conn: Connection, ident: int, scope: str | None) -> StoredIncident | None:
    """An incident by id, within a carrier's scope: another carrier's is not found."""
    where = [incidents.c.id == ident]
    if scope is not None:
        where.append(incidents.c.carrier == scope)
    found = alert_rows.stored_incidents(conn, select(incidents).where(*where))
    return found[0] if found else None


def notes_of(conn: Connection, ident: int) -> list[Note]:
    query = (
        select(incident_notes)
        .where(incident_notes.c.incident_id == ident)
        .order_by(incident_notes.c.at, incident_notes.c.id)
    )
    return [Note(r.by, r.at, r.note) for r in conn.execute(query)]


def add_note(conn: Connection, ident: int, by: str, note: str, now: datetime) -> None:
    conn.execute(
        insert(incident_notes).values(incident_id=ident, by=clean(by), at=now, note=clean(note))
    )


def state_timeline(
    conn: Connection, subject_kind: str, subject: str, start: datetime, end: datetime | None
) -> list[dict[str, Any]]:
    """The state changes of an incident's subject around it, oldest first."""
    t = state_changes
    where = [t.c.subject_kind == subject_kind, t.c.subject == subject]
    where.append(t.c.at >= start - TIMELINE_MARGIN)
    if end is not None:
        where.append(t.c.at <= end + TIMELINE_MARGIN)
    query = select(t).where(*where).order_by(t.c.at, t.c.id)
    return [
        {"at": r.at, "previous": r.previous, "state": r.state, "reason": r.reason}
        for r in conn.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class Figures:
    """What was measured around an incident, for its chart.

    `every` is 1 when every row is there; k when each series (a target's
    rounds, an interface's samples) was cut into runs of k rows to stay
    within `MAX_FIGURES`, each run one row: its first time and its worst
    figures (RRD's MAX consolidation), so a lost round or a spike is never
    thinned away from the chart.
    """

    since: datetime
    until: datetime
    rounds: list[dict[str, Any]]
    interfaces: list[dict[str, Any]]
    every_round: int = 1
    every_sample: int = 1


def figures(
    conn: Connection,
    subject_kind: str,
    subject: str,
    start: datetime,
    end: datetime | None,
    *,
    scope: str | None,
    now: datetime,
) -> Figures:
    """The rounds and interface samples of an incident's subject, from 10 min before it to
    10 min after its end (to now while it is open).

    A link: its rounds and its interface's samples; an endpoint: its rounds;
    a device: its interfaces' samples; a site: its targets' rounds and its
    links' samples. A carrier's scope is a condition of both queries: only
    its own targets and the interfaces tied to its own links are read.
    """
    since = start - TIMELINE_MARGIN
    until = now if end is None else end + TIMELINE_MARGIN
    rounds, every_round = _figure_rows(conn, _rounds_query(subject_kind, subject, scope),
                                       since, until)  # fmt: skip
    samples, every_sample = _figure_rows(
        conn, _samples_query(subject_kind, subject, scope), since, until
    )
    return Figures(since, until, rounds, samples, every_round, every_sample)


def _rounds_query(subject_kind: str, subject: str, scope: str | None) -> Select[Any] | None:
    t, pr = targets, probe_rounds
    if subject_kind == SubjectKind.TARGET:
        which = t.c.key == subject
    elif subject_kind == SubjectKind.SITE:
        which = t.c.site == subject
    else:
        return None
    where = [which] if scope is None else [which, t.c.carrier == scope]
    columns = (
        pr.c.started_at.label("at"), t.c.key.label("series"), pr.c.loss, pr.c.rtt_median_ms,
        pr.c.rtt_avg_ms, pr.c.rtt_max_ms,
    )  # fmt: skip
    return select(*columns).join(t, pr.c.target_id == t.c.id).where(*where)


def _samples_query(subject_kind: str, subject: str, scope: str | None) -> Select[Any] | None:
    s = interface_samples
    key = parse_key(subject)
    device = targets.alias("device")
    link = targets.alias("link_target")  # the link an interface carries: its carrier, its site
    columns = (
        s.c.started_at.label("at"), s.c.interface.label("series"), s.c.link,
        s.c.utilisation_in, s.c.utilisation_out, s.c.in_bps, s.c.out_bps,
    )  # fmt: skip
    query = select(*columns).join(link, link.c.key == literal(f"{LINK}:") + s.c.link,
                                  isouter=scope is None)  # fmt: skip
    if subject_kind == SubjectKind.TARGET and key is not None and key.kind == LINK:
        query = query.where(s.c.link == strip_kind(subject))
    elif subject_kind == SubjectKind.SITE:
        query = query.where(link.c.site == subject)
    elif subject_kind == SubjectKind.DEVICE:
        query = query.join(device, s.c.target_id == device.c.id).where(device.c.key == subject)
    else:
        return None
    return query if scope is None else query.where(link.c.carrier == scope)


def _figure_rows(
    conn: Connection, query: Select[Any] | None, since: datetime, until: datetime
) -> tuple[list[dict[str, Any]], int]:
    """The rows in [since, until], oldest first; each series thinned alike past MAX_FIGURES."""
    if query is None:
        return [], 1
    query = query.where(query.selected_columns.at >= since, query.selected_columns.at <= until)
    total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    every = max(1, math.ceil(int(total) / MAX_FIGURES))
    position = func.row_number().over(
        partition_by=query.selected_columns.series, order_by=query.selected_columns.at
    )
    numbered = query.add_columns(position.label("n")).subquery()
    if every == 1:
        kept = select(*(c for c in numbered.c if c.name != "n"))
    else:  # runs of `every` rows: the first time, the worst of each figure
        worst = (func.max(c).label(c.name) for c in numbered.c if c.name not in KEYS)
        kept = select(func.min(numbered.c.at).label("at"), numbered.c.series, *worst).group_by(
            numbered.c.series, (numbered.c.n - 1) // every
        )
    ordered = kept.order_by(literal_column("at"), literal_column("series")).limit(
        2 * MAX_FIGURES  # a bound even with many series of a few rows
    )
    return [dict(r._mapping) for r in conn.execute(ordered)], every


def names(conn: Connection, column: str) -> set[str]:
    """The distinct `carrier` or `site` values of the targets and the incidents."""
    if column not in ("carrier", "site"):
        raise ValueError(f"no names of {column!r}")
    known = union(
        select(targets.c[column]).where(targets.c[column].is_not(None)),
        select(incidents.c[column]).where(incidents.c[column].is_not(None)),
    )
    return {str(value) for value in conn.execute(known).scalars()}


def notifications_for(conn: Connection, fingerprint: str, since: datetime) -> list[Any]:
    """Outbox rows whose notification carries the alert `fingerprint` (16 hex digits)."""
    if not (len(fingerprint) == 16 and all(c in "0123456789abcdef" for c in fingerprint)):
        return []
    query = (
        select(outbox.c.receiver, outbox.c.state, outbox.c.created_at, outbox.c.delivered_at)
        .where(outbox.c.notification.contains(f'"{fingerprint}"'), outbox.c.created_at >= since)
        .order_by(outbox.c.created_at, outbox.c.id)
    )
    return list(conn.execute(query))


def audit(
    conn: Connection, *, actor: str, action: str, subject: str, detail: dict[str, Any],
    now: datetime,
) -> None:  # fmt: skip
    """Write one audit row: who (a token's name, never the token), when, what."""
    conn.execute(
        insert(audit_log).values(
            at=now, actor=clean(actor), action=action, subject=clean(subject), detail=clean(detail)
        )
    )


def audit_rows(conn: Connection) -> list[dict[str, Any]]:
    query = select(audit_log).order_by(audit_log.c.at, audit_log.c.id)
    return [dict(r._mapping) for r in conn.execute(query)]
