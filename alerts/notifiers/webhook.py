"""A generic webhook: examnet's JSON document, POSTed and signed (docs/alerting.md).

The body is the notification as data, both languages included, so the
receiver chooses what to show. `X-Examnet-Notification` carries its id:
a retry after a lost answer sends the same id, and the receiver drops it.
With a secret, `X-Examnet-Signature: sha256=<hex>` is the HMAC-SHA256 of the
exact body bytes (GitHub's scheme), so the receiver can check who sent it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import UTC, tzinfo
from typing import Any, ClassVar

from alerts import http
from alerts.model import Alert, Notification
from alerts.notifiers import text
from monitor.model.notifiers import DEFAULT_TIMEOUT, duration
from monitor.model.secrets import Secret


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """POST a JSON body (docs/alerting.md); signed with HMAC-SHA256 when `secret` is set."""

    url: str
    secret: Secret | None = None
    timeout: float = duration(DEFAULT_TIMEOUT)


VERSION = "1"
NOTIFICATION_HEADER = "X-Examnet-Notification"
SIGNATURE_HEADER = "X-Examnet-Signature"


def validate(settings: WebhookSettings) -> list[str]:
    problems = http.check_url(settings.url)
    if settings.secret is not None and not settings.secret.reveal():
        # an empty HMAC key signs, but proves nothing: anyone can sign with it
        problems.append("secret is empty (leave it out for unsigned requests)")
    if settings.timeout <= 0:
        problems.append("timeout must be positive")
    return problems


def document(notification: Notification) -> dict[str, Any]:
    """The JSON body, field by field as docs/alerting.md describes it (a report: `report`)."""
    n = notification
    found = {
        "version": VERSION,
        "id": n.id,
        "receiver": n.receiver,
        "status": n.status,
        "reason": str(n.reason),
        "group_key": n.group_key,
        "group_labels": dict(n.group_labels),
        "created_at": text.moment(n.created_at),
        "language": n.language,
        "alerts": [_alert(a) for a in n.alerts],
    }
    if n.report is not None:
        found["report"] = dict(n.report)
    return found


def _alert(alert: Alert) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "status": "firing" if alert.firing else "resolved",
        "labels": dict(alert.labels),
        "summary": dict(alert.summary),
        "starts_at": text.moment(alert.starts_at),
        "ends_at": text.moment(alert.ends_at),
        "incident_id": alert.incident_id,
        "details": dict(alert.details),
    }


def signature(body: bytes, secret: str) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    kind: ClassVar[str] = "webhook"

    def __init__(self, settings: WebhookSettings, language: str, zone: tzinfo = UTC) -> None:
        self.settings = settings
        self.language = language  # zone: unused, JSON carries times in UTC (RFC 3339)

    def render(self, notification: Notification) -> http.HttpRequest:
        secret = self.settings.secret.reveal() if self.settings.secret is not None else None
        request = http.json_request(
            self.settings.url,
            document(text.in_language(notification, self.language)),
            timeout=self.settings.timeout,
            headers={NOTIFICATION_HEADER: notification.id},
            secrets=[secret] if secret else [],
        )
        if not secret:
            return request
        headers = {**request.headers, SIGNATURE_HEADER: signature(request.body, secret)}
        return replace(request, headers=headers)

    async def send(self, rendered: http.HttpRequest) -> None:
        await http.post(rendered)
