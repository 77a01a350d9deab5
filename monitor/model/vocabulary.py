"""The words of examnet as enums: kinds, phases, severities and states.

Everything that names a condition, a severity or a state uses these members;
only storage and the wire turn them into their string values. Severity has
ONE order, the order of its members (lowest first): compare with `rank`,
sort with `severity_rank`, never with a table of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final


class Phase(StrEnum):
    """Where a moment sits in the exam calendar."""

    BEFORE = "before"
    DURING = "during"
    AFTER = "after"
    OUTSIDE = "outside"


class TargetKind(StrEnum):
    """What a probed address stands for."""

    LINK = "link"
    ENDPOINT = "endpoint"
    DEVICE = "device"  # polled by SNMP rather than pinged
    CONTROL = "control"  # examnet's own network: [monitor] control


class ConditionKind(StrEnum):
    """Every condition examnet reports; the one list the loader, evaluator and docs share.

    `[severity]` in sites.toml takes exactly these names.
    """

    DOWN = "down"  # a link lost
    LOSS = "loss"
    LATENCY = "latency"
    JITTER = "jitter"
    RTT_ANOMALY = "rtt_anomaly"  # RTT far above the target's own baseline
    CONGESTED = "congested"  # SNMP utilisation
    FLAPPING = "flapping"
    ENDPOINT_DOWN = "endpoint_down"  # a carrier endpoint lost: the carrier-level incident
    CHILDREN_DOWN = "children_down"  # an endpoint answers, every link behind it is down
    ISOLATED = "isolated"
    LOST_REDUNDANCY = "lost_redundancy"
    DEGRADED = "degraded"
    ON_BATTERY = "on_battery"
    POWER_LOW = "power_low"
    POWER_AT_RISK = "power_at_risk"  # the UPS will not last to the end of the running session
    DEVICE_UNREACHABLE = "device_unreachable"
    BLIND = "blind"  # examnet's own network is down
    NOT_READY = "not_ready"  # a readiness snapshot before a session found problems


class Severity(StrEnum):
    """How much a condition matters, lowest first (the order of the members)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for info, 1 for warning, 2 for critical: compare severities by this."""
        return SEVERITY_ORDER.index(self)

    def raised(self) -> Severity:
        """One step higher, capped at critical."""
        return SEVERITY_ORDER[min(self.rank + 1, len(SEVERITY_ORDER) - 1)]


SEVERITY_ORDER: Final[tuple[Severity, ...]] = tuple(Severity)


def severity_rank(value: str) -> int:
    """The rank of a severity given as text (a stored row, a label): -1 for an unknown word.

    For sorting rows that carry severities as strings by the one order above.
    """
    try:
        return Severity(value).rank
    except ValueError:
        return -1


def worst_severity(severities: Iterable[Severity]) -> Severity:
    """The highest of `severities` (info when there is none)."""
    return max(severities, key=lambda s: s.rank, default=Severity.INFO)


class EndpointKind(StrEnum):
    """What a carrier endpoint is; the loader accepts exactly these values."""

    GATEWAY = "gateway"
    CORE = "core"
    DNS = "dns"
    BTS = "bts"


class LinkKind(StrEnum):
    """The medium of a site's link; the loader accepts exactly these values."""

    FIBRE = "fibre"
    COPPER = "copper"
    FOUR_G = "4g"
    FIVE_G = "5g"
    BTS = "bts"
    MICROWAVE = "microwave"
    SATELLITE = "satellite"


class AuthProtocol(StrEnum):
    """SNMPv3 USM authentication protocols (RFC 3414, RFC 7860)."""

    MD5 = "md5"
    SHA = "sha"
    SHA224 = "sha224"
    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"


class PrivProtocol(StrEnum):
    """SNMPv3 USM privacy protocols (RFC 3414, RFC 3826)."""

    DES = "des"
    AES = "aes"
    AES192 = "aes192"
    AES256 = "aes256"


class SubjectKind(StrEnum):
    TARGET = "target"
    SITE = "site"
    DEVICE = "device"  # an SNMP agent: reachable, or why not
    POWER = "power"  # a site's or endpoint's power, from its UPS
    MONITOR = "monitor"  # examnet itself: blind
    READINESS = "readiness"  # a snapshot before an exam session


class TargetStatus(StrEnum):
    """The headline state of a link or endpoint (ping and SNMP together)."""

    UNKNOWN = "unknown"  # no verdict yet, rounds cannot run, or examnet is blind
    UP = "up"
    DEGRADED = "degraded"  # up, but lossy, slow, jittery, or its interface is congested
    DOWN = "down"


class SiteStatus(StrEnum):
    UNKNOWN = "unknown"
    OK = "ok"
    DEGRADED = "degraded"  # enough carriers, but a link is degraded (R3 at risk)
    LOST_REDUNDANCY = "lost_redundancy"  # fewer independent carriers than min_carriers (R1 at risk)
    ISOLATED = "isolated"  # no link up at all (R1 violated)


WORKING = (TargetStatus.UP, TargetStatus.DEGRADED)  # a degraded link still carries traffic


class DeviceStatus(StrEnum):
    UNKNOWN = "unknown"
    UP = "up"
    NO_ANSWER = "no_answer"
    REFUSED = "refused"  # it answers, but not to us: authentication, privacy, errors


class PowerStatus(StrEnum):
    UNKNOWN = "unknown"
    MAINS = "mains"
    ON_BATTERY = "on_battery"  # R2 at risk: the backup is carrying the site
    POWER_LOW = "power_low"  # the backup is running out
