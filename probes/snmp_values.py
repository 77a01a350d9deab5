"""Checking one value of an SNMP answer: pure functions, no I/O.

An agent can answer a well-formed PDU and still give a value we must not
use: an exception value instead of data (RFC 3416 4.2.1: noSuchObject,
noSuchInstance, endOfMibView), the wrong SMI type (an OctetString where a
Counter64 belongs), or a number that cannot be (an ifOperStatus of 99, a
negative minutes-left). Each becomes a `Problem` and the value None; the
rest of the answer stands.

Values come from pysnmp (v3: pyasn1 objects, told apart by their tags) or
from our v2c codec (`snmpwire`: Python types named after the SMI ones);
both are checked here alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from pysnmp.proto import rfc1902, rfc1905

from probes import snmpdata as oids
from probes import snmpwire as wire
from probes.snmpdata import Problem, ValueProblem

INT32_MAX = 2**31 - 1
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
MAX_NUMBER_TEXT = 64  # bytes: a longer string is not a figure


class Syntax(StrEnum):
    """SMIv2 base types (RFC 2578 7.1), as told apart by their BER tags."""

    INTEGER = "Integer32"
    COUNTER32 = "Counter32"
    GAUGE32 = "Gauge32"  # Unsigned32 shares its tag
    TIMETICKS = "TimeTicks"
    COUNTER64 = "Counter64"
    OCTETS = "OctetString"


_BY_TAG = {
    rfc1902.Integer32.tagSet: Syntax.INTEGER,
    rfc1902.Counter32.tagSet: Syntax.COUNTER32,
    rfc1902.Gauge32.tagSet: Syntax.GAUGE32,
    rfc1902.TimeTicks.tagSet: Syntax.TIMETICKS,
    rfc1902.Counter64.tagSet: Syntax.COUNTER64,
    rfc1902.OctetString.tagSet: Syntax.OCTETS,
}
_BY_TYPE: dict[type, Syntax] = {
    wire.Integer32: Syntax.INTEGER,
    wire.Counter32: Syntax.COUNTER32,
    wire.Gauge32: Syntax.GAUGE32,
    wire.TimeTicks: Syntax.TIMETICKS,
    wire.Counter64: Syntax.COUNTER64,
    bytes: Syntax.OCTETS,  # IpAddress and Opaque are subclasses, not OCTET STRINGs
}
_ABSENT = {
    wire.Absent.NO_SUCH_OBJECT: (ValueProblem.NO_SUCH_OBJECT, "the agent does not implement it"),
    wire.Absent.NO_SUCH_INSTANCE: (ValueProblem.NO_SUCH_INSTANCE, "no such instance"),
    wire.Absent.END_OF_MIB_VIEW: (ValueProblem.END_OF_MIB, "end of the agent's MIB view"),
}
_PYSNMP_ABSENT = (
    (rfc1905.NoSuchObject, wire.Absent.NO_SUCH_OBJECT),
    (rfc1905.NoSuchInstance, wire.Absent.NO_SUCH_INSTANCE),
    (rfc1905.EndOfMibView, wire.Absent.END_OF_MIB_VIEW),
)
_NUMERIC = frozenset(
    (Syntax.INTEGER, Syntax.COUNTER32, Syntax.GAUGE32, Syntax.TIMETICKS, Syntax.COUNTER64)
)


@dataclass(frozen=True, slots=True)
class ValueSpec:
    """What one object may hold: its SMI type(s) and its legal range."""

    name: str  # the MIB object's name, for messages: "ifHCInOctets"
    syntaxes: frozenset[Syntax]
    low: int
    high: int


def _spec(name: str, low: int, high: int, *syntaxes: Syntax) -> ValueSpec:
    return ValueSpec(name, frozenset(syntaxes), low, high)


INT, C32, G32, TT, C64 = (
    Syntax.INTEGER,
    Syntax.COUNTER32,
    Syntax.GAUGE32,
    Syntax.TIMETICKS,
    Syntax.COUNTER64,
)

# Scalars (RFC 3418, RFC 3414: snmpEngineBoots and snmpEngineTime are 0..2^31-1)
SYS_UPTIME = _spec("sysUpTime", 0, UINT32_MAX, TT)
ENGINE_BOOTS = _spec("snmpEngineBoots", 0, INT32_MAX, INT)
ENGINE_TIME = _spec("snmpEngineTime", 0, INT32_MAX, INT)

# IF-MIB columns (RFC 2863); statuses are enumerations: oper 1..7, admin 1..3
OPER_STATUS = _spec("ifOperStatus", 1, 7, INT)
ADMIN_STATUS = _spec("ifAdminStatus", 1, 3, INT)
HC_IN_OCTETS = _spec("ifHCInOctets", 0, UINT64_MAX, C64)
HC_OUT_OCTETS = _spec("ifHCOutOctets", 0, UINT64_MAX, C64)
IN_OCTETS = _spec("ifInOctets", 0, UINT32_MAX, C32)
OUT_OCTETS = _spec("ifOutOctets", 0, UINT32_MAX, C32)
IN_ERRORS = _spec("ifInErrors", 0, UINT32_MAX, C32)
OUT_ERRORS = _spec("ifOutErrors", 0, UINT32_MAX, C32)
IN_DISCARDS = _spec("ifInDiscards", 0, UINT32_MAX, C32)
OUT_DISCARDS = _spec("ifOutDiscards", 0, UINT32_MAX, C32)
HIGH_SPEED = _spec("ifHighSpeed", 0, UINT32_MAX, G32)
DISCONTINUITY = _spec("ifCounterDiscontinuityTime", 0, UINT32_MAX, TT)

# UPS-MIB (RFC 1628). Its INTEGER ranges are kept, except that 0 minutes left
# is accepted (PositiveInteger says 1.., but a depleted UPS says 0). Some
# agents send Gauge32 for these counts: accepted too.
UPS_OUTPUT_SOURCE = _spec("upsOutputSource", 1, 7, INT)
UPS_BATTERY_STATUS = _spec("upsBatteryStatus", 1, 4, INT)
UPS_MINUTES_REMAINING = _spec("upsEstimatedMinutesRemaining", 0, INT32_MAX, INT, G32)
UPS_SECONDS_ON_BATTERY = _spec("upsSecondsOnBattery", 0, INT32_MAX, INT, G32)
UPS_CHARGE = _spec("upsEstimatedChargeRemaining", 0, 100, INT, G32)
UPS_INPUT_VOLTAGE = _spec("upsInputVoltage", 0, INT32_MAX, INT, G32)

SPECS_BY_OID: dict[str, ValueSpec] = {
    oids.SYS_UPTIME: SYS_UPTIME,
    oids.ENGINE_BOOTS: ENGINE_BOOTS,
    oids.ENGINE_TIME: ENGINE_TIME,
    oids.UPS_OUTPUT_SOURCE: UPS_OUTPUT_SOURCE,
    oids.UPS_BATTERY_STATUS: UPS_BATTERY_STATUS,
    oids.UPS_MINUTES_REMAINING: UPS_MINUTES_REMAINING,
    oids.UPS_SECONDS_ON_BATTERY: UPS_SECONDS_ON_BATTERY,
    oids.UPS_CHARGE_REMAINING: UPS_CHARGE,
    oids.UPS_INPUT_VOLTAGE: UPS_INPUT_VOLTAGE,
}


def syntax_of(value: object) -> Syntax | None:
    syntax = _BY_TYPE.get(type(value))
    if syntax is not None:
        return syntax
    tag_set = getattr(value, "tagSet", None)
    return _BY_TAG.get(tag_set) if tag_set is not None else None


def type_name(value: object) -> str:
    syntax = syntax_of(value)
    return syntax.value if syntax is not None else type(value).__name__


def absent(value: object) -> wire.Absent | None:
    """The RFC 3416 exception value this is, from either decoder (None for data)."""
    if isinstance(value, wire.Absent):
        return value
    for cls, kind in _PYSNMP_ABSENT:
        if isinstance(value, cls):
            return kind
    return None


def exception_problem(value: object, what: str) -> Problem | None:
    """The problem an RFC 3416 exception value stands for (None for data)."""
    kind = absent(value)
    if kind is None:
        return None
    problem, detail = _ABSENT[kind]
    return Problem(problem, what, detail)


def check_range(number: int, spec: ValueSpec, what: str) -> Problem | None:
    if spec.low <= number <= spec.high:
        return None
    return Problem(ValueProblem.ABSURD, what, f"{number} is outside {spec.low}..{spec.high}")


def read_int(value: object, spec: ValueSpec, what: str) -> tuple[int | None, Problem | None]:
    """The value as an int when it has the spec's type and range; else a problem."""
    problem = exception_problem(value, what)
    if problem is not None:
        return None, problem
    syntax = syntax_of(value)
    if syntax not in spec.syntaxes:
        expected = " or ".join(sorted(s.value for s in spec.syntaxes))
        detail = f"expected {expected}, got {type_name(value)}"
        return None, Problem(ValueProblem.WRONG_TYPE, what, detail)
    number = int(value)  # type: ignore[call-overload]
    problem = check_range(number, spec, what)
    return (None, problem) if problem is not None else (number, None)


def read_number(value: object, what: str) -> tuple[float | None, Problem | None]:
    """A custom OID's value: any SMI number, or a string holding a finite number.

    Vendor MIBs often give figures such as a signal level as DisplayString.
    """
    problem = exception_problem(value, what)
    if problem is not None:
        return None, problem
    syntax = syntax_of(value)
    if syntax in _NUMERIC:
        return float(int(value)), None  # type: ignore[call-overload]
    if syntax is Syntax.OCTETS:
        return _number_in_text(bytes(value), what)  # type: ignore[call-overload]
    detail = f"expected a number, got {type_name(value)}"
    return None, Problem(ValueProblem.WRONG_TYPE, what, detail)


def _number_in_text(raw: bytes, what: str) -> tuple[float | None, Problem | None]:
    number = _parse_number(raw)
    if number is None:
        detail = "expected a number, got an OctetString that holds none"
        return None, Problem(ValueProblem.WRONG_TYPE, what, detail)
    if not math.isfinite(number):
        return None, Problem(ValueProblem.ABSURD, what, f"{number} is not a finite number")
    return number, None


def _parse_number(raw: bytes) -> float | None:
    if len(raw) > MAX_NUMBER_TEXT:
        return None
    try:
        return float(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        return None


def oid_of(name: object) -> tuple[int, ...]:
    """A varbind's name as a tuple: ours already is one, pysnmp's ObjectName has one."""
    if type(name) is tuple:
        return name
    return tuple(name.asTuple())  # type: ignore[attr-defined]


def read_text(value: object) -> str | None:
    """An interface name (ifName, ifDescr, ifAlias): printable text, or None."""
    if syntax_of(value) is not Syntax.OCTETS:
        return None
    raw: bytes = bytes(value)  # type: ignore[call-overload]
    return raw.decode("utf-8", "replace")
