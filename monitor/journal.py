"""The journal: every event the evaluator reports, recorded once, whoever caused it.

An ICMP round, an SNMP poll and a calendar tick all end in the evaluator's
events; both pipelines hand them here. A state change is stored, counted
and logged; an incident is stored, counted and logged, then handed to the
listeners given at construction (the alerting loop). Listeners of state
changes (what /metrics shows of a target) are given the same way: nothing
is patched in afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from monitor.evaluation import Event
from monitor.evaluation.readiness import words as readiness_words
from monitor.metrics import Metrics
from monitor.model.inventory import Inventory
from monitor.model.records import IncidentRecord, ReadinessRecord, StateChange
from monitor.model.vocabulary import SubjectKind

log = logging.getLogger("examnet.state")
incidents = logging.getLogger("examnet.incidents")

_BAD_STATES = {
    "down",
    "isolated",
    "lost_redundancy",
    "unknown",
    "congested",
    "degraded",
    "no_answer",
    "refused",
    "on_battery",
    "power_low",
}

IncidentListener = Callable[[IncidentRecord], None]
ChangeListener = Callable[[StateChange], None]


class JournalSink(Protocol):
    """The part of the store the journal uses: queue rows, never wait."""

    def add_state_change(self, record: StateChange) -> None: ...

    def add(self, record: IncidentRecord | ReadinessRecord) -> None: ...


class Journal:
    def __init__(
        self,
        inventory: Inventory,
        store: JournalSink,
        metrics: Metrics,
        *,
        on_incident: Sequence[IncidentListener] = (),
        on_change: Sequence[ChangeListener] = (),
    ) -> None:
        self.store = store
        self.metrics = metrics
        self._on_incident = tuple(on_incident)
        self._on_change = tuple(on_change)
        self._names = {site.id: site.name for site in inventory.sites}
        self._targets = {t.key: t for t in (*inventory.targets(), *inventory.control_targets())}

    def record(self, events: Iterable[Event]) -> None:
        for event in events:
            if isinstance(event, IncidentRecord):
                self._incident(event)
            else:
                self._change(event)

    def readiness(self, snapshot: ReadinessRecord) -> None:
        """A readiness snapshot taken before a session: stored, shown, logged."""
        self.store.add(snapshot)
        self.metrics.readiness.labels(snapshot.session).set(1 if snapshot.ready else 0)
        level = logging.INFO if snapshot.ready else logging.WARNING
        incidents.log(level, "readiness: %s", readiness_words(snapshot))

    def _change(self, change: StateChange) -> None:
        self.store.add_state_change(change)
        self.metrics.state_changes.labels(change.subject_kind, change.state).inc()
        for listener in self._on_change:
            listener(change)
        level = logging.WARNING if change.state in _BAD_STATES else logging.INFO
        log.log(level, "%s", self.describe(change))

    def _incident(self, incident: IncidentRecord) -> None:
        self.store.add(incident)
        for listener in self._on_incident:
            listener(incident)
        what = f"{incident.kind} of {incident.subject} ({incident.severity})"
        if incident.ended_at is not None:
            lasted = (incident.ended_at - incident.started_at).total_seconds()
            incidents.info("incident closed: %s after %.0f s", what, lasted)
        elif incident.updated_at == incident.started_at:
            self.metrics.incidents_opened.labels(incident.kind, incident.severity).inc()
            incidents.warning("incident opened: %s: %s", what, incident.reason)
        else:
            incidents.debug("incident updated: %s: %s", what, incident.reason)

    def describe(self, change: StateChange) -> str:
        kind = change.subject_kind
        if kind is SubjectKind.SITE:
            what = f"site {change.subject} ({self._names.get(change.subject, change.subject)})"
        elif kind is SubjectKind.POWER:
            what = f"power at {self._names.get(change.subject, change.subject)}"
        elif kind is SubjectKind.DEVICE:
            what = f"SNMP agent {change.subject}"
        else:
            target = self._targets[change.subject]
            where = f"at {self._names.get(target.site, target.site)}" if target.site else ""
            what = f"{change.subject} ({target.carrier} {where})".replace(" )", ")")
        return f"{what} is {change.state.upper()} (was {change.previous}): {change.reason}"
