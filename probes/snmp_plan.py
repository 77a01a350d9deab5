"""What one poll asks a device for, and how the answer becomes readings. Pure.

`DeviceState` is what the poller remembers of a device between polls: the
ifIndex of each interface name, which interfaces lack 64-bit counters, the
last uptime and engine boots (to see a reboot). `plan()` lists the OIDs of
one GET; `read()` turns the values that came back into the observation's
parts, and says what the poller should learn from them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.model.inventory import Device, WatchedInterface
from probes import snmp_values as specs
from probes import snmpdata as oids
from probes.snmp_values import ValueSpec, read_int, read_number
from probes.snmpdata import InterfaceReading, OidReading, Problem, UpsReading, ValueProblem

DEFAULT_MAX_VARBINDS = 40  # per request: ~1.2 kB answers, below a 1,472-byte UDP payload
RETRY_MISSING_EVERY = 10  # polls between two searches for a name that was not found

SCALARS = ((oids.SYS_UPTIME, specs.SYS_UPTIME), (oids.ENGINE_BOOTS, specs.ENGINE_BOOTS),
           (oids.ENGINE_TIME, specs.ENGINE_TIME))  # fmt: skip
UPS = (
    ("output_source", oids.UPS_OUTPUT_SOURCE, specs.UPS_OUTPUT_SOURCE),
    ("battery_status", oids.UPS_BATTERY_STATUS, specs.UPS_BATTERY_STATUS),
    ("minutes_remaining", oids.UPS_MINUTES_REMAINING, specs.UPS_MINUTES_REMAINING),
    ("seconds_on_battery", oids.UPS_SECONDS_ON_BATTERY, specs.UPS_SECONDS_ON_BATTERY),
    ("charge_percent", oids.UPS_CHARGE_REMAINING, specs.UPS_CHARGE),
    ("input_voltage", oids.UPS_INPUT_VOLTAGE, specs.UPS_INPUT_VOLTAGE),
)
# (InterfaceReading field, column, spec): oper status first, it tells the row exists
_STATUS = (("oper_status", oids.IF_OPER_STATUS, specs.OPER_STATUS),
           ("admin_status", oids.IF_ADMIN_STATUS, specs.ADMIN_STATUS))  # fmt: skip
_HC = (("in_octets", oids.IF_HC_IN_OCTETS, specs.HC_IN_OCTETS),
       ("out_octets", oids.IF_HC_OUT_OCTETS, specs.HC_OUT_OCTETS))  # fmt: skip
_LEGACY = (("in_octets", oids.IF_IN_OCTETS, specs.IN_OCTETS),
           ("out_octets", oids.IF_OUT_OCTETS, specs.OUT_OCTETS))  # fmt: skip
_OTHERS = (
    ("in_errors", oids.IF_IN_ERRORS, specs.IN_ERRORS),
    ("out_errors", oids.IF_OUT_ERRORS, specs.OUT_ERRORS),
    ("in_discards", oids.IF_IN_DISCARDS, specs.IN_DISCARDS),
    ("out_discards", oids.IF_OUT_DISCARDS, specs.OUT_DISCARDS),
    ("high_speed_mbps", oids.IF_HIGH_SPEED, specs.HIGH_SPEED),
    ("discontinuity", oids.IF_COUNTER_DISCONTINUITY, specs.DISCONTINUITY),
)
Column = tuple[str, str, ValueSpec]
COLUMNS_HC: tuple[Column, ...] = _STATUS + _HC + _OTHERS
COLUMNS_32: tuple[Column, ...] = _STATUS + _LEGACY + _OTHERS
ABSENT = (ValueProblem.NO_SUCH_OBJECT, ValueProblem.NO_SUCH_INSTANCE)


def configured(interface: WatchedInterface) -> str:
    """How sites.toml names it: "eth1", or "#3" for an ifIndex."""
    return interface.name if interface.name is not None else f"#{interface.index}"


@dataclass
class DeviceState:
    """What the poller keeps about one device between polls (not config: runtime)."""

    indices: dict[str, int] = field(default_factory=dict)  # interface name -> ifIndex
    reported: dict[str, str] = field(default_factory=dict)  # name -> as the device has it
    missing: tuple[str, ...] = ()  # names not found by the last resolution
    stale: bool = True  # names must be resolved before the next GET
    polls_since_resolution: int = 0
    no_hc: set[int] = field(default_factory=set)  # ifIndex without ifHC* counters
    uptime: int | None = None
    boots: int | None = None
    engine_time: int | None = None
    max_varbinds: int = DEFAULT_MAX_VARBINDS
    counts: Counter[str] = field(default_factory=Counter)
    logged: set[str] = field(default_factory=set)

    def needs_resolution(self, device: Device) -> bool:
        names = _names(device)
        if not names:
            return False
        if self.stale or not names <= self.indices.keys() | set(self.missing):
            return True  # renumbered, or a name never looked for (a reloaded config)
        missing = names & set(self.missing)
        return bool(missing) and self.polls_since_resolution >= RETRY_MISSING_EVERY

    def resolved(self, found: Mapping[str, tuple[int, str]], missing: tuple[str, ...]) -> None:
        self.indices = {name: index for name, (index, _) in found.items()}
        self.reported = {name: seen for name, (_, seen) in found.items()}
        self.missing = missing
        self.stale = False
        self.polls_since_resolution = 0

    def index_of(self, interface: WatchedInterface) -> int | None:
        if interface.index is not None:
            return interface.index
        return self.indices.get(interface.name or "")


def _names(device: Device) -> set[str]:
    return {i.name for i in device.interfaces if i.name is not None}


def plan(device: Device, state: DeviceState) -> list[str]:
    """Every OID of one poll, once each: scalars, UPS, custom OIDs, interface columns."""
    wanted = [oid for oid, _ in SCALARS]
    if device.ups:
        wanted += [oid for _, oid, _ in UPS]
    wanted += [_numeric(o.oid) for o in device.oids]
    for interface in device.interfaces:
        index = state.index_of(interface)
        if index is not None:
            columns = COLUMNS_32 if index in state.no_hc else COLUMNS_HC
            wanted += [f"{column}.{index}" for _, column, _ in columns]
    return list(dict.fromkeys(wanted))


def chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]


def _numeric(oid: str) -> str:
    return oid.strip().lstrip(".")


@dataclass
class Reading:
    """The parts of an observation read from one GET, and what they teach the poller."""

    sys_uptime: int | None = None
    engine_boots: int | None = None
    engine_time: int | None = None
    interfaces: list[InterfaceReading] = field(default_factory=list)
    ups: UpsReading | None = None
    oids: list[OidReading] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)  # names whose ifIndex has gone
    without_hc: list[int] = field(default_factory=list)  # ifIndex lacking ifHC* counters


def read(device: Device, state: DeviceState, values: Mapping[str, Any]) -> Reading:
    """Turn GET values (OID -> value, as `plan` asked) into readings and problems."""
    reading = Reading()
    scalars = [_int(values, oid, spec, reading.problems) for oid, spec in SCALARS]
    reading.sys_uptime, reading.engine_boots, reading.engine_time = scalars
    if device.ups:
        reading.ups = _ups(values, reading.problems)
    for custom in device.oids:
        number, problem = read_number(values.get(_numeric(custom.oid)), custom.name)
        reading.oids.append(OidReading(custom.name, number))
        _note(reading.problems, problem)
    for interface in device.interfaces:
        _interface(interface, state, values, reading)
    for name in sorted(_names(device) & set(state.missing)):
        detail = "no ifName, ifDescr or ifAlias on the device has this name"
        reading.problems.append(Problem(ValueProblem.NOT_FOUND, f"interface {name!r}", detail))
    return reading


def _int(values: Mapping[str, Any], oid: str, spec: ValueSpec,
         problems: list[Problem]) -> int | None:  # fmt: skip
    number, problem = read_int(values.get(oid), spec, f"{spec.name}.{oid.rsplit('.', 1)[1]}")
    _note(problems, problem)
    return number


def _note(problems: list[Problem], problem: Problem | None) -> None:
    if problem is not None:
        problems.append(problem)


def _ups(values: Mapping[str, Any], problems: list[Problem]) -> UpsReading:
    fields = {name: _int(values, oid, spec, problems) for name, oid, spec in UPS}
    voltage = fields.pop("input_voltage")
    return UpsReading(**fields, input_voltage=None if voltage is None else float(voltage))


def _interface(interface: WatchedInterface, state: DeviceState, values: Mapping[str, Any],
               reading: Reading) -> None:  # fmt: skip
    index = state.index_of(interface)
    if index is None:
        return  # a name not found: reported once, from state.missing
    hc = index not in state.no_hc
    row: dict[str, int | None] = {}
    problems: list[Problem] = []
    for name, column, spec in COLUMNS_HC if hc else COLUMNS_32:
        number, problem = read_int(values.get(f"{column}.{index}"), spec, f"{spec.name}.{index}")
        row[name] = number
        _note(problems, problem)
    if _absent(problems, specs.OPER_STATUS.name):
        _gone(interface, index, reading)
        return
    if hc and (_absent(problems, specs.HC_IN_OCTETS.name) or
               _absent(problems, specs.HC_OUT_OCTETS.name)):  # fmt: skip
        reading.without_hc.append(index)
    reading.problems += problems
    seen = state.reported.get(interface.name or "")
    reading.interfaces.append(
        InterfaceReading(
            index=index,
            configured=configured(interface),
            name=seen,
            counter_bits=64 if hc else 32,
            **row,
        )
    )


def _absent(problems: list[Problem], column: str) -> bool:
    return any(p.kind in ABSENT and p.what.startswith(column + ".") for p in problems)


def _gone(interface: WatchedInterface, index: int, reading: Reading) -> None:
    """The row is not there: a renumbered name is looked up again, an ifIndex is missing."""
    if interface.name is not None:
        reading.vanished.append(interface.name)
    what = f"interface {configured(interface)!r}"
    detail = f"the device has no interface with ifIndex {index}"
    reading.problems.append(Problem(ValueProblem.NOT_FOUND, what, detail))


def learn(device: Device, state: DeviceState, reading: Reading) -> bool:
    """Update the state from a reading; True when the next GET would ask differently."""
    changed = bool(reading.without_hc)
    state.no_hc.update(reading.without_hc)
    if reading.vanished:
        state.stale = changed = True
    if rebooted(state, reading) and _names(device):
        state.stale = changed = True  # ifIndex may be renumbered at boot (RFC 2863 3.1.5)
    state.uptime, state.boots = reading.sys_uptime, reading.engine_boots
    state.engine_time = reading.engine_time
    return changed


def rebooted(state: DeviceState, reading: Reading) -> bool:
    """sysUpTime went down and snmpEngineBoots moved (RFC 3414 2.2.2), or
    snmpEngineTime went back while snmpEngineBoots stayed: within one boot it
    only grows, so the agent restarted without keeping its boot count, or a
    new engine started from the same count.

    sysUpTime alone wraps every ~497 days (32-bit TimeTicks) without a reboot;
    only when the agent gives no snmpEngineBoots does a step down count alone.
    """
    if engine_time_went_back(state.boots, state.engine_time, reading):
        return True
    before, now = state.uptime, reading.sys_uptime
    if before is None or now is None or now >= before:
        return False
    if state.boots is None or reading.engine_boots is None:
        return True
    return reading.engine_boots != state.boots


def engine_time_went_back(boots: int | None, engine_time: int | None, reading: Reading) -> bool:
    if None in (boots, engine_time, reading.engine_boots, reading.engine_time):
        return False
    return reading.engine_boots == boots and reading.engine_time < engine_time  # type: ignore[operator]
