"""Conditions and the incidents they make.

A condition is (subject, kind) not OK — `down` on a link, `isolated` on a
site. While it holds it is one incident: opened when it is raised, updated
when it worsens (severity only rises; the exam sessions it overlaps only
grow), closed when it clears. A *quiet* condition is real but attributed to
a parent's (a link behind a dead endpoint): it has no incident of its own,
and becomes one (from that moment) if the attribution ends while it holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.model.calendar import Calendar, phase_at, session_at
from monitor.model.inventory import Inventory
from monitor.model.records import IncidentRecord, StateChange
from monitor.model.vocabulary import ConditionKind, Phase, Severity, SubjectKind

Event = StateChange | IncidentRecord
Key = tuple[str, str, str]  # subject_kind, subject, kind
Figures = dict[str, float | int | str | None]


def higher(a: Severity, b: Severity) -> Severity:
    return a if a.rank >= b.rank else b


def cause_of(key: Key) -> str:
    return "|".join(key)


@dataclass(frozen=True, slots=True)
class Condition:
    subject_kind: SubjectKind
    subject: str
    kind: ConditionKind
    started_at: datetime
    severity: Severity
    phase: Phase
    reason: str
    carrier: str | None = None
    site: str | None = None
    sessions: tuple[str, ...] = ()
    worst_loss: float | None = None
    worst_rtt_ms: float | None = None
    worst_utilisation: float | None = None
    cause: str | None = None
    affected: tuple[str, ...] = ()
    quiet: bool = False

    @property
    def key(self) -> Key:
        return (self.subject_kind, self.subject, str(self.kind))

    def record(self, now: datetime, ended_at: datetime | None = None) -> IncidentRecord:
        return IncidentRecord(
            subject_kind=self.subject_kind,
            subject=self.subject,
            kind=self.kind,
            started_at=self.started_at,
            severity=self.severity,
            phase=self.phase,
            reason=self.reason,
            updated_at=now,
            ended_at=ended_at,
            carrier=self.carrier,
            site=self.site,
            sessions=self.sessions,
            worst_loss=self.worst_loss,
            worst_rtt_ms=self.worst_rtt_ms,
            worst_utilisation=self.worst_utilisation,
            cause=self.cause,
            affected=self.affected,
        )


def sessions_between(calendar: Calendar, start: datetime, end: datetime) -> tuple[str, ...]:
    """Exam sessions overlapping [start, end] (an instant counts if a session holds it)."""
    return tuple(s.name for s in calendar.sessions if s.start <= end and s.end > start)


def _worst(old: float | None, new: float | int | str | None) -> float | None:
    if not isinstance(new, int | float):
        return old
    return float(new) if old is None else max(old, float(new))


@dataclass(frozen=True, slots=True)
class Raise:
    """What a judge says of a condition that holds now."""

    reason: str
    critical: bool = False  # figures reached the critical threshold: one step higher
    carrier: str | None = None
    site: str | None = None
    figures: Figures | None = None
    cause: str | None = None
    affected: tuple[str, ...] = ()
    quiet: bool = False


class Book:
    """The active conditions, and the incident records their changes produce."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.active: dict[Key, Condition] = {}
        self.out: list[Event] = []

    def severity(self, kind: ConditionKind, at: datetime, critical: bool) -> Severity:
        calendar = self.inventory.calendar
        in_session = session_at(calendar, at) is not None
        base = self.inventory.severity.at(kind, phase_at(calendar, at), in_session)
        return base.raised() if critical else base

    def holds(
        self, subject_kind: SubjectKind, subject: str, kind: ConditionKind
    ) -> Condition | None:
        return self.active.get((subject_kind, subject, str(kind)))

    def raise_(
        self,
        subject_kind: SubjectKind,
        subject: str,
        kind: ConditionKind,
        at: datetime,
        what: Raise,
    ) -> None:
        key = (subject_kind, subject, str(kind))
        old = self.active.get(key)
        if old is None:
            self._open(subject_kind, subject, kind, at, what)
            return
        new = self._updated(old, at, what)
        if new != old:
            self.active[key] = new
            promoted = old.quiet and not new.quiet
            if promoted:  # its own fault from now on: an incident starts here
                new = replace(new, started_at=at, phase=phase_at(self.inventory.calendar, at))
                self.active[key] = new
            if not new.quiet:
                self.out.append(new.record(at))

    def _open(
        self,
        subject_kind: SubjectKind,
        subject: str,
        kind: ConditionKind,
        at: datetime,
        what: Raise,
    ) -> None:
        figures = what.figures or {}
        condition = Condition(
            subject_kind,
            subject,
            kind,
            at,
            self.severity(kind, at, what.critical),
            phase_at(self.inventory.calendar, at),
            what.reason,
            what.carrier,
            what.site,
            sessions_between(self.inventory.calendar, at, at),
            _worst(None, figures.get("loss")),
            _worst(None, figures.get("rtt_ms")),
            _worst(None, figures.get("utilisation")),
            what.cause,
            what.affected,
            what.quiet,
        )
        self.active[condition.key] = condition
        if not condition.quiet:
            self.out.append(condition.record(at))

    def _updated(self, old: Condition, at: datetime, what: Raise) -> Condition:
        figures = what.figures or {}
        return replace(
            old,
            severity=higher(old.severity, self.severity(old.kind, at, what.critical)),
            reason=what.reason,
            worst_loss=_worst(old.worst_loss, figures.get("loss")),
            worst_rtt_ms=_worst(old.worst_rtt_ms, figures.get("rtt_ms")),
            worst_utilisation=_worst(old.worst_utilisation, figures.get("utilisation")),
            # re-attributed as judged now: a child that stays down after its parent is back
            # becomes its site's problem, not the recovered parent's
            cause=what.cause,
            affected=what.affected or old.affected,
            # an incident once open stays its own until it closes (only its cause
            # changes), or its close would never be written
            quiet=old.quiet and what.quiet,
        )

    def clear(
        self, subject_kind: SubjectKind, subject: str, kind: ConditionKind, at: datetime
    ) -> None:
        old = self.active.pop((subject_kind, subject, str(kind)), None)
        if old is None or old.quiet:
            return
        sessions = sessions_between(self.inventory.calendar, old.started_at, at)
        self.out.append(replace(old, sessions=sessions).record(at, ended_at=at))

    def settle(
        self,
        subject_kind: SubjectKind,
        subject: str,
        kind: ConditionKind,
        at: datetime,
        what: Raise | None,
    ) -> None:
        """Raise the condition if `what` says it holds, else clear it."""
        if what is None:
            self.clear(subject_kind, subject, kind, at)
        else:
            self.raise_(subject_kind, subject, kind, at, what)

    def tick(self, at: datetime) -> None:
        """Time passed: a session started or ended. Severity rises, sessions accrue."""
        for key, old in list(self.active.items()):
            new = replace(
                old,
                severity=higher(old.severity, self.severity(old.kind, at, False)),
                sessions=sessions_between(self.inventory.calendar, old.started_at, at),
            )
            if new != old:
                self.active[key] = new
                if not new.quiet:
                    self.out.append(new.record(at))

    def restore(self, incidents: Iterable[IncidentRecord]) -> None:
        """Open incidents from the database are conditions that still hold."""
        for rec in incidents:
            if rec.ended_at is not None:
                continue
            condition = Condition(
                rec.subject_kind,
                rec.subject,
                ConditionKind(rec.kind),
                rec.started_at,
                Severity(rec.severity),
                rec.phase,
                rec.reason,
                rec.carrier,
                rec.site,
                rec.sessions,
                rec.worst_loss,
                rec.worst_rtt_ms,
                rec.worst_utilisation,
                rec.cause,
                rec.affected,
            )
            self.active[condition.key] = condition

    def drain(self) -> list[Event]:
        events, self.out = self.out, []
        return events
