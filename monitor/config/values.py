"""Value parsers: a TOML value in, a typed value out, or BadValueError saying what was expected.

Durations ("250ms", "30s"), rates ("100Mbit"), addresses, ids, OIDs, time
zones, the lab's network. Each parser checks syntax only: nothing is resolved.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, ip_address
from typing import Final, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.config.problems import BadValueError, describe, seconds_text, suggestion
from monitor.model.inventory import DEFAULT_TIMEZONE, Lab
from monitor.model.labplan import LARGEST_LAB_PREFIXLEN, infra_block, monitor_transit

E = TypeVar("E", bound=StrEnum)

LIMITED_BROADCAST: Final = IPv4Address("255.255.255.255")
RFC1918: Final = tuple(IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def range_text(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f" from {lo:g} to {hi:g}"
    if lo is not None:
        return f" of at least {lo:g}"
    return "" if hi is None else f" of at most {hi:g}"


def within(value: float, lo: float | None, hi: float | None) -> bool:
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def integer(lo: int | None = None, hi: int | None = None) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and within(value, lo, hi):
            return value
        raise BadValueError(f"expected an integer{range_text(lo, hi)}, got {describe(value)}")

    return parse


def number(lo: float, hi: float, what: str = "a number") -> Callable[[object], float]:
    def parse(value: object) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool) and lo <= value <= hi:
            return float(value)  # NaN fails the comparison, infinities the range
        raise BadValueError(f"expected {what}{range_text(lo, hi)}, got {describe(value)}")

    return parse


def above(lo: float, hi: float | None = None, what: str = "a number") -> Callable[[object], float]:
    """A number strictly above `lo` (and at most `hi`): a share that must not be 0."""
    upper = "" if hi is None else f" and at most {hi:g}"

    def parse(value: object) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            given = float(value)
            if math.isfinite(given) and given > lo and (hi is None or given <= hi):
                return given
        raise BadValueError(f"expected {what} above {lo:g}{upper}, got {describe(value)}")

    return parse


def any_number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadValueError(f"expected a number, got {describe(value)}")
    return float(value)


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise BadValueError(f"expected true or false, got {describe(value)}")
    return value


def text(value: object) -> str:
    if not isinstance(value, str):
        raise BadValueError(f"expected a string, got {describe(value)}")
    return value


def nonempty_text(value: object) -> str:
    if not text(value).strip():
        raise BadValueError("expected a non-empty string")
    return str(value)


_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def identifier(value: object) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise BadValueError(
            "expected an id of 1 to 40 lowercase letters, digits and '-', starting with "
            f"a letter or digit, got {describe(value)}"
        )
    return value


def choice(options: Sequence[str]) -> Callable[[object], str]:
    def parse(value: object) -> str:
        if isinstance(value, str) and value in options:
            return value
        listed = ", ".join(f'"{o}"' for o in options)
        close = suggestion(value, options) if isinstance(value, str) else str(value)
        hint = f' (did you mean "{close}"?)' if close in options else ""
        raise BadValueError(f"expected one of {listed}, got {describe(value)}{hint}")

    return parse


def member(kind: type[E]) -> Callable[[object], E]:
    """One of the values of a StrEnum of monitor.model.vocabulary, as its member."""
    pick = choice(tuple(m.value for m in kind))

    def parse(value: object) -> E:
        return kind(pick(value))

    return parse


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_MS: Final = {
    "ms": Decimal(1),
    "s": Decimal(1000),
    "m": Decimal(60_000),
    "h": Decimal(3_600_000),
}


def milliseconds(value: object) -> float:
    """A duration string ("250ms", "1.5s", "2m", "1h") in milliseconds, above zero."""
    found = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise BadValueError(f'expected a duration like "30s" or "250ms", got {describe(value)}')
    ms = float(Decimal(found[1]) * _UNIT_MS[found[2]])
    if ms <= 0:
        raise BadValueError(f"expected a duration above zero, got {describe(value)}")
    return ms


def duration(minimum: float | None = None, *, zero: bool = False) -> Callable[[object], float]:
    """A duration in seconds, optionally with a floor; `zero`: "0s" is allowed too."""

    def parse(value: object) -> float:
        if zero and isinstance(value, str) and _DURATION.fullmatch(value):
            found = _DURATION.fullmatch(value)
            if found is not None and Decimal(found[1]) == 0:
                return 0.0
        seconds = milliseconds(value) / 1000
        if minimum is not None and seconds < minimum:
            raise BadValueError(
                f"expected a duration of at least {seconds_text(minimum)}, got {describe(value)}"
            )
        return seconds

    return parse


def _is_hostname(name: str) -> bool:
    name = name.removesuffix(".")
    labels = name.split(".")
    label = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
    # an all-digit last label is a mistyped IPv4 address, not a name (RFC 1123 §2.1)
    return (
        0 < len(name) <= 253
        and all(label.fullmatch(part) for part in labels)
        and not labels[-1].isdigit()
    )


def address(value: object) -> str:
    """An IP literal or a host name, checked by syntax only: never resolved here.

    It is one host that examnet sends to, so an IP literal that stands for
    no host or for many is refused.
    """
    if isinstance(value, str):
        try:
            ip = ip_address(value)
        except ValueError:
            if _is_hostname(value):
                return value
        else:
            reason = not_one_host(ip)
            if reason is None:
                return value
            raise BadValueError(
                f"expected the address of one host, got {describe(value)}: {reason}"
            )
    raise BadValueError(f"expected an IPv4 or IPv6 address or a host name, got {describe(value)}")


def not_one_host(ip: IPv4Address | IPv6Address) -> str | None:
    """Why an IP address is no single host to probe, or None."""
    if isinstance(ip, IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified:  # RFC 1122 3.2.1.3, RFC 4291 2.5.2: "no address"
        return "the unspecified address stands for no host (it is never a destination)"
    if ip == LIMITED_BROADCAST:  # RFC 919, RFC 922
        return "the limited broadcast address reaches every host of the local network"
    if ip.is_multicast:  # RFC 5771, RFC 4291 2.7
        return "a multicast address reaches a group of hosts, and any of them may answer"
    return None


def address_key(value: str) -> str:
    """The form two addresses are compared in: canonical IP, or lower-case name."""
    try:
        return str(ip_address(value))
    except ValueError:
        return value.lower().removesuffix(".")


_CAPACITY = re.compile(r"(\d+(?:\.\d+)?)([kmgt]?)bit", re.IGNORECASE)
_CAPACITY_SCALE: Final = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}


def capacity(value: object) -> int:
    """A line rate like "512kbit", "100Mbit", "1Gbit" in bits per second (SI prefixes)."""
    found = _CAPACITY.fullmatch(value) if isinstance(value, str) else None
    bps = int(Decimal(found[1]) * _CAPACITY_SCALE[found[2].lower()]) if found else 0
    if bps <= 0:
        raise BadValueError(
            f'expected a capacity like "100Mbit" or "512kbit", got {describe(value)}'
        )
    return bps


_OID = re.compile(r"\.?[0-2](\.\d+)+")


def oid(value: object) -> str:
    if not isinstance(value, str) or not _OID.fullmatch(value):
        raise BadValueError(
            f'expected a numeric OID like "1.3.6.1.2.1.1.3.0", got {describe(value)}'
        )
    return value.removeprefix(".")


def timezone(value: object) -> ZoneInfo:
    if isinstance(value, str):
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise BadValueError(
        f'expected an IANA time zone name like "{DEFAULT_TIMEZONE}", got {describe(value)}'
    )


def coordinates(value: object) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise BadValueError(
            f"expected [latitude, longitude] like [21.85, 106.76], got {describe(value)}"
        )
    lat = number(-90, 90, "a latitude")(value[0])
    lon = number(-180, 180, "a longitude")(value[1])
    return (lat, lon)


def lab_network(value: object) -> IPv4Network:
    try:
        network = IPv4Network(text(value))
    except ValueError:
        hint = network_hint(value)
        raise BadValueError(
            f'expected an IPv4 network like "10.77.0.0/16", got {describe(value)}{hint}'
        ) from None
    if not any(network.subnet_of(private) for private in RFC1918):
        raise BadValueError(
            "expected a network inside RFC 1918 space (10.0.0.0/8, 172.16.0.0/12, "
            f"192.168.0.0/16), got {describe(value)}"
        )
    if network.prefixlen > LARGEST_LAB_PREFIXLEN:
        raise BadValueError(
            f"expected a prefix length of at most {LARGEST_LAB_PREFIXLEN}, since the last /24 "
            f"is reserved for the lab's transit addresses, got {describe(value)}"
        )
    return network


def network_hint(value: object) -> str:
    """For "10.77.1.0/16", a network with host bits set: suggest "10.77.0.0/16"."""
    if not isinstance(value, str) or "/" not in value:
        return ""
    try:
        loose = IPv4Network(value, strict=False)
    except ValueError:
        return ""
    return f' (did you mean "{loose}"?)'


_LAB_PREFIX = re.compile(r"[a-z][a-z0-9]{1,3}")


def lab_prefix(value: object) -> str:
    if not isinstance(value, str) or not _LAB_PREFIX.fullmatch(value):
        raise BadValueError(
            "expected 2 to 4 characters, a lowercase letter then lowercase letters or digits, "
            f"got {describe(value)}"
        )
    return value


def moment_in(zone: tzinfo) -> Callable[[object], datetime]:
    """A TOML datetime as an aware one in the plan's zone (local times are plan time)."""

    def parse(value: object) -> datetime:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                return local_moment(value, zone)
            return value.astimezone(zone)
        hint = ""
        if isinstance(value, str):
            hint = "; write it without quotes"
        raise BadValueError(
            f"expected a date and time like 2027-06-03T07:30:00, got {describe(value)}{hint}"
        )

    return parse


def local_moment(value: datetime, zone: tzinfo) -> datetime:
    """A local time of the plan as an aware datetime, if it names exactly one instant.

    Where the clocks change, a local time they skip names no instant and one
    they pass twice names two: both are refused rather than guessed (zoneinfo
    would quietly pick one, PEP 495), and the message gives the offsets.
    """
    first = value.replace(tzinfo=zone, fold=0)
    second = value.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    name = getattr(zone, "key", str(zone))
    written = value.isoformat()
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value:
        raise BadValueError(
            f"{written} does not exist in {name}: the clocks skip it, going from "
            f"{utc_offset(first)} to {utc_offset(second)}; write a time outside the change"
        )
    raise BadValueError(
        f"{written} happens twice in {name}: the clocks go back; write it with its offset, "
        f"{written}{utc_offset(first)} or {written}{utc_offset(second)}"
    )


def utc_offset(moment: datetime) -> str:
    """`+02:00`: the offset an ISO 8601 time would carry."""
    return moment.isoformat()[-6:]


def lab_address_problem(value: str, lab: Lab, *, control: bool = False) -> str | None:
    """Why `value` cannot be used in this lab, or None.

    A `control` address (examnet's own network) may also be a host of the
    monitor's transit /30, such as the hub's address.
    """
    try:
        ip = IPv4Address(value)
    except ValueError:
        ip = None
    if ip is None or ip not in lab.network:
        return (
            f"expected an IPv4 address inside the lab network {lab.network}, got {describe(value)}"
        )
    if ip == lab.network.network_address:
        return f"expected a host address, got the network address of {lab.network}"
    reserved = infra_block(lab.network)  # the lab's address plan: monitor.model.labplan
    transit = monitor_transit(lab.network)
    if control and ip in set(transit.hosts()):
        return None
    if ip in reserved:  # the broadcast address is in there too
        allowed = (
            f" (a control address may be a host of the monitor's transit {transit}, such as "
            f"the hub's {transit[2]})"
            if control
            else ""
        )
        return (
            f"expected an address outside {reserved}, which the lab keeps for its own transit "
            f"addresses{allowed}, got {describe(value)}"
        )
    return None
