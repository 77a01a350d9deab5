"""Where an SNMP poll goes: rates, storage, the evaluator, metrics snapshots, the journal.

The sibling of `monitor.pipeline` for devices; both record the evaluator's
events in the one journal (monitor.journal). Rates need the previous good
poll of the same device, kept here; everything else is passed on.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol

from monitor.evaluation import Evaluator, Event
from monitor.evaluation.counters import DeviceDelta, InterfaceRates, compare
from monitor.evaluation.snmp import PowerVerdict, judge_power
from monitor.journal import Journal
from monitor.metrics import Metrics
from monitor.model.inventory import Device, Inventory, Target, Thresholds
from monitor.model.keys import strip_kind
from monitor.model.records import (
    DeviceEvent,
    DeviceRecord,
    DeviceValue,
    InterfaceSample,
    PollRecord,
    PowerSample,
)
from monitor.model.vocabulary import DeviceStatus
from monitor.snapshot import DeviceSnapshot
from probes.snmpdata import OutputSource, PollFailure, SnmpObservation

log = logging.getLogger("examnet.devices")


class DeviceSink(Protocol):
    def add(self, rec: DeviceRecord) -> None: ...


def interface_label(name: str | None, index: int | None) -> str:
    """How a watched interface is named in readings: its name, or `#index`."""
    return name if name is not None else f"#{index}"


class DevicePipeline:
    def __init__(
        self,
        inventory: Inventory,
        store: DeviceSink,
        metrics: Metrics,
        evaluator: Evaluator,
        journal: Journal,
    ) -> None:
        self.inventory = inventory
        self.store = store
        self.metrics = metrics
        self.evaluator = evaluator
        self.journal = journal
        self._links = _links_by_interface(inventory)
        self._thresholds = _owner_thresholds(inventory)
        self.snapshots: dict[str, DeviceSnapshot] = {
            d.key: DeviceSnapshot(d, self._status(d.key), links=self._labels(d.key))
            for d in inventory.devices()
        }

    def _status(self, device: str) -> DeviceStatus:
        state = self.evaluator.devices.get(device)
        return DeviceStatus.UNKNOWN if state is None else state.status

    def _labels(self, device: str) -> dict[str, str]:
        return {label: t.key for (key, label), t in self._links.items() if key == device}

    def handle(self, device: Device, obs: SnmpObservation) -> None:
        snap = self.snapshots[device.key]
        self.store.add(_poll_record(obs))
        self.metrics.polls.labels(_result(obs)).inc()
        self.metrics.poll_duration.observe(obs.duration)
        if obs.error is not None:
            self._failed(device, snap, obs)
            return
        delta = compare(snap.last_answer, obs, _capacities(device))
        changes = self._interfaces(device, obs, delta)
        power = self._power(device, obs)
        if power is not None:
            changes += self.evaluator.observe_power(device.owner, power, obs.started_at)
        for oid in obs.oids:
            self.store.add(DeviceValue(device.key, obs.started_at, oid.name, oid.value))
        reboots = snap.reboots + self._reboot(device, obs, delta)
        changes += self.evaluator.observe_device(
            device.key, None, obs.started_at, timed_out=False, down_after=1
        )
        self.snapshots[device.key] = DeviceSnapshot(
            device,
            self.evaluator.devices[device.key].status,
            obs,
            obs,
            delta.interfaces,
            power or snap.power,
            reboots,
            snap.links,
        )
        self.journal.record(changes)

    def _failed(self, device: Device, snap: DeviceSnapshot, obs: SnmpObservation) -> None:
        changes = self.evaluator.observe_device(
            device.key,
            obs.error,
            obs.started_at,
            timed_out=obs.failure is PollFailure.TIMEOUT,
            down_after=self.inventory.thresholds.down_after,
            note=_saturation_note(snap, self.inventory.thresholds),
        )
        self.snapshots[device.key] = DeviceSnapshot(
            device,
            self.evaluator.devices[device.key].status,
            obs,
            snap.last_answer,
            snap.rates,
            snap.power,
            snap.reboots,
            snap.links,
        )
        self.journal.record(changes)

    def _interfaces(self, device: Device, obs: SnmpObservation, delta: DeviceDelta) -> list[Event]:
        end = obs.started_at
        start = end - timedelta(seconds=delta.seconds or 0)
        changes: list[Event] = []
        for rates, reading in zip(delta.interfaces, obs.interfaces, strict=True):
            link = self._links.get((device.key, rates.configured))
            self.store.add(_sample(device, obs.started_at, rates, link, reading.oper_status))
            if rates.no_rate is not None and rates.no_rate.startswith("counter"):
                self._event(
                    device,
                    obs.started_at,
                    "counter_discontinuity",
                    f"{rates.configured}: {rates.no_rate}",
                )
            if link is not None:
                changes += self.evaluator.observe_interface(link, rates, start, end)
        return changes

    def _power(self, device: Device, obs: SnmpObservation) -> PowerVerdict | None:
        if obs.ups is None:
            return None
        ups = obs.ups
        self.store.add(
            PowerSample(
                device.key,
                obs.started_at,
                on_battery=None
                if ups.output_source is None
                else ups.output_source == OutputSource.BATTERY,
                output_source=ups.output_source,
                battery_status=ups.battery_status,
                minutes_remaining=ups.minutes_remaining,
                charge_percent=ups.charge_percent,
                input_voltage=ups.input_voltage,
                seconds_on_battery=ups.seconds_on_battery,
            )
        )
        return judge_power(ups, self._thresholds.get(device.owner, self.inventory.thresholds))

    def _reboot(self, device: Device, obs: SnmpObservation, delta: DeviceDelta) -> int:
        if delta.rebooted is None:
            return 0
        log.warning("device %s rebooted: %s", device.key, delta.rebooted)
        self._event(device, obs.started_at, "reboot", delta.rebooted)
        return 1

    def _event(self, device: Device, at: datetime, kind: str, detail: str) -> None:
        self.store.add(DeviceEvent(device.key, at, kind, detail))


def _links_by_interface(inventory: Inventory) -> dict[tuple[str, str], Target]:
    targets = {t.key: t for t in inventory.targets()}
    found: dict[tuple[str, str], Target] = {}
    for site in inventory.sites:
        devices = {d.id: d for d in site.devices}
        for link in site.links:
            ref = link.interface
            if ref is None or ref.device not in devices:
                continue
            label = interface_label(ref.name, ref.index)
            found[(devices[ref.device].key, label)] = targets[link.target_key]
    return found


def _owner_thresholds(inventory: Inventory) -> dict[str, Thresholds]:
    return {site.id: site.thresholds for site in inventory.sites}


def _capacities(device: Device) -> dict[str, float | None]:
    return {
        interface_label(w.name, w.index): float(w.capacity_bps) if w.capacity_bps else None
        for w in device.interfaces
    }


def _result(obs: SnmpObservation) -> str:
    return "answered" if obs.error is None else str(obs.failure or PollFailure.INTERNAL)


def _poll_record(obs: SnmpObservation) -> PollRecord:
    return PollRecord(
        device=obs.device,
        started_at=obs.started_at,
        duration_ms=obs.duration * 1000,
        requests=obs.requests,
        problems=len(obs.problems),
        failure=None if obs.failure is None else str(obs.failure),
        error=obs.error,
    )


def _sample(
    device: Device,
    at: datetime,
    rates: InterfaceRates,
    link: Target | None,
    oper_status: int | None,
) -> InterfaceSample:
    return InterfaceSample(
        device=device.key,
        started_at=at,
        interface=rates.configured,
        if_index=rates.index,
        link=None if link is None else strip_kind(link.key),
        oper_status=oper_status,
        in_bps=rates.in_bps,
        out_bps=rates.out_bps,
        utilisation_in=rates.utilisation_in,
        utilisation_out=rates.utilisation_out,
        errors_per_s=rates.errors_per_s,
        discards_per_s=rates.discards_per_s,
        no_rate=rates.no_rate,
    )


def _saturation_note(snap: DeviceSnapshot, thresholds: Thresholds) -> str:
    """Polls that time out behind a saturated link say so: it is a state, not noise."""
    busiest = max((r.utilisation or 0.0 for r in snap.rates), default=0.0)
    if busiest < thresholds.utilisation_warn:
        return ""
    return (
        f" (its link was saturated at the last answer, utilisation {busiest:.0%}: "
        "the polls queue behind the traffic)"
    )
