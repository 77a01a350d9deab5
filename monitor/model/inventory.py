"""The inventory and the plan, as frozen typed objects.

`monitor.config` builds these from sites.toml once; everything else only
reads them. Defaults live here as named constants so the loader, the docs
and the tests agree on them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import IPv4Network
from pathlib import Path
from typing import Final

from monitor.model.alerting import (
    DEFAULT_ROUTE,
    AlertingSettings,
    NotifierConfig,
    Route,
    SilenceConfig,
    builtin_notifiers,
)
from monitor.model.calendar import Calendar, Plan, TimeRange
from monitor.model.keys import LINK, control_key, device_key, endpoint_key, link_key, parse_key
from monitor.model.reports import ScheduledReport
from monitor.model.secrets import Secret
from monitor.model.vocabulary import (
    AuthProtocol,
    ConditionKind,
    EndpointKind,
    LinkKind,
    Phase,
    PrivProtocol,
    Severity,
    TargetKind,
)

SCHEMA_VERSION = 1

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"

# probe defaults: five echoes a quarter second apart (SmokePing-like), a
# round every 30 s, every 10 s while an exam session runs.
DEFAULT_COUNT = 5
DEFAULT_ECHO_INTERVAL = 0.25
DEFAULT_TIMEOUT = 1.0
DEFAULT_INTERVAL = 30.0
DEFAULT_SESSION_INTERVAL = 10.0
DEFAULT_PAYLOAD_SIZE = 56

# judging defaults: K rounds of total loss make a target DOWN, K answered
# rounds bring it back (hysteresis against a single lost round).
DEFAULT_DOWN_AFTER = 2
DEFAULT_UP_AFTER = 2
DEFAULT_LOSS_WARN = 0.05
DEFAULT_LOSS_CRIT = 0.20
DEFAULT_RTT_WARN_MS = 150.0
DEFAULT_RTT_CRIT_MS = 400.0
DEFAULT_JITTER_WARN_MS = 30.0
DEFAULT_JITTER_CRIT_MS = 100.0
DEFAULT_UTILISATION_WARN = 0.80
DEFAULT_UTILISATION_CRIT = 0.95
# utilisation >= warn must hold this long before a link is CONGESTED, and stay
# below warn this long before that clears (hysteresis against one busy poll).
DEFAULT_CONGESTION_SUSTAIN = 60.0
DEFAULT_CONGESTION_HOLD = 60.0
# a UPS with fewer minutes of battery left than this is POWER LOW.
DEFAULT_POWER_LOW_MINUTES = 15

DEFAULT_SNMP_PORT = 161
DEFAULT_SNMP_TIMEOUT = 2.0
DEFAULT_SNMP_RETRIES = 1

# SNMP polling: a poll of every device each minute, every 30 s during exam
# sessions. net-snmp refreshes interface counters only every ~3 s, so polls
# closer than MIN_SNMP_INTERVAL would see the same figures twice.
DEFAULT_SNMP_INTERVAL = 60.0
DEFAULT_SNMP_SESSION_INTERVAL = 30.0
DEFAULT_SNMP_MAX_CONCURRENCY = 100
MIN_SNMP_INTERVAL = 5.0
MAX_SNMP_CONCURRENCY = 1000

# a site is fine while this many distinct carriers are up; 2 asks for redundancy.
DEFAULT_MIN_CARRIERS = 1

# ping quality (loss, latency, jitter): raised when QUALITY_RAISE of the last
# QUALITY_WINDOW rounds are bad, cleared when QUALITY_CLEAR of them are good.
# CLEAR > WINDOW - RAISE, or one window could both raise and clear.
DEFAULT_QUALITY_WINDOW = 5
DEFAULT_QUALITY_RAISE = 3
DEFAULT_QUALITY_CLEAR = 4
# RTT baseline: the median of a target's last BASELINE_ROUNDS healthy rounds;
# a round median FACTOR times above it, and MIN_DELTA above it at least (lab
# RTTs of 0.05 ms triple on noise), is an RTT anomaly.
DEFAULT_BASELINE_ROUNDS = 60
DEFAULT_BASELINE_FACTOR = 3.0
DEFAULT_BASELINE_MIN_DELTA_MS = 5.0
# flapping (like Icinga's flap detection): this many state changes of one
# subject within the window.
DEFAULT_FLAP_CHANGES = 5
DEFAULT_FLAP_WINDOW = 900.0  # seconds

# readiness snapshots: this long before each exam session starts (seconds,
# latest first), examnet says whether every site is ready.
DEFAULT_READINESS: Final[tuple[float, ...]] = (3600.0, 900.0)
MAX_READINESS_LEAD = 86_400.0  # a snapshot is taken less than a day before its session

# examnet is BLIND (its own network is down, not the province's) when its
# control targets fail together with at least this share of all targets.
DEFAULT_BLIND_SHARE = 0.5

# [retention] (docs/sites-toml.md#retention): raw figures and finished
# notifications are deleted after these many seconds; the audit trail
# (state changes, incidents, readiness, device events) is kept.
DAY = 86_400.0
DEFAULT_KEEP_ROUNDS = 30 * DAY
DEFAULT_KEEP_POLLS = 30 * DAY
DEFAULT_KEEP_NOTIFICATIONS = 90 * DAY
DEFAULT_RETENTION_INTERVAL = 600.0
DEFAULT_RETENTION_BATCH = 1000


@dataclass(frozen=True, slots=True)
class SeverityRow:
    """The severity of one condition kind in each phase of the exam calendar."""

    kind: ConditionKind
    before: Severity
    during: Severity
    after: Severity
    outside: Severity

    def at(self, phase: Phase) -> Severity:
        return {
            Phase.BEFORE: self.before,
            Phase.DURING: self.during,
            Phase.AFTER: self.after,
            Phase.OUTSIDE: self.outside,
        }[phase]


@dataclass(frozen=True, slots=True)
class SeverityTable:
    """How much each condition matters in each phase: `[severity]` over DEFAULT_SEVERITY.

    `rows` holds one row per ConditionKind, in the enum's order. With
    `session_bump`, everything is one step higher while an exam session runs.
    """

    rows: tuple[SeverityRow, ...]
    session_bump: bool = True

    def __post_init__(self) -> None:
        if tuple(row.kind for row in self.rows) != tuple(ConditionKind):
            raise ValueError("SeverityTable needs one row per ConditionKind, in its order")

    def row(self, kind: ConditionKind) -> SeverityRow:
        return self.rows[_KIND_INDEX[kind]]

    def at(self, kind: ConditionKind, phase: Phase, in_session: bool) -> Severity:
        """The severity of `kind` at a moment of `phase`, inside an exam session or not."""
        severity = self.row(kind).at(phase)
        return severity.raised() if in_session and self.session_bump else severity


_KIND_INDEX: Final = {kind: index for index, kind in enumerate(ConditionKind)}

_I, _W, _C = Severity.INFO, Severity.WARNING, Severity.CRITICAL

# THE mapping of conditions to severities (docs/sites-toml.md shows it as a
# table; `[severity]` in sites.toml overrides any cell). Columns: before,
# during, after, outside. What breaks the plan's R1/R2 (a site cut off or
# about to lose power) pages during the exam; one link's trouble is a warning.
DEFAULT_SEVERITY: Final = SeverityTable(
    rows=(
        SeverityRow(ConditionKind.DOWN, _I, _W, _I, _I),
        SeverityRow(ConditionKind.LOSS, _I, _W, _I, _I),
        SeverityRow(ConditionKind.LATENCY, _I, _W, _I, _I),
        SeverityRow(ConditionKind.JITTER, _I, _W, _I, _I),
        SeverityRow(ConditionKind.RTT_ANOMALY, _I, _W, _I, _I),
        SeverityRow(ConditionKind.CONGESTED, _I, _W, _I, _I),
        SeverityRow(ConditionKind.FLAPPING, _I, _W, _I, _I),
        SeverityRow(ConditionKind.ENDPOINT_DOWN, _W, _C, _W, _I),
        SeverityRow(ConditionKind.CHILDREN_DOWN, _W, _C, _W, _I),
        SeverityRow(ConditionKind.ISOLATED, _W, _C, _W, _I),
        SeverityRow(ConditionKind.LOST_REDUNDANCY, _W, _C, _W, _I),
        SeverityRow(ConditionKind.DEGRADED, _I, _W, _I, _I),
        SeverityRow(ConditionKind.ON_BATTERY, _I, _W, _I, _I),
        SeverityRow(ConditionKind.POWER_LOW, _W, _C, _W, _I),
        SeverityRow(ConditionKind.POWER_AT_RISK, _W, _C, _W, _I),
        SeverityRow(ConditionKind.DEVICE_UNREACHABLE, _I, _W, _I, _I),
        SeverityRow(ConditionKind.BLIND, _W, _C, _W, _W),
        SeverityRow(ConditionKind.NOT_READY, _W, _C, _W, _I),
    ),
    session_bump=True,
)


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """examnet's view of itself: addresses it should always reach, and when it is blind."""

    control: tuple[str, ...] = ()
    blind_share: float = DEFAULT_BLIND_SHARE


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    """How long rows are kept, in seconds (None: forever), and how they are deleted."""

    rounds: float | None = DEFAULT_KEEP_ROUNDS  # ICMP rounds
    polls: float | None = DEFAULT_KEEP_POLLS  # SNMP polls and their samples and values
    notifications: float | None = DEFAULT_KEEP_NOTIFICATIONS  # delivered, failed, expired
    interval: float = DEFAULT_RETENTION_INTERVAL  # between two passes
    batch: int = DEFAULT_RETENTION_BATCH  # rows per DELETE: short transactions


@dataclass(frozen=True, slots=True)
class Carrier:
    id: str
    name: str
    contact: str


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Limits for judging a target; resolved per link at load time."""

    down_after: int = DEFAULT_DOWN_AFTER
    up_after: int = DEFAULT_UP_AFTER
    loss_warn: float = DEFAULT_LOSS_WARN
    loss_crit: float = DEFAULT_LOSS_CRIT
    rtt_warn_ms: float = DEFAULT_RTT_WARN_MS
    rtt_crit_ms: float = DEFAULT_RTT_CRIT_MS
    jitter_warn_ms: float = DEFAULT_JITTER_WARN_MS
    jitter_crit_ms: float = DEFAULT_JITTER_CRIT_MS
    utilisation_warn: float = DEFAULT_UTILISATION_WARN
    utilisation_crit: float = DEFAULT_UTILISATION_CRIT
    congestion_sustain: float = DEFAULT_CONGESTION_SUSTAIN  # seconds
    congestion_hold: float = DEFAULT_CONGESTION_HOLD  # seconds
    power_low_minutes: int = DEFAULT_POWER_LOW_MINUTES
    quality_window: int = DEFAULT_QUALITY_WINDOW  # rounds
    quality_raise: int = DEFAULT_QUALITY_RAISE  # bad rounds of the window
    quality_clear: int = DEFAULT_QUALITY_CLEAR  # good rounds of the window
    baseline_rounds: int = DEFAULT_BASELINE_ROUNDS
    baseline_factor: float = DEFAULT_BASELINE_FACTOR
    baseline_min_delta_ms: float = DEFAULT_BASELINE_MIN_DELTA_MS
    flap_changes: int = DEFAULT_FLAP_CHANGES
    flap_window: float = DEFAULT_FLAP_WINDOW  # seconds


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """How one ICMP round is run and how often (times in seconds)."""

    count: int = DEFAULT_COUNT
    echo_interval: float = DEFAULT_ECHO_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    interval: float = DEFAULT_INTERVAL
    session_interval: float = DEFAULT_SESSION_INTERVAL
    payload_size: int = DEFAULT_PAYLOAD_SIZE

    @property
    def round_budget(self) -> float:
        """The longest a healthy round can take: last echo sent plus its timeout."""
        return (self.count - 1) * self.echo_interval + self.timeout


@dataclass(frozen=True, slots=True)
class SnmpSettings:
    """How often devices are polled (seconds), and how many polls run at once."""

    interval: float = DEFAULT_SNMP_INTERVAL
    session_interval: float = DEFAULT_SNMP_SESSION_INTERVAL
    max_concurrency: int = DEFAULT_SNMP_MAX_CONCURRENCY


@dataclass(frozen=True, slots=True)
class InterfaceRef:
    """The SNMP interface that carries a link, on a device of the link's site.

    Exactly one of `name` (ifName/ifDescr/ifAlias) and `index` (ifIndex) is set.
    """

    device: str
    name: str | None = None
    index: int | None = None

    def __post_init__(self) -> None:
        if (self.name is None) == (self.index is None):
            raise ValueError("InterfaceRef needs exactly one of name and index")


@dataclass(frozen=True, slots=True)
class Link:
    """One carrier's connection at a site."""

    id: str
    site: str
    carrier: str
    kind: LinkKind
    address: str
    upstream: str | None
    active: TimeRange | None
    thresholds: Thresholds
    interface: InterfaceRef | None = None
    powered_by: str | None = None  # the id of a UPS device of the same site

    @property
    def key(self) -> str:
        return f"{self.site}/{self.id}"

    @property
    def target_key(self) -> str:
        """The stable key of its target: `link:SITE/LINK`."""
        return link_key(self.site, self.id)

    def is_active(self, moment: datetime) -> bool:
        """Outside its window (a mobile BTS before or after the exam) a link is not part of
        its site: not probed, not counted, not lost."""
        return self.active is None or self.active.contains(moment)


@dataclass(frozen=True, slots=True)
class SnmpV2c:
    community: Secret


@dataclass(frozen=True, slots=True)
class SnmpV3:
    user: str
    auth_protocol: AuthProtocol | None = None
    auth_key: Secret | None = None
    priv_protocol: PrivProtocol | None = None
    priv_key: Secret | None = None


@dataclass(frozen=True, slots=True)
class WatchedInterface:
    """An interface to poll, named by ifName/ifDescr/ifAlias or given by ifIndex."""

    name: str | None
    index: int | None
    capacity_bps: int | None


@dataclass(frozen=True, slots=True)
class CustomOid:
    name: str
    oid: str
    unit: str
    warn: float | None
    crit: float | None


@dataclass(frozen=True, slots=True)
class Device:
    """Something polled by SNMP: a site router, a UPS, a BTS."""

    id: str
    address: str
    port: int
    credentials: SnmpV2c | SnmpV3
    interfaces: tuple[WatchedInterface, ...] = ()
    ups: bool = False
    oids: tuple[CustomOid, ...] = ()
    timeout: float = DEFAULT_SNMP_TIMEOUT
    retries: int = DEFAULT_SNMP_RETRIES
    site: str | None = None
    endpoint: str | None = None
    # the target it is polled through (`link:SITE/LINK` or `endpoint:ID`), resolved at
    # load: `via` in the file, else the link or endpoint at the device's address. While
    # that target is down, the device's silence is an effect of the same cause.
    parent: str | None = None

    @property
    def via(self) -> str | None:
        """The id of the link it is polled over, for a site's device."""
        parent = None if self.parent is None else parse_key(self.parent)
        if parent is None or parent.kind != LINK:
            return None
        return parent.ident

    @property
    def owner(self) -> str:
        """The id of the site or carrier endpoint the device belongs to."""
        return self.site or self.endpoint or ""

    @property
    def key(self) -> str:
        """Stable across reloads, like target keys: `device:thpt-viet-bac/router`."""
        return device_key(self.owner, self.id)

    @property
    def poll_budget(self) -> float:
        """The longest an unanswered request can take: every try times out."""
        return self.timeout * (self.retries + 1)

    def as_target(self) -> Target:
        """The device as a stored target (no carrier: a site router serves them all)."""
        return Target(
            key=self.key,
            kind=TargetKind.DEVICE,
            address=self.address,
            carrier="",
            site=self.site,
            endpoint=self.endpoint,
        )


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A carrier's gateway, core router, DNS server or BTS that links depend on."""

    id: str
    carrier: str
    kind: EndpointKind
    address: str
    name: str = ""
    devices: tuple[Device, ...] = ()


@dataclass(frozen=True, slots=True)
class Site:
    """An exam location (điểm thi)."""

    id: str
    name: str
    district: str
    coordinates: tuple[float, float] | None
    min_carriers: int
    links: tuple[Link, ...]
    devices: tuple[Device, ...] = ()
    # the site's level of inheritance: its devices (a UPS) are judged with it
    thresholds: Thresholds = field(default_factory=Thresholds)

    def active_links(self, moment: datetime) -> tuple[Link, ...]:
        """The links that are part of the site at `moment` (see Link.is_active)."""
        return tuple(link for link in self.links if link.is_active(moment))


@dataclass(frozen=True, slots=True)
class Lab:
    """The namespace lab that stands in for the sites of this file."""

    network: IPv4Network
    prefix: str


@dataclass(frozen=True, slots=True)
class Target:
    """Anything probed: a link's address or a carrier endpoint's."""

    key: str
    kind: TargetKind
    address: str
    carrier: str
    site: str | None = None
    link: str | None = None
    endpoint: str | None = None
    active: TimeRange | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)

    def is_active(self, moment: datetime) -> bool:
        return self.active is None or self.active.contains(moment)


@dataclass(frozen=True, slots=True)
class Inventory:
    source: Path
    plan: Plan
    calendar: Calendar
    carriers: tuple[Carrier, ...]
    endpoints: tuple[Endpoint, ...]
    sites: tuple[Site, ...]
    thresholds: Thresholds
    probe: ProbeSettings
    lab: Lab | None = None
    warnings: tuple[str, ...] = ()
    snmp: SnmpSettings = field(default_factory=SnmpSettings)
    severity: SeverityTable = DEFAULT_SEVERITY
    readiness: tuple[float, ...] = DEFAULT_READINESS  # seconds before a session, latest first
    monitor: MonitorSettings = field(default_factory=MonitorSettings)
    # alerting (monitor/model/alerting.py): `notifiers` always holds the built-in
    # `log` first; routes are in file order, with the [alerting] defaults resolved
    alerting: AlertingSettings = field(default_factory=AlertingSettings)
    notifiers: tuple[NotifierConfig, ...] = field(default_factory=builtin_notifiers)
    routes: tuple[Route, ...] = (DEFAULT_ROUTE,)
    silences: tuple[SilenceConfig, ...] = ()
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    reports: tuple[ScheduledReport, ...] = ()  # [[reports]]: sent when due by `examnet run`

    def notifier(self, ident: str) -> NotifierConfig:
        """The notifier a route names; KeyError for an id the file does not declare."""
        for notifier in self.notifiers:
            if notifier.id == ident:
                return notifier
        raise KeyError(ident)

    def links(self) -> Iterator[Link]:
        for site in self.sites:
            yield from site.links

    def devices(self) -> Iterator[Device]:
        """Every polled device: the sites' (in file order), then the endpoints'."""
        for site in self.sites:
            yield from site.devices
        for endpoint in self.endpoints:
            yield from endpoint.devices

    def targets(self) -> tuple[Target, ...]:
        """Every probed address, endpoints first; keys are stable across reloads."""
        endpoints = tuple(
            Target(
                key=endpoint_key(e.id),
                kind=TargetKind.ENDPOINT,
                address=e.address,
                carrier=e.carrier,
                endpoint=e.id,
                thresholds=self.thresholds,
            )
            for e in self.endpoints
        )
        links = tuple(
            Target(
                key=link.target_key,
                kind=TargetKind.LINK,
                address=link.address,
                carrier=link.carrier,
                site=link.site,
                link=link.id,
                endpoint=link.upstream,
                active=link.active,
                thresholds=link.thresholds,
            )
            for link in self.links()
        )
        return endpoints + links

    def control_targets(self) -> tuple[Target, ...]:
        """`[monitor] control`: pinged like endpoints, to tell BLIND from a real outage."""
        return tuple(
            Target(
                key=control_key(address),
                kind=TargetKind.CONTROL,
                address=address,
                carrier="",
                thresholds=self.thresholds,
            )
            for address in self.monitor.control
        )
