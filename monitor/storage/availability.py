"""The rows availability is computed from: outages and silences overlapping a range.

SQL does the filtering (kinds, the range, a carrier's scope); the interval
arithmetic is `monitor.availability`'s, in Python, over these rows.
A carrier's scope is a condition of the query: its links' `down` incidents,
its endpoints' outages, and the `isolated` / `lost_redundancy` incidents of
the sites it serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, or_, select

from monitor.model.records import SilenceRecord
from monitor.model.vocabulary import ConditionKind, SubjectKind
from monitor.storage import alert_rows
from monitor.storage.alert_rows import StoredIncident
from monitor.storage.schema import incidents, silences

LINK_KINDS = (ConditionKind.DOWN,)
# a carrier endpoint lost, or answering with every link behind it down: its links are
# down too, though their own `down` incidents are part of the endpoint's (one cause)
ENDPOINT_KINDS = (ConditionKind.ENDPOINT_DOWN, ConditionKind.CHILDREN_DOWN)
SITE_KINDS = (ConditionKind.ISOLATED, ConditionKind.LOST_REDUNDANCY)
OUTAGE_KINDS = frozenset({*LINK_KINDS, *ENDPOINT_KINDS, *SITE_KINDS})


@dataclass(frozen=True, slots=True)
class OutageQuery:
    """[since, until); `scope` a carrier token's carrier, `sites` the sites it serves."""

    since: datetime
    until: datetime
    scope: str | None = None
    sites: Sequence[str] = ()


def _conditions(q: OutageQuery) -> list[ColumnElement[bool]]:
    t = incidents
    link = and_(
        t.c.subject_kind == str(SubjectKind.TARGET),
        t.c.kind.in_([str(k) for k in LINK_KINDS]),
        t.c.subject.like("link:%"),
    )
    endpoint = and_(
        t.c.subject_kind == str(SubjectKind.TARGET),
        t.c.kind.in_([str(k) for k in ENDPOINT_KINDS]),
        t.c.subject.like("endpoint:%"),
    )
    site = and_(
        t.c.subject_kind == str(SubjectKind.SITE), t.c.kind.in_([str(k) for k in SITE_KINDS])
    )
    if q.scope is not None:
        link = and_(link, t.c.carrier == q.scope)
        endpoint = and_(endpoint, t.c.carrier == q.scope)
        site = and_(site, t.c.site.in_(list(q.sites)))
    return [
        or_(link, endpoint, site),
        t.c.started_at < q.until,
        or_(t.c.ended_at.is_(None), t.c.ended_at > q.since),
    ]


def outages(conn: Connection, q: OutageQuery) -> list[StoredIncident]:
    """Link `down`, endpoint outages and site `isolated`/`lost_redundancy` incidents in range."""
    query = select(incidents).where(*_conditions(q)).order_by(incidents.c.started_at)
    return alert_rows.stored_incidents(conn, query)


def silences_between(conn: Connection, since: datetime, until: datetime) -> list[SilenceRecord]:
    """Every silence in effect at some time of [since, until) (ended early: `ends_at` is when)."""
    query = (
        select(silences)
        .where(silences.c.starts_at < until, silences.c.ends_at > since)
        .order_by(silences.c.starts_at, silences.c.id)
    )
    return [alert_rows.silence_record(row) for row in conn.execute(query)]
