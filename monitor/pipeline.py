"""Where a round goes: storage, metrics, the evaluator, the journal — in one direction.

Runs on the event loop and never blocks: the store only queues rows. The
evaluator's events go to the journal (monitor.journal), which the SNMP
pipeline shares; what /metrics shows of each target is kept on a board
that follows the journal's state changes, whoever caused them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from monitor.evaluation import Evaluator, RoundOutcome
from monitor.evaluation.figures import RoundFigures, summarize
from monitor.journal import Journal
from monitor.metrics import Metrics
from monitor.model.inventory import Inventory, Target
from monitor.model.records import (
    RoundRecord,
    StateChange,
)
from monitor.model.vocabulary import SubjectKind
from monitor.snapshot import SiteSnapshot, TargetSnapshot
from probes.icmp import IcmpObservation


class RoundSink(Protocol):
    """The part of the store the pipeline uses: queue rows, never wait."""

    def add_round(self, record: RoundRecord) -> None: ...


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


class TargetBoard:
    """What /metrics shows of every target and site: the last round, the current state.

    A target's state can change in another's round (its parent's, the
    control's) or in a poll (its interface): the board follows the
    journal's state changes, so what it shows is in step with what is stored.
    """

    def __init__(self, inventory: Inventory, evaluator: Evaluator) -> None:
        self.inventory = inventory
        self.evaluator = evaluator
        self.targets: dict[str, TargetSnapshot] = {
            t.key: TargetSnapshot(t, evaluator.status(t.key))
            for t in (*inventory.targets(), *inventory.control_targets())
        }

    def round(self, target: Target, observation: IcmpObservation, figures: RoundFigures) -> None:
        previous = self.targets[target.key]
        self.targets[target.key] = TargetSnapshot(
            target=target,
            status=self.evaluator.status(target.key),
            figures=figures,
            last_round_at=observation.started_at.timestamp(),
            error=observation.error,
            rtt=previous.rtt.add(e.rtt for e in observation.echoes if e.rtt is not None),
        )

    def follow(self, change: StateChange) -> None:
        """A journal listener: a target's new state, whatever caused it."""
        snapshot = self.targets.get(change.subject)
        if change.subject_kind is SubjectKind.TARGET and snapshot is not None:
            self.targets[change.subject] = replace(
                snapshot, status=self.evaluator.status(change.subject)
            )

    def sites(self) -> list[SiteSnapshot]:
        return [SiteSnapshot(s, self.evaluator.sites.get(s.id)) for s in self.inventory.sites]


class Pipeline:
    def __init__(
        self,
        store: RoundSink,
        metrics: Metrics,
        evaluator: Evaluator,
        journal: Journal,
        board: TargetBoard,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.evaluator = evaluator
        self.journal = journal
        self.board = board
        # for examnet's watch on itself (monitor.selfwatch)
        self.rounds_total = 0
        self.rounds_failed = 0
        self.last_error: str | None = None

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
        self.board.round(target, observation, figures)
        self.journal.record(changes)

    def on_calendar(self, at: datetime) -> None:
        """A calendar boundary or a periodic tick: re-judge what time changes."""
        self.journal.record(self.evaluator.reassess_sites(at))
        self.journal.record(self.evaluator.tick(at))
        snapshots, events = self.evaluator.readiness(at)
        for snapshot in snapshots:
            self.journal.readiness(snapshot)
        self.journal.record(events)


def _result(outcome: RoundOutcome) -> str:
    if outcome.error is not None:
        return "failed"
    return "lost" if outcome.figures.all_lost else "answered"
