"""Alerts and notifications: the values that flow from incidents to receivers.

An alert is an incident as on-call sees it: labels to route and group on,
words to read. A notification is what one receiver gets for one group at
one moment; it is written to the outbox before anything is sent, and is
JSON-serialisable so a restart can send it later exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable


def fingerprint(subject_kind: str, subject: str, kind: str, started_at: datetime) -> str:
    """A stable id for an alert: the same incident always gives the same one."""
    text = f"{subject_kind}|{subject}|{kind}|{started_at.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Alert:
    fingerprint: str
    labels: dict[str, str]  # site, district, carrier, link, kind, severity, phase, session, ...
    summary: dict[str, str]  # language ("vi", "en") -> one line in plain words
    starts_at: datetime
    ends_at: datetime | None = None  # set when it resolved
    incident_id: int | None = None  # for `examnet ack`
    details: dict[str, str] = field(default_factory=dict)  # reason, affected sites, cause
    # how bad it is in this version (alerts.rules.gravity); compared, never shown
    gravity: tuple[int, ...] = ()

    @property
    def firing(self) -> bool:
        return self.ends_at is None


class Reason(StrEnum):
    """Why a notification goes out now."""

    NEW = "new"  # the group's first alerts (after group_wait)
    UPDATE = "update"  # alerts joined or resolved (after group_interval)
    REPEAT = "repeat"  # nothing changed, still firing (repeat_interval)
    RESOLVED = "resolved"  # everything in the group resolved
    ESCALATION = "escalation"  # unacknowledged and critical in a session, too long
    REPORT = "report"  # a scheduled report ([[reports]]), not an alert


@dataclass(frozen=True, slots=True)
class Notification:
    id: str  # unique; receivers may use it to drop a duplicate (X-Examnet-Notification)
    receiver: str
    group_key: str
    group_labels: dict[str, str]
    reason: Reason
    alerts: tuple[Alert, ...]  # the group's firing alerts, and those resolved since last time
    created_at: datetime
    language: str = "vi"
    # a scheduled report: {"name", "title", "format" (html|md), "content", "since", "until"}
    report: dict[str, str] | None = None

    @property
    def firing(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if a.firing)

    @property
    def resolved(self) -> tuple[Alert, ...]:
        return tuple(a for a in self.alerts if not a.firing)

    @property
    def status(self) -> str:
        if self.report is not None:
            return "report"
        return "firing" if self.firing else "resolved"

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=_default, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Notification:
        data = json.loads(text)
        alerts = tuple(_alert(a) for a in data.pop("alerts"))
        return cls(
            alerts=alerts,
            reason=Reason(data.pop("reason")),
            created_at=datetime.fromisoformat(data.pop("created_at")),
            **data,
        )


def _default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _alert(data: dict[str, Any]) -> Alert:
    ends = data.pop("ends_at")
    return Alert(
        starts_at=datetime.fromisoformat(data.pop("starts_at")),
        ends_at=None if ends is None else datetime.fromisoformat(ends),
        gravity=tuple(data.pop("gravity", ())),  # absent from notifications made before it
        **data,
    )


class DeliveryError(Exception):
    """A notification could not be delivered; `permanent` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Notifier(Protocol):
    """One receiver kind (webhook, alertmanager, email, telegram, chat).

    `render` is pure (a notification in, what goes on the wire out), so it is
    tested without a network; `send` delivers it or raises DeliveryError.
    Error messages never contain a secret (tokens, passwords, HMAC keys).
    """

    kind: ClassVar[str]

    def render(self, notification: Notification) -> Any: ...

    async def send(self, rendered: Any) -> None: ...


@runtime_checkable
class Refreshing(Notifier, Protocol):
    """A receiver that holds alert state examnet must keep in sync (Alertmanager).

    The alerting loop pushes it what still fires every `refresh_every`
    seconds: state, not a notification (no outbox; a failed push is made
    again at the next refresh). The loop asks the notifier whether it is
    one, never its settings' type.
    """

    @property
    def refresh_every(self) -> float: ...

    async def refresh(self, notification: Notification) -> None: ...
