"""Exam day rehearsed now: the whole plan moved in time so a session runs.

A newcomer (or a NOC drill) must see what examnet does during an exam —
the session cadence, the raised severities, the BTS links that exist only
for the exam days — months before the first session. Moving the clock
would stamp rounds and incidents with false dates; instead every date of
the plan moves by one shift (the calendar, the links' active windows, the
file's silences), and the shift is recorded in the database so `status`
reads the same calendar as the running monitor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from monitor.model.alerting import SilenceConfig
from monitor.model.calendar import Calendar, Session, TimeRange
from monitor.model.inventory import Inventory, Link, Site


class RehearsalError(ValueError):
    """The session asked for is not in the calendar."""


@dataclass(frozen=True, slots=True)
class Rehearsal:
    session: str  # the session that runs now
    shift: timedelta  # added to every date of the plan
    started_at: datetime


def plan(inventory: Inventory, now: datetime, session: str = "") -> Rehearsal:
    """The shift that makes `session` (default: the first) start at this minute."""
    sessions = inventory.calendar.sessions
    if not sessions:
        raise RehearsalError("the calendar has no session to rehearse")
    chosen = _session(sessions, session)
    start = now.replace(second=0, microsecond=0)  # whole minutes: dates stay readable
    return Rehearsal(chosen.name, start - chosen.start, now)


def _session(sessions: tuple[Session, ...], name: str) -> Session:
    if not name:
        return sessions[0]
    for s in sessions:
        if s.name == name:
            return s
    names = ", ".join(repr(s.name) for s in sessions)
    raise RehearsalError(f"--rehearse {name!r}: no such session (the calendar has {names})")


def rehearsed(inventory: Inventory, rehearsal: Rehearsal) -> Inventory:
    """The plan with every date moved by the rehearsal's shift."""
    d = rehearsal.shift
    return replace(
        inventory,
        calendar=_calendar(inventory.calendar, d),
        sites=tuple(_site(s, d) for s in inventory.sites),
        silences=tuple(_silence(s, d) for s in inventory.silences),
        alerting=replace(inventory.alerting, rehearsal=rehearsal.session),
    )


def describe(rehearsal: Rehearsal) -> str:
    """'session Ngữ văn, the plan moved by -178 days 7:30' (for logs and status)."""
    return f"session {rehearsal.session}, every date of the plan moved by {_span(rehearsal.shift)}"


def _span(d: timedelta) -> str:
    sign = "-" if d < timedelta(0) else "+"
    minutes = int(abs(d).total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    return f"{sign}{days} days {rest // 60}:{rest % 60:02d}"


def _range(r: TimeRange | None, d: timedelta) -> TimeRange | None:
    return None if r is None else TimeRange(r.start + d, r.end + d)


def _calendar(c: Calendar, d: timedelta) -> Calendar:
    during = TimeRange(c.during.start + d, c.during.end + d)
    return Calendar(
        before=_range(c.before, d),
        during=during,
        after=_range(c.after, d),
        sessions=tuple(Session(s.name, s.start + d, s.end + d) for s in c.sessions),
    )


def _site(site: Site, d: timedelta) -> Site:
    return replace(site, links=tuple(_link(link, d) for link in site.links))


def _link(link: Link, d: timedelta) -> Link:
    return replace(link, active=_range(link.active, d))


def _silence(s: SilenceConfig, d: timedelta) -> SilenceConfig:
    return replace(s, start=s.start + d, end=s.end + d)
