"""Where a round goes: storage, metrics, the evaluator, the log — in one direction.

Runs on the event loop and never blocks: the store only queues rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from monitor.evaluate import Evaluator, RoundOutcome, commonest_loss_reason
from monitor.figures import RoundFigures, summarize
from monitor.inventory import Inventory, Target
from monitor.metrics import Metrics
from monitor.records import RoundRecord, StateChange, SubjectKind
from monitor.snapshot import SiteSnapshot, TargetSnapshot
from probes.icmp import IcmpObservation

log = logging.getLogger("examnet.state")

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


class RowSink(Protocol):
    """The part of the store the pipeline uses: queue rows, never wait."""

    def add_round(self, record: RoundRecord) -> None: ...

    def add_state_change(self, record: StateChange) -> None: ...


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
        self._names = {site.id: site.name for site in inventory.sites}
        self.targets: dict[str, TargetSnapshot] = {
            t.key: TargetSnapshot(t, evaluator.status(t.key)) for t in inventory.targets()
        }

    def handle(self, target: Target, observation: IcmpObservation) -> None:
        figures = summarize(observation.echoes)
        outcome = RoundOutcome(
            figures, observation.error, commonest_loss_reason([e.lost for e in observation.echoes])
        )
        self.store.add_round(round_record(observation, figures))
        self.metrics.rounds.labels(observation.kind, _result(outcome)).inc()
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

    def reassess_sites(self, at: datetime) -> None:
        """After the set of active links changed (a mobile BTS came or went)."""
        changes: list[StateChange] = []
        for site in self.inventory.sites:
            changes += self.evaluator.reassess_site(site.id, at)
        self.record(changes)

    def record(self, changes: Iterable[StateChange]) -> None:
        for change in changes:
            self.store.add_state_change(change)
            self.metrics.state_changes.labels(change.subject_kind, change.state).inc()
            level = logging.WARNING if change.state in _BAD_STATES else logging.INFO
            log.log(level, "%s", self.describe(change))

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
