"""Judging SNMP polls: interface congestion with sustain and hold, power, device reachability.

Pure functions of (state, reading, time, thresholds), like the ICMP judge.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from monitor.evaluation.counters import InterfaceRates
from monitor.model.inventory import Thresholds
from monitor.model.vocabulary import DeviceStatus, PowerStatus
from probes.snmpdata import BatteryStatus, OutputSource, UpsReading


@dataclass(frozen=True, slots=True)
class InterfaceState:
    """What SNMP says of the interface that carries a link."""

    oper_up: bool | None = None
    congested: bool = False
    utilisation: float | None = None
    over_since: datetime | None = None  # utilisation ≥ warn since
    under_since: datetime | None = None  # below warn since, while congested
    name: str = ""
    read_at: datetime | None = None  # the poll that said it: a reading has an age


def judge_interface(
    state: InterfaceState,
    rates: InterfaceRates,
    start: datetime,
    end: datetime,
    thresholds: Thresholds,
) -> InterfaceState:
    """Congested once utilisation ≥ warn has held `congestion_sustain`; clear after
    `congestion_hold` below it. `start`/`end`: the interval the rates cover.
    An interval without a rate is no evidence either way."""
    new = replace(state, oper_up=rates.oper_up, name=rates.configured, read_at=end)
    utilisation = rates.utilisation
    if utilisation is None:
        return new
    new = replace(new, utilisation=utilisation)
    if utilisation >= thresholds.utilisation_warn:
        since = state.over_since or start
        held = end - since >= timedelta(seconds=thresholds.congestion_sustain)
        return replace(new, over_since=since, under_since=None, congested=state.congested or held)
    since = state.under_since or start
    cleared = end - since >= timedelta(seconds=thresholds.congestion_hold)
    return replace(
        new, over_since=None, under_since=since, congested=state.congested and not cleared
    )


@dataclass(frozen=True, slots=True)
class PowerVerdict:
    status: PowerStatus
    reason: str
    minutes_remaining: int | None = None


def judge_power(ups: UpsReading, thresholds: Thresholds) -> PowerVerdict:
    """RFC 1628: on battery when upsOutputSource is battery; low when the
    battery says so or fewer than `power_low_minutes` are left."""
    minutes = ups.minutes_remaining
    if ups.output_source is None:
        return PowerVerdict(PowerStatus.UNKNOWN, "the UPS does not say its output source")
    if ups.output_source != OutputSource.BATTERY:
        return PowerVerdict(PowerStatus.MAINS, "on mains", minutes)
    left = "" if minutes is None else f": {minutes} minutes left"
    low = ups.battery_status in (BatteryStatus.LOW, BatteryStatus.DEPLETED)
    if low or (minutes is not None and minutes < thresholds.power_low_minutes):
        return PowerVerdict(PowerStatus.POWER_LOW, f"on battery, battery low{left}", minutes)
    return PowerVerdict(PowerStatus.ON_BATTERY, f"on battery{left}", minutes)


@dataclass(frozen=True, slots=True)
class DeviceState:
    status: DeviceStatus = DeviceStatus.UNKNOWN
    failed_polls: int = 0
    last_error: str | None = None


def judge_device(
    state: DeviceState, error: str | None, timed_out: bool, down_after: int
) -> DeviceState:
    """UP on an answer; NO_ANSWER/REFUSED after `down_after` failed polls in a row."""
    if error is None:
        return DeviceState(DeviceStatus.UP)
    failed = state.failed_polls + 1
    status = state.status
    if failed >= down_after:
        status = DeviceStatus.NO_ANSWER if timed_out else DeviceStatus.REFUSED
    return DeviceState(status, failed, error)
