"""Scheduled reports (`[[reports]]`): when each is due, and what period it covers (pure).

A report is due daily at a local time on the days that time falls in the
given phases, and/or after each exam session ends (plus a delay). A daily
report covers the 24 hours before it; a session's report, that session.
Due times are worked out from the calendar, never remembered: a restart
finds the latest one it missed (`latest_run`) and sends that once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from monitor.model.calendar import Calendar, phase_at
from monitor.model.vocabulary import Phase

REPORT_FORMATS: Final = ("html", "md", "pdf")
DEFAULT_REPORT_DELAY: Final = 300.0  # seconds after a session ends: its last incidents close
DEFAULT_REPORT_PHASES: Final = (Phase.DURING,)
CATCH_UP: Final = timedelta(days=1)  # a run missed longer ago than this is not sent late


@dataclass(frozen=True, slots=True)
class ScheduledReport:
    name: str
    receivers: tuple[str, ...]
    form: str = "html"  # "format" in the file
    at: time | None = None  # daily, local time of the plan
    phases: tuple[Phase, ...] = DEFAULT_REPORT_PHASES
    after_sessions: bool = False
    delay: float = DEFAULT_REPORT_DELAY
    carrier: str | None = None


@dataclass(frozen=True, slots=True)
class ReportRun:
    """One due run of a report: when, and the period [since, until) it covers."""

    report: str
    due: datetime
    since: datetime
    until: datetime
    session: str | None = None


def runs_between(
    report: ScheduledReport, calendar: Calendar, zone: ZoneInfo, start: datetime, end: datetime
) -> list[ReportRun]:
    """The runs due in (start, end], oldest first."""
    found: list[ReportRun] = []
    if report.at is not None:
        day = start.astimezone(zone).date() - timedelta(days=1)
        while day <= end.astimezone(zone).date():
            due = datetime.combine(day, report.at, zone)
            if start < due <= end and phase_at(calendar, due) in report.phases:
                found.append(ReportRun(report.name, due, due - timedelta(days=1), due))
            day += timedelta(days=1)
    if report.after_sessions:
        for s in calendar.sessions:
            due = s.end + timedelta(seconds=report.delay)
            if start < due <= end:
                found.append(ReportRun(report.name, due, s.start, s.end, s.name))
    return sorted(found, key=lambda r: r.due)


def latest_run(
    report: ScheduledReport, calendar: Calendar, zone: ZoneInfo, now: datetime
) -> ReportRun | None:
    """The last run due by `now` within CATCH_UP: what a restart sends if it was missed."""
    found = runs_between(report, calendar, zone, now - CATCH_UP, now)
    return found[-1] if found else None
