"""The exam calendar: its types, and which phase and session a moment falls in.

The evaluator and metrics ask which phase and session a moment falls in;
the scheduler's cadence is `monitor.model.cadence`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from monitor.model.vocabulary import Phase


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A half-open interval [start, end) of aware datetimes."""

    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    timezone: ZoneInfo


@dataclass(frozen=True, slots=True)
class Session:
    """One exam session (buổi thi), e.g. Ngữ văn 07:30–09:30."""

    name: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Calendar:
    """The exam calendar: the optional before and after phases around `during`.

    `sessions` come sorted by start time; they never overlap and all lie
    within `during`.
    """

    before: TimeRange | None
    during: TimeRange
    after: TimeRange | None
    sessions: tuple[Session, ...]


def phase_at(calendar: Calendar, moment: datetime) -> Phase:
    if calendar.during.contains(moment):
        return Phase.DURING
    if calendar.before is not None and calendar.before.contains(moment):
        return Phase.BEFORE
    if calendar.after is not None and calendar.after.contains(moment):
        return Phase.AFTER
    return Phase.OUTSIDE


def session_at(calendar: Calendar, moment: datetime) -> Session | None:
    for session in calendar.sessions:
        if session.start <= moment < session.end:
            return session
    return None
