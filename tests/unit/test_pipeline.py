"""A round fans out to storage, metrics and the evaluator; the journal logs the changes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.evaluation import Evaluator
from monitor.journal import Journal
from monitor.metrics import Metrics
from monitor.model.inventory import Inventory, Target
from monitor.model.records import IncidentRecord, RoundRecord, StateChange
from monitor.pipeline import Pipeline, TargetBoard
from probes.icmp import IcmpObservation
from probes.pinger import Echo
from tests.fixtures.inventories import TWO_CARRIER_SITE, inventory_from

T0 = datetime(2027, 6, 3, 1, 0, tzinfo=UTC)


class Rows:
    """A fake store for the pure pipeline: it only keeps what it was given."""

    def __init__(self) -> None:
        self.rounds: list[RoundRecord] = []
        self.changes: list[StateChange] = []
        self.others: list[object] = []

    def add_round(self, record: RoundRecord) -> None:
        self.rounds.append(record)

    def add_state_change(self, record: StateChange) -> None:
        self.changes.append(record)

    def add(self, record: object) -> None:
        self.others.append(record)


def _pipeline(inventory: Inventory, rows: Rows, metrics: Metrics | None = None) -> Pipeline:
    """Wired as the app wires it: the board follows the journal's state changes."""
    metrics = metrics or Metrics()
    evaluator = Evaluator(inventory)
    board = TargetBoard(inventory, evaluator)
    journal = Journal(inventory, rows, metrics, on_change=[board.follow])
    return Pipeline(rows, metrics, evaluator, journal, board)


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    return inventory_from(TWO_CARRIER_SITE, tmp_path)


def _observation(target: Target, at: datetime, *rtts: float | None,
                 error: str | None = None) -> IcmpObservation:
    echoes = tuple(
        Echo(sequence=i, sent_at=at.timestamp(), rtt=r,
             lost=None if r is not None else "destination unreachable: host unreachable")
        for i, r in enumerate(rtts))
    return IcmpObservation(target=target.key, address=target.address, started_at=at,
                           duration=0.4, echoes=echoes, error=error)


def test_it_stores_each_round_with_its_figures_in_milliseconds(inventory: Inventory) -> None:
    rows = Rows()
    pipeline = _pipeline(inventory, rows)
    target = inventory.targets()[0]
    pipeline.handle(target, _observation(target, T0, 0.001, None, 0.003))
    [record] = rows.rounds
    assert (record.target, record.sent, record.received) == (target.key, 3, 2)
    assert record.loss == pytest.approx(1 / 3)
    assert record.rtt_avg_ms == pytest.approx(2.0)
    assert record.duration_ms == pytest.approx(400.0)
    assert record.error is None


def test_it_stores_a_round_that_could_not_run_without_inventing_loss(
    inventory: Inventory,
) -> None:
    rows = Rows()
    pipeline = _pipeline(inventory, rows)
    target = inventory.targets()[0]
    pipeline.handle(target, _observation(target, T0, error="cannot resolve 'x'"))
    assert (rows.rounds[0].sent, rows.rounds[0].loss) == (0, None)
    assert rows.rounds[0].error == "cannot resolve 'x'"


def test_it_records_and_logs_an_outage_with_its_reason(
    inventory: Inventory, caplog: pytest.LogCaptureFixture
) -> None:
    rows = Rows()
    metrics = Metrics()
    pipeline = _pipeline(inventory, rows, metrics)
    by_key = {t.key: t for t in inventory.targets()}
    viettel, vnpt = by_key["link:thpt-a/viettel-fibre"], by_key["link:thpt-a/vnpt-fibre"]
    gateway = by_key["endpoint:viettel-gw"]  # viettel-fibre's upstream: it keeps answering
    bts = by_key["link:thpt-a/mobifone-bts"]  # measured, and down: the site relies on the rest
    pipeline.handle(viettel, _observation(viettel, T0, 0.001))
    pipeline.handle(vnpt, _observation(vnpt, T0, 0.001))
    for i in (0, 1):
        pipeline.handle(bts, _observation(bts, T0 + timedelta(seconds=5 * i), None))
    with caplog.at_level(logging.INFO, logger="examnet.state"):
        for i in (1, 2):
            at = T0 + timedelta(seconds=10 * i)
            pipeline.handle(gateway, _observation(gateway, at, 0.001))
            pipeline.handle(viettel, _observation(viettel, at, None, None, None))
    states = [(c.subject, c.state) for c in rows.changes]
    assert states[-2:] == [("link:thpt-a/viettel-fibre", "down"), ("thpt-a", "lost_redundancy")]
    down = rows.changes[-2]
    assert down.at == T0 + timedelta(seconds=20)
    assert down.figures["loss"] == 1.0
    assert ("link:thpt-a/viettel-fibre (viettel at THPT A) is DOWN (was up): every echo lost "
            "in 2 consecutive rounds (destination unreachable: host unreachable)") in caplog.text
    assert "site thpt-a (THPT A) is LOST_REDUNDANCY (was ok)" in caplog.text
    assert metrics.registry.get_sample_value(  # the BTS, then viettel-fibre
        "examnet_state_changes_total", {"subject_kind": "target", "state": "down"}) == 2.0
    assert pipeline.board.targets[viettel.key].status == "down"


def test_it_hands_every_incident_to_the_journal_listeners_once_stored(
    inventory: Inventory,
) -> None:
    rows = Rows()
    heard: list[IncidentRecord] = []
    metrics = Metrics()
    evaluator = Evaluator(inventory)
    board = TargetBoard(inventory, evaluator)
    journal = Journal(
        inventory,
        rows,
        metrics,
        on_incident=[heard.append],
        on_change=[board.follow],
    )
    pipeline = Pipeline(rows, metrics, evaluator, journal, board)
    bts = {t.key: t for t in inventory.targets()}["link:thpt-a/mobifone-bts"]
    for i in range(3):
        at = T0 + timedelta(seconds=5 * i)
        pipeline.handle(bts, _observation(bts, at, None))
    stored = [r for r in rows.others if isinstance(r, IncidentRecord)]
    assert heard
    assert heard == stored
