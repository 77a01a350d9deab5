"""Push to a Prometheus Alertmanager's v2 API, so its routes and on-call tools take over.

`POST /api/v2/alerts` with one entry per alert. Alertmanager identifies an
alert by its label set, so the labels are stable for the alert's life and
the words go in annotations. A firing alert is sent without `endsAt`:
Alertmanager then considers it resolved `resolve_timeout` (5 min by
default) after the last push, so examnet pushes what still fires again every
`refresh` (monitor.alerting), as Prometheus does. A resolved alert carries
its end.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any, ClassVar

from alerts import http
from alerts.model import Alert, Notification
from alerts.notifiers import text
from monitor.model.notifiers import DEFAULT_TIMEOUT, duration


@dataclass(frozen=True, slots=True)
class AlertmanagerSettings:
    """Push to a Prometheus Alertmanager's v2 API (its base URL, e.g. http://127.0.0.1:9093)."""

    url: str
    timeout: float = duration(DEFAULT_TIMEOUT)
    # firing alerts are pushed again this often, below Alertmanager's resolve_timeout
    # (5 min by default), so it never times out an alert that still fires
    refresh: float = duration(60.0)


API_PATH = "/api/v2/alerts"
# Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]* (the data model's rule).
_NOT_IN_NAME = re.compile(r"[^a-zA-Z0-9_]")


def validate(settings: AlertmanagerSettings) -> list[str]:
    problems = http.check_url(settings.url)
    if settings.timeout <= 0:
        problems.append("timeout must be positive")
    if settings.refresh < 1:
        problems.append("refresh must be at least 1s")
    return problems


def label_name(name: str) -> str:
    cleaned = _NOT_IN_NAME.sub("_", name)
    return f"_{cleaned}" if not cleaned or cleaned[0].isdigit() else cleaned


def labels(alert: Alert) -> dict[str, str]:
    """The alert's labels (empty values left out: Alertmanager treats them as absent)."""
    found = {label_name(k): v for k, v in alert.labels.items() if v}
    found["alertname"] = f"examnet_{label_name(alert.labels.get('kind') or 'alert')}"
    return found


def annotations_of(alert: Alert, language: str) -> dict[str, str]:
    """summary in the receiver's language; description: the other language and the details."""
    others = [v for k, v in sorted(alert.summary.items()) if k != language]
    details = [f"{k}: {v}" for k, v in sorted(alert.details.items())]
    found = {"summary": text.summary_of(alert, language)}
    if others or details:
        found["description"] = "\n".join(others + details)
    if alert.incident_id is not None:
        found["incident_id"] = str(alert.incident_id)
    return found


def entry(alert: Alert, language: str) -> dict[str, Any]:
    """One postableAlert of the v2 API."""
    item: dict[str, Any] = {
        "labels": labels(alert),
        "annotations": annotations_of(alert, language),
        "startsAt": text.moment(alert.starts_at),
    }
    if alert.ends_at is not None:
        item["endsAt"] = text.moment(alert.ends_at)
    return item


class AlertmanagerNotifier:
    kind: ClassVar[str] = "alertmanager"

    def __init__(self, settings: AlertmanagerSettings, language: str, zone: tzinfo = UTC) -> None:
        self.settings = settings
        self.language = language  # zone: unused, JSON carries times in UTC (RFC 3339)

    def render(self, notification: Notification) -> http.HttpRequest:
        language = notification.language or self.language
        payload = [entry(a, language) for a in notification.alerts]
        url = self.settings.url.rstrip("/") + API_PATH
        return http.json_request(url, payload, timeout=self.settings.timeout)

    async def send(self, rendered: http.HttpRequest) -> None:
        await http.post(rendered)

    # Refreshing (alerts.model): Alertmanager forgets an alert not pushed again
    @property
    def refresh_every(self) -> float:
        return self.settings.refresh

    async def refresh(self, notification: Notification) -> None:
        """Push what still fires again, so Alertmanager's resolve_timeout never ends it."""
        await asyncio.wait_for(self.send(self.render(notification)), self.settings.timeout + 5)
