"""The SNMP side of /metrics: devices, interfaces, UPS and custom values.

Built at scrape time from the device snapshots, like the target families in
`monitor.metrics`; documented in docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from monitor.model.vocabulary import DeviceStatus, PowerStatus
from monitor.snapshot import DeviceSnapshot, View
from probes.snmpdata import BatteryStatus, OutputSource

DEVICE = ("device", "site", "endpoint")
INTERFACE = ("device", "site", "interface", "link")


def _device_labels(snap: DeviceSnapshot) -> list[str]:
    d = snap.device
    return [d.key, d.site or "", d.endpoint or ""]


def device_families(view: View) -> Iterator[Metric]:
    yield from _devices(view)
    yield from _interfaces(view.devices)
    yield from _power(view.devices)
    yield from _values(view.devices)


def _devices(view: View) -> Iterator[Metric]:
    up = GaugeMetricFamily(
        "examnet_device_up",
        "1 if the last poll was answered, 0 if the "
        "device is judged unreachable or refusing; absent while unknown.",
        labels=DEVICE,
    )
    state = GaugeMetricFamily(
        "examnet_device_state", "1 for the device's current state.", labels=[*DEVICE, "state"]
    )
    uptime = GaugeMetricFamily(
        "examnet_device_uptime_seconds", "sysUpTime at the last answer.", labels=DEVICE
    )
    reboots = CounterMetricFamily(
        "examnet_device_reboots",
        "Reboots seen since examnet started (sysUpTime/snmpEngineBoots).",
        labels=DEVICE,
    )
    last = GaugeMetricFamily(
        "examnet_device_last_poll_timestamp_seconds", "When the last poll started.", labels=DEVICE
    )
    troubles = CounterMetricFamily(
        "examnet_device_poll_troubles",
        "Failed polls and unreadable values, by kind.",
        labels=[*DEVICE, "kind"],
    )
    for snap in view.devices:
        labels = _device_labels(snap)
        for s in DeviceStatus:
            state.add_metric([*labels, s.value], 1.0 if snap.status is s else 0.0)
        if snap.status is not DeviceStatus.UNKNOWN:
            up.add_metric(labels, 1.0 if snap.status is DeviceStatus.UP else 0.0)
        if snap.last_answer is not None and snap.last_answer.sys_uptime is not None:
            uptime.add_metric(labels, snap.last_answer.sys_uptime / 100)
        if snap.last_poll is not None:
            last.add_metric(labels, snap.last_poll.started_at.timestamp())
        reboots.add_metric(labels, snap.reboots)
        for kind, count in sorted(view.device_troubles.get(snap.device.key, {}).items()):
            troubles.add_metric([*labels, kind], count)
    yield from (up, state, uptime, reboots, last, troubles)


def _interfaces(devices: Sequence[DeviceSnapshot]) -> Iterator[Metric]:
    oper = GaugeMetricFamily(
        "examnet_interface_oper_up", "1 if ifOperStatus is up.", labels=INTERFACE
    )
    bps = GaugeMetricFamily(
        "examnet_interface_bits_per_second",
        "Traffic over the last interval.",
        labels=[*INTERFACE, "direction"],
    )
    util = GaugeMetricFamily(
        "examnet_interface_utilisation_ratio",
        "Traffic as a share of the capacity (configured, else ifHighSpeed).",
        labels=[*INTERFACE, "direction"],
    )
    capacity = GaugeMetricFamily(
        "examnet_interface_capacity_bits_per_second",
        "The capacity utilisation is measured against.",
        labels=INTERFACE,
    )
    errors = GaugeMetricFamily(
        "examnet_interface_errors_per_second", "In and out errors.", labels=INTERFACE
    )
    for snap in devices:
        if snap.last_poll is not None and snap.last_poll.error is not None:
            # silent now: its last figures are history, not the present (as for
            # a target that stops answering: absent, not frozen at its last value)
            continue
        for rates in snap.rates:
            labels = [
                snap.device.key,
                snap.device.site or "",
                rates.configured,
                snap.links.get(rates.configured, ""),
            ]
            if rates.oper_up is not None:
                oper.add_metric(labels, 1.0 if rates.oper_up else 0.0)
            if rates.capacity_bps:
                capacity.add_metric(labels, rates.capacity_bps)
            if rates.errors_per_s is not None:
                errors.add_metric(labels, rates.errors_per_s)
            for direction, value, ratio in (
                ("in", rates.in_bps, rates.utilisation_in),
                ("out", rates.out_bps, rates.utilisation_out),
            ):
                if value is not None:
                    bps.add_metric([*labels, direction], value)
                if ratio is not None:
                    util.add_metric([*labels, direction], ratio)
    yield from (oper, bps, util, capacity, errors)


def _power(devices: Sequence[DeviceSnapshot]) -> Iterator[Metric]:
    labels = ("device", "owner")
    battery = GaugeMetricFamily(
        "examnet_ups_on_battery", "1 while the UPS runs on battery.", labels=labels
    )
    minutes = GaugeMetricFamily(
        "examnet_ups_minutes_remaining", "upsEstimatedMinutesRemaining.", labels=labels
    )
    low = GaugeMetricFamily(
        "examnet_ups_battery_low", "1 if upsBatteryStatus is low or depleted.", labels=labels
    )
    voltage = GaugeMetricFamily(
        "examnet_ups_input_voltage_volts", "upsInputVoltage, line 1.", labels=labels
    )
    state = GaugeMetricFamily(
        "examnet_power_state", "1 for the owner's power state.", labels=["owner", "state"]
    )
    for snap in devices:
        ups = snap.last_answer.ups if snap.last_answer is not None else None
        if ups is None:
            continue
        values = [snap.device.key, snap.device.owner]
        if ups.output_source is not None:
            battery.add_metric(values, 1.0 if ups.output_source == OutputSource.BATTERY else 0.0)
        if ups.minutes_remaining is not None:
            minutes.add_metric(values, ups.minutes_remaining)
        if ups.battery_status is not None:
            low.add_metric(
                values,
                1.0 if ups.battery_status in (BatteryStatus.LOW, BatteryStatus.DEPLETED) else 0.0,
            )
        if ups.input_voltage is not None:
            voltage.add_metric(values, ups.input_voltage)
        current = snap.power.status if snap.power is not None else PowerStatus.UNKNOWN
        for s in PowerStatus:
            state.add_metric([snap.device.owner, s.value], 1.0 if current is s else 0.0)
    yield from (battery, minutes, low, voltage, state)


def _values(devices: Sequence[DeviceSnapshot]) -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "examnet_device_value",
        "A custom OID's value (sites.toml oids).",
        labels=["device", "name", "unit"],
    )
    for snap in devices:
        if snap.last_answer is None:
            continue
        units = {o.name: o.unit for o in snap.device.oids}
        for reading in snap.last_answer.oids:
            if reading.value is not None:
                family.add_metric(
                    [snap.device.key, reading.name, units.get(reading.name, "")], reading.value
                )
    yield family
