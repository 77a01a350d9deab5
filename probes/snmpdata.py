"""What one SNMP poll of one device returns: raw, typed readings.

The poller (`probes.snmp`) fills these and computes nothing from them:
rates, utilisation, reboots and discontinuities come from pure functions in
`monitor.evaluation.counters`, which compare two polls. OIDs are numeric (Debian ships
no MIB files, pysnmp no IF-MIB); names live in this one table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum

# SNMPv2-MIB, SNMP-FRAMEWORK-MIB (RFC 3418, RFC 3411)
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
ENGINE_BOOTS = "1.3.6.1.6.3.10.2.1.2.0"
ENGINE_TIME = "1.3.6.1.6.3.10.2.1.3.0"

# IF-MIB (RFC 2863): columns of ifTable and ifXTable, without the index
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_SPEED = "1.3.6.1.2.1.2.2.1.5"
IF_ADMIN_STATUS = "1.3.6.1.2.1.2.2.1.7"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
IF_IN_OCTETS = "1.3.6.1.2.1.2.2.1.10"
IF_IN_DISCARDS = "1.3.6.1.2.1.2.2.1.13"
IF_IN_ERRORS = "1.3.6.1.2.1.2.2.1.14"
IF_OUT_OCTETS = "1.3.6.1.2.1.2.2.1.16"
IF_OUT_DISCARDS = "1.3.6.1.2.1.2.2.1.19"
IF_OUT_ERRORS = "1.3.6.1.2.1.2.2.1.20"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_HC_IN_OCTETS = "1.3.6.1.2.1.31.1.1.1.6"
IF_HC_OUT_OCTETS = "1.3.6.1.2.1.31.1.1.1.10"
IF_HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15"
IF_ALIAS = "1.3.6.1.2.1.31.1.1.1.18"
IF_COUNTER_DISCONTINUITY = "1.3.6.1.2.1.31.1.1.1.19"

# UPS-MIB (RFC 1628)
UPS_BATTERY_STATUS = "1.3.6.1.2.1.33.1.2.1.0"
UPS_SECONDS_ON_BATTERY = "1.3.6.1.2.1.33.1.2.2.0"
UPS_MINUTES_REMAINING = "1.3.6.1.2.1.33.1.2.3.0"
UPS_CHARGE_REMAINING = "1.3.6.1.2.1.33.1.2.4.0"
UPS_INPUT_VOLTAGE = "1.3.6.1.2.1.33.1.3.3.1.3.1"  # upsInputTable, input line 1
UPS_OUTPUT_SOURCE = "1.3.6.1.2.1.33.1.4.1.0"


class OperStatus(IntEnum):
    """ifOperStatus / ifAdminStatus values (RFC 2863)."""

    UP = 1
    DOWN = 2
    TESTING = 3
    UNKNOWN = 4
    DORMANT = 5
    NOT_PRESENT = 6
    LOWER_LAYER_DOWN = 7


class OutputSource(IntEnum):
    """upsOutputSource (RFC 1628)."""

    OTHER = 1
    NONE = 2
    NORMAL = 3
    BYPASS = 4
    BATTERY = 5
    BOOSTER = 6
    REDUCER = 7


class BatteryStatus(IntEnum):
    """upsBatteryStatus (RFC 1628)."""

    UNKNOWN = 1
    NORMAL = 2
    LOW = 3
    DEPLETED = 4


class PollFailure(StrEnum):
    """Why a poll as a whole failed; counted per device, shown in status."""

    TIMEOUT = "timeout"  # no answer: device down, or a wrong v2c community (dropped silently)
    AUTH = "auth"  # v3: wrong key, unknown user, wrong security level
    PRIVACY = "privacy"  # v3 privacy unavailable (no `cryptography`) or refused
    MALFORMED = "malformed"  # the answer could not be decoded
    ERROR_STATUS = "error_status"  # the agent answered with an SNMP error-status
    INTERNAL = "internal"  # a bug or an unexpected library error; logged with its traceback


class ValueProblem(StrEnum):
    """Why one value of an otherwise good answer is missing."""

    NO_SUCH_OBJECT = "no_such_object"
    NO_SUCH_INSTANCE = "no_such_instance"
    END_OF_MIB = "end_of_mib_view"
    WRONG_TYPE = "wrong_type"
    ABSURD = "absurd_value"
    NOT_FOUND = "interface_not_found"  # a configured interface name the device does not have


@dataclass(frozen=True, slots=True)
class Problem:
    """One value that could not be read; the rest of the poll stands."""

    kind: ValueProblem
    what: str  # e.g. "ifHCInOctets.3" or "interface 'eth9'"
    detail: str = ""


@dataclass(frozen=True, slots=True)
class InterfaceReading:
    """Counters and status of one watched interface, as the agent gave them."""

    index: int
    configured: str  # how sites.toml named it: "eth1", or "#3" for an ifIndex
    name: str | None  # ifName (or ifDescr) as the device reports it
    oper_status: int | None
    admin_status: int | None
    in_octets: int | None
    out_octets: int | None
    counter_bits: int  # 64 (ifHC*) or 32 (ifIn/OutOctets, when HC is absent)
    in_errors: int | None
    out_errors: int | None
    in_discards: int | None
    out_discards: int | None
    high_speed_mbps: int | None  # ifHighSpeed; veth reports 10000: capacity comes from config
    discontinuity: int | None  # ifCounterDiscontinuityTime, TimeTicks


@dataclass(frozen=True, slots=True)
class UpsReading:
    output_source: int | None
    battery_status: int | None
    minutes_remaining: int | None
    seconds_on_battery: int | None
    charge_percent: int | None
    input_voltage: float | None


@dataclass(frozen=True, slots=True)
class OidReading:
    name: str
    value: float | None


@dataclass(frozen=True, slots=True)
class SnmpObservation:
    """One poll of one device. `error` set: nothing was read at all."""

    device: str  # the device's key, e.g. "device:thpt-viet-bac/router"
    address: str
    started_at: datetime
    duration: float  # seconds
    received_at: float  # poller's monotonic clock when the answer came (for rates)
    sys_uptime: int | None = None  # TimeTicks (hundredths of a second)
    engine_boots: int | None = None
    engine_time: int | None = None  # seconds since the engine last booted
    interfaces: tuple[InterfaceReading, ...] = ()
    ups: UpsReading | None = None
    oids: tuple[OidReading, ...] = ()
    problems: tuple[Problem, ...] = ()
    error: str | None = None  # plain words, never a secret
    failure: PollFailure | None = None
    requests: int = 0  # SNMP requests this poll took (round trips)
    kind: str = "snmp"
