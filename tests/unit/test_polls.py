"""An SNMP poll fans out to samples, events, link, power and device states."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.device_metrics import device_families
from monitor.evaluation import Evaluator, RoundOutcome
from monitor.evaluation.figures import RoundFigures
from monitor.journal import Journal
from monitor.metrics import Metrics, View
from monitor.model.inventory import Device, Inventory
from monitor.model.records import (
    DeviceEvent,
    IncidentRecord,
    InterfaceSample,
    PollRecord,
    PowerSample,
    StateChange,
)
from monitor.pipeline import Pipeline, TargetBoard
from monitor.polls import DevicePipeline
from probes.icmp import IcmpObservation
from probes.pinger import Echo
from probes.snmpdata import InterfaceReading, PollFailure, SnmpObservation, UpsReading
from tests.fixtures.inventories import WITH_DEVICES, inventory_from

T0 = datetime(2027, 6, 3, 1, 0, tzinfo=UTC)
ANSWERED = RoundOutcome(RoundFigures(sent=3, received=3, loss=0.0, rtt_avg=0.001))


class Rows:
    def __init__(self) -> None:
        self.rows: list[object] = []

    def add_round(self, record: object) -> None:
        self.rows.append(record)

    def add_state_change(self, record: object) -> None:
        self.rows.append(record)

    def add(self, record: object) -> None:
        self.rows.append(record)

    def of(self, kind: type) -> list:
        return [r for r in self.rows if isinstance(r, kind)]


@pytest.fixture
def world(tmp_path: Path) -> tuple[Inventory, Rows, Pipeline, DevicePipeline]:
    inventory = inventory_from(WITH_DEVICES, tmp_path)
    rows = Rows()
    metrics = Metrics()
    evaluator = Evaluator(inventory)
    board = TargetBoard(inventory, evaluator)
    journal = Journal(inventory, rows, metrics, on_change=[board.follow])
    pipeline = Pipeline(rows, metrics, evaluator, journal, board)
    devices = DevicePipeline(inventory, rows, metrics, evaluator, journal)
    for target in inventory.targets():  # every link answers ping
        pipeline.handle(target, _round(target.key, target.address))
    return inventory, rows, pipeline, devices


def _round(key: str, address: str) -> IcmpObservation:
    return IcmpObservation(key, address, T0, 0.3, (Echo(1, T0.timestamp(), 0.001),))


def _device(inventory: Inventory, id_: str) -> Device:
    return next(d for d in inventory.devices() if d.id == id_)


def _iface(name: str, index: int, octets: int, oper: int = 1) -> InterfaceReading:
    return InterfaceReading(index, name, name, oper, 1, octets, 0, 64, 0, 0, 0, 0, 10000, 0)


def _poll(seconds: int, *ifaces: InterfaceReading, ups: UpsReading | None = None,
          uptime: int | None = None, boots: int = 1) -> SnmpObservation:
    return SnmpObservation(
        device="device:thpt-a/router" if ups is None else "device:thpt-a/ups",
        address="127.0.2.1", started_at=T0 + timedelta(seconds=seconds), duration=0.02,
        received_at=1000.0 + seconds, sys_uptime=uptime if uptime is not None else seconds * 100,
        engine_boots=boots, engine_time=seconds, interfaces=ifaces, ups=ups, requests=1)


def _states(rows: Rows) -> list[tuple[str, str]]:
    return [(c.subject, c.state) for c in rows.of(StateChange)]


def test_it_stores_rates_and_marks_a_saturated_link_congested_after_the_sustain(
    world: tuple[Inventory, Rows, Pipeline, DevicePipeline],
) -> None:
    inventory, rows, pipeline, devices = world
    router = _device(inventory, "router")
    per_second = 1_125_000  # octets: 9 Mbit/s on a 10 Mbit/s link
    for step in range(4):  # polls at 0, 30, 60, 90 s
        devices.handle(router, _poll(30 * step, _iface("eth1", 3, step * 30 * per_second),
                                     _iface("eth2", 4, 0)))
    samples = [s for s in rows.of(InterfaceSample) if s.interface == "eth1"]
    assert samples[0].no_rate == "first poll"
    assert samples[1].in_bps == pytest.approx(9e6)
    assert samples[1].utilisation_in == pytest.approx(0.9)
    assert samples[1].link == "thpt-a/viettel-fibre"
    assert ("link:thpt-a/viettel-fibre", "degraded") in _states(rows)
    assert ("thpt-a", "degraded") in _states(rows)
    degraded = next(c for c in rows.of(StateChange) if c.state == "degraded")
    assert degraded.at == T0 + timedelta(seconds=60)  # 60 s sustained: the 2nd busy sample
    assert degraded.reason == "interface eth1 near capacity (utilisation 90%, sustained)"
    assert pipeline.evaluator.status("link:thpt-a/viettel-fibre") == "degraded"
    [incident] = [i for i in rows.of(IncidentRecord) if i.kind == "congested"]
    assert incident.subject == "link:thpt-a/viettel-fibre"
    assert incident.started_at == T0 + timedelta(seconds=60)
    assert incident.worst_utilisation == pytest.approx(0.9)
    assert incident.carrier == "viettel"
    assert len(rows.of(PollRecord)) == 4


def test_it_marks_a_link_down_when_its_interface_is_down_even_if_ping_answers(
    world: tuple[Inventory, Rows, Pipeline, DevicePipeline],
) -> None:
    inventory, rows, pipeline, devices = world
    router = _device(inventory, "router")
    devices.handle(router, _poll(0, _iface("eth1", 3, 0), _iface("eth2", 4, 0, oper=2)))
    change = [c for c in rows.of(StateChange) if c.subject == "link:thpt-a/vnpt-fibre"][-1]
    assert (change.previous, change.state) == ("up", "down")
    assert change.reason == "interface eth2 is down (ifOperStatus)"
    # viettel and the mobifone BTS still make the two carriers the plan requires
    assert ("thpt-a", "lost_redundancy") not in _states(rows)
    assert pipeline.evaluator.sites["thpt-a"].carriers_up == ("mobifone", "viettel")


def test_a_link_its_interface_held_down_says_so_when_it_comes_back(
    world: tuple[Inventory, Rows, Pipeline, DevicePipeline],
) -> None:
    """Its echoes answered all along: the interface, not the echoes, is why it is up again."""
    inventory, rows, pipeline, devices = world
    router = _device(inventory, "router")
    link = next(t for t in inventory.targets() if t.key == "link:thpt-a/vnpt-fibre")
    devices.handle(router, _poll(0, _iface("eth1", 3, 0), _iface("eth2", 4, 0, oper=2)))
    for _ in range(3):
        pipeline.handle(link, _round(link.key, link.address))
    devices.handle(router, _poll(30, _iface("eth1", 3, 0), _iface("eth2", 4, 0, oper=1)))
    change = [c for c in rows.of(StateChange) if c.subject == link.key][-1]
    assert (change.previous, change.state) == ("down", "up")
    assert change.reason == "interface eth2 is up again"


def test_it_records_a_reboot_and_gives_no_rate_across_it(
    world: tuple[Inventory, Rows, Pipeline, DevicePipeline],
) -> None:
    inventory, rows, _pipeline, devices = world
    router = _device(inventory, "router")
    devices.handle(router, _poll(0, _iface("eth1", 3, 10**9), uptime=900_000, boots=3))
    devices.handle(router, _poll(30, _iface("eth1", 3, 10), uptime=500, boots=4))
    [event] = rows.of(DeviceEvent)
    assert (event.kind, event.detail) == ("reboot", "snmpEngineBoots went from 3 to 4")
    last = rows.of(InterfaceSample)[-1]
    assert (last.in_bps, last.no_rate) == (None, "device rebooted")
    assert devices.snapshots[router.key].reboots == 1


def test_it_says_a_device_stopped_answering_behind_its_saturated_link(
    world: tuple[Inventory, Rows, Pipeline, DevicePipeline],
) -> None:
    inventory, rows, _pipeline, devices = world
    router = _device(inventory, "router")
    devices.handle(router, _poll(0, _iface("eth1", 3, 0)))
    devices.handle(router, _poll(30, _iface("eth1", 3, 36_000_000)))  # 9.6 Mbit/s of 10
    silent = replace(_poll(60), error="no answer (wrong community or device down)",
                     failure=PollFailure.TIMEOUT, interfaces=())
    devices.handle(router, silent)
    devices.handle(router, replace(silent, started_at=T0 + timedelta(seconds=90)))
    change = next(c for c in rows.of(StateChange) if c.subject == router.key
                  and c.state == "no_answer")
    assert change.reason.startswith("2 polls failed: no answer (wrong community or device down)")
    assert "its link was saturated at the last answer, utilisation 96%" in change.reason
    assert rows.of(PollRecord)[-1].failure == "timeout"


def test_it_reads_the_sites_power_from_its_ups(
    world: tuple[Inventory, Rows, Pipeline, DevicePipeline],
) -> None:
    inventory, rows, _pipeline, devices = world
    ups_device = _device(inventory, "ups")
    mains = UpsReading(3, 2, 60, 0, 100, 221.0)
    devices.handle(ups_device, _poll(0, ups=mains))
    devices.handle(ups_device, _poll(30, ups=UpsReading(5, 2, 38, 30, 95, 0.0)))
    devices.handle(ups_device, _poll(60, ups=UpsReading(5, 3, 9, 60, 20, 0.0)))
    assert [s for s in _states(rows) if s[0] == "thpt-a" and s[1] in (
        "mains", "on_battery", "power_low")] == [
        ("thpt-a", "mains"), ("thpt-a", "on_battery"), ("thpt-a", "power_low")]
    samples = rows.of(PowerSample)
    assert [s.on_battery for s in samples] == [False, True, True]
    assert samples[-1].minutes_remaining == 9
    reason = next(c.reason for c in rows.of(StateChange) if c.state == "on_battery")
    assert reason == "on battery: 38 minutes left"


def test_it_stops_exporting_interface_figures_while_the_device_is_silent(
    world: tuple[Inventory, Rows, Pipeline, DevicePipeline],
) -> None:
    inventory, _rows, _pipeline, devices = world
    router = _device(inventory, "router")

    def traffic() -> list[str]:
        view = View(inventory, T0, (), (), None, None, 30.0, tuple(devices.snapshots.values()))
        return [
            s.labels["direction"]
            for family in device_families(view)
            if family.name == "examnet_interface_bits_per_second"
            for s in family.samples
            if s.labels["device"] == router.key
        ]

    devices.handle(router, _poll(0, _iface("eth1", 3, 0)))
    devices.handle(router, _poll(30, _iface("eth1", 3, 36_000_000)))
    assert sorted(traffic()) == ["in", "out"]
    silent = replace(_poll(60), error="no answer (wrong community or device down)",
                     failure=PollFailure.TIMEOUT, interfaces=())
    devices.handle(router, silent)
    assert traffic() == []  # not 9.6 Mbit/s frozen for as long as it stays silent
    devices.handle(router, _poll(90, _iface("eth1", 3, 72_000_000)))
    devices.handle(router, _poll(120, _iface("eth1", 3, 108_000_000)))
    assert sorted(traffic()) == ["in", "out"]
