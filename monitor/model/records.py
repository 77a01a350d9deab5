"""Rows that flow from the pipeline to storage.

Plain frozen values with UTC datetimes: the writer thread can take them
from the event loop without sharing anything mutable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from monitor.model.vocabulary import ConditionKind, Phase, Severity, SubjectKind


@dataclass(frozen=True, slots=True)
class RoundRecord:
    """One ICMP round of one target, with its figures (times in milliseconds)."""

    target: str
    started_at: datetime
    duration_ms: float
    sent: int
    received: int
    loss: float | None  # None when the round could not run
    rtt_min_ms: float | None = None
    rtt_avg_ms: float | None = None
    rtt_median_ms: float | None = None
    rtt_max_ms: float | None = None
    jitter_ms: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class StateChange:
    """A subject moved from one state to another, and why."""

    subject_kind: SubjectKind
    subject: str
    at: datetime
    previous: str
    state: str
    reason: str
    figures: dict[str, float | int | str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PollRecord:
    """One SNMP poll of one device: how it went, not what it read."""

    device: str
    started_at: datetime
    duration_ms: float
    requests: int
    problems: int  # values that could not be read in an otherwise good answer
    failure: str | None = None  # PollFailure, when nothing was read
    error: str | None = None


@dataclass(frozen=True, slots=True)
class InterfaceSample:
    """One interval of one watched interface: status and rates, not raw counters."""

    device: str
    started_at: datetime
    interface: str  # as sites.toml names it
    if_index: int
    link: str | None  # the link it carries, "site/link"
    oper_status: int | None
    in_bps: float | None = None
    out_bps: float | None = None
    utilisation_in: float | None = None
    utilisation_out: float | None = None
    errors_per_s: float | None = None
    discards_per_s: float | None = None
    no_rate: str | None = None  # why the interval has no rate


@dataclass(frozen=True, slots=True)
class PowerSample:
    """A UPS reading (RFC 1628)."""

    device: str
    started_at: datetime
    on_battery: bool | None
    output_source: int | None = None
    battery_status: int | None = None
    minutes_remaining: int | None = None
    charge_percent: int | None = None
    input_voltage: float | None = None
    seconds_on_battery: int | None = None


@dataclass(frozen=True, slots=True)
class DeviceValue:
    """A custom OID's value."""

    device: str
    started_at: datetime
    name: str
    value: float | None


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """Something that happened to a device: a reboot, a counter discontinuity."""

    device: str
    at: datetime
    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """A period in which a subject was not OK, as it stands now (open while `ended_at` is None).

    Written again whenever it changes (severity rose, a session touched it,
    worse figures, it ended): the natural key (subject_kind, subject, kind,
    started_at) makes each write an upsert, so replays never duplicate it.
    """

    subject_kind: SubjectKind
    subject: str  # e.g. "link:thpt-a/vt-fibre", "endpoint:vt-core", "thpt-a", "examnet"
    kind: ConditionKind  # down, isolated, endpoint_down, congested, ...
    started_at: datetime
    severity: Severity  # the highest it reached
    phase: Phase  # calendar phase when it started
    reason: str  # plain words, the latest
    updated_at: datetime
    ended_at: datetime | None = None
    carrier: str | None = None
    site: str | None = None
    sessions: tuple[str, ...] = ()  # exam sessions it overlapped
    worst_loss: float | None = None
    worst_rtt_ms: float | None = None
    worst_utilisation: float | None = None
    cause: str | None = None  # "subject_kind|subject|kind" of the incident it follows from
    affected: tuple[str, ...] = ()  # e.g. the sites an endpoint outage touches

    @property
    def key(self) -> tuple[str, str, str, datetime]:
        return (self.subject_kind, self.subject, self.kind, self.started_at)


@dataclass(frozen=True, slots=True)
class ReadinessRecord:
    """A snapshot taken some minutes before an exam session: is every site ready?"""

    session: str
    session_start: datetime
    taken_at: datetime
    seconds_before: int  # how long before the session start it was due
    ready: bool
    sites_total: int
    sites_ready: int
    # per site that is not ready: {"site", "state", "power", "reason"}
    not_ready: tuple[dict[str, str | None], ...] = ()
    open_incidents: int = 0


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """A notification to deliver, queued like any record: it is sent only once stored.

    `notification` is its JSON (alerts.model.Notification.to_json), kept as
    text so storage needs nothing from alerts; `id` is the notification's.
    """

    id: str
    receiver: str
    group_key: str
    notification: str
    created_at: datetime
    expires_at: datetime  # given up (state "expired") if still undelivered then
    # set when it was delivered before it could be stored (the database was down):
    # written for the record, never sent again
    delivered_at: datetime | None = None


# pending: waiting for its next attempt; sending: claimed by a worker until
# claimed_until (a lease: a worker that died lets it go); the rest are final.
OUTBOX_STATES = ("pending", "sending", "delivered", "failed", "expired")
OUTBOX_OPEN = ("pending", "sending")


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A stored notification and how its delivery stands."""

    id: str
    receiver: str
    group_key: str
    notification: str  # its JSON
    created_at: datetime
    state: str
    attempts: int
    next_attempt_at: datetime
    expires_at: datetime
    claimed_until: datetime | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SilenceRecord:
    """Alerts matching every matcher between starts_at and ends_at are not notified.

    Kept with who made it and why, and who ended it early: the audit.
    """

    id: str
    matchers: tuple[str, ...]  # e.g. 'carrier="viettel"', 'site=~"lso-.*"'
    starts_at: datetime
    ends_at: datetime
    created_by: str
    created_at: datetime
    comment: str
    expired_by: str | None = None
    expired_at: datetime | None = None


# What a poll of a device makes.
DeviceRecord = PollRecord | InterfaceSample | PowerSample | DeviceValue | DeviceEvent
# Every record that flows to storage: the one union of them.
Record = RoundRecord | StateChange | DeviceRecord | IncidentRecord | ReadinessRecord | OutboxRecord
