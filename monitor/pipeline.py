"""Where a round goes: storage, metrics, the evaluator, the log — in one direction.

Runs on the event loop and never blocks: the store only queues rows.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from monitor.evaluation import Evaluator, Event, RoundOutcome
from monitor.evaluation.figures import RoundFigures, summarize
from monitor.evaluation.readiness import words as readiness_words
from monitor.metrics import Metrics
from monitor.model.inventory import Inventory, Target
from monitor.model.records import (
    DeviceEvent,
    DeviceValue,
    IncidentRecord,
    InterfaceSample,
    PollRecord,
    PowerSample,
    ReadinessRecord,
    RoundRecord,
    StateChange,
)
from monitor.model.vocabulary import SubjectKind
from monitor.snapshot import SiteSnapshot, TargetSnapshot
from probes.icmp import IcmpObservation

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


Added = (
    PollRecord
    | InterfaceSample
    | PowerSample
    | DeviceValue
    | DeviceEvent
    | IncidentRecord
    | ReadinessRecord
)


class RowSink(Protocol):
    """The part of the store the pipeline uses: queue rows, never wait."""

    def add_round(self, record: RoundRecord) -> None: ...

    def add_state_change(self, record: StateChange) -> None: ...

    def add(self, record: Added) -> None: ...


def commonest_loss_reason(reasons: list[str | None]) -> str | None:
    counted = Counter(r for r in reasons if r)
    return counted.most_common(1)[0][0] if counted else None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def round_record(observation: IcmpObservation, figures: RoundFigures) -> RoundRecord:
    return RoundRecord(
        target=observation.target,
        started_at=observation.started_at,
        duration_ms=observation.duration * 1000.0,
        sent=figures.sent,
        received=figures.received,
        loss=figures.loss,
        rtt_min_ms=_ms(figures.rtt_min),
        rtt_avg_ms=_ms(figures.rtt_avg),
        rtt_median_ms=_ms(figures.rtt_median),
        rtt_max_ms=_ms(figures.rtt_max),
        jitter_ms=_ms(figures.jitter),
        error=observation.error,
    )


class Pipeline:
    def __init__(
        self, inventory: Inventory, store: RowSink, metrics: Metrics, evaluator: Evaluator
    ) -> None:
        self.inventory = inventory
        self.store = store
        self.metrics = metrics
        self.evaluator = evaluator
        # alerting, once stored: every incident that opens, changes or ends
        self.on_incident: Callable[[IncidentRecord], None] | None = None
        # for examnet's watch on itself (monitor.selfwatch)
        self.rounds_total = 0
        self.rounds_failed = 0
        self.last_error: str | None = None
        self._names = {site.id: site.name for site in inventory.sites}
        self.targets: dict[str, TargetSnapshot] = {
            t.key: TargetSnapshot(t, evaluator.status(t.key))
            for t in (*inventory.targets(), *inventory.control_targets())
        }

    def handle(self, target: Target, observation: IcmpObservation) -> None:
        figures = summarize(observation.echoes)
        outcome = RoundOutcome(
            figures, observation.error, commonest_loss_reason([e.lost for e in observation.echoes])
        )
        self.store.add_round(round_record(observation, figures))
        result = _result(outcome)
        self.metrics.rounds.labels(observation.kind, result).inc()
        self.rounds_total += 1
        self.rounds_failed += result == "failed"
        self.last_error = outcome.error or self.last_error
        self.metrics.round_duration.labels(observation.kind).observe(observation.duration)
        changes = self.evaluator.observe(target, outcome, observation.started_at)
        previous = self.targets[target.key]
        self.targets[target.key] = TargetSnapshot(
            target=target,
            status=self.evaluator.status(target.key),
            figures=figures,
            last_round_at=observation.started_at.timestamp(),
            error=observation.error,
            rtt=previous.rtt.add(e.rtt for e in observation.echoes if e.rtt is not None),
        )
        self.record(changes)

    def on_calendar(self, at: datetime) -> None:
        """A calendar boundary or a periodic tick: re-judge what time changes."""
        self.record(self.evaluator.reassess_sites(at))
        self.record(self.evaluator.tick(at))
        snapshots, events = self.evaluator.readiness(at)
        for snapshot in snapshots:
            self.store.add(snapshot)
            self.metrics.readiness.labels(snapshot.session).set(1 if snapshot.ready else 0)
            level = logging.INFO if snapshot.ready else logging.WARNING
            incidents.log(level, "readiness: %s", readiness_words(snapshot))
        self.record(events)

    def record(self, events: Iterable[Event]) -> None:
        for event in events:
            if isinstance(event, IncidentRecord):
                self._incident(event)
                continue
            self.store.add_state_change(event)
            self.metrics.state_changes.labels(event.subject_kind, event.state).inc()
            snapshot = self.targets.get(event.subject)
            if event.subject_kind is SubjectKind.TARGET and snapshot is not None:
                # a target's state can change in another's round (its parent's, the
                # control's): keep what /metrics shows in step with what is stored
                self.targets[event.subject] = replace(
                    snapshot, status=self.evaluator.status(event.subject)
                )
            level = logging.WARNING if event.state in _BAD_STATES else logging.INFO
            log.log(level, "%s", self.describe(event))

    def _incident(self, incident: IncidentRecord) -> None:
        self.store.add(incident)
        if self.on_incident is not None:
            self.on_incident(incident)
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
            target = self.targets[change.subject].target
            where = f"at {self._names.get(target.site, target.site)}" if target.site else ""
            what = f"{change.subject} ({target.carrier} {where})".replace(" )", ")")
        return f"{what} is {change.state.upper()} (was {change.previous}): {change.reason}"

    def site_snapshots(self) -> list[SiteSnapshot]:
        return [SiteSnapshot(s, self.evaluator.sites.get(s.id)) for s in self.inventory.sites]


def _result(outcome: RoundOutcome) -> str:
    if outcome.error is not None:
        return "failed"
    return "lost" if outcome.figures.all_lost else "answered"
