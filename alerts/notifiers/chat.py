"""A Slack or Mattermost incoming webhook: `text`, and one coloured attachment.

Both accept Slack's message format (`text`, `attachments` with `color`,
`fallback`, `text`); Mattermost also takes `username`. The webhook URL is
the credential, so errors show only its scheme and host.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any, ClassVar

from alerts import http
from alerts.model import Notification
from alerts.notifiers import text
from monitor.model.notifiers import DEFAULT_TIMEOUT, duration
from monitor.model.secrets import Secret


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """An incoming-webhook URL of Slack or Mattermost (the URL itself is the secret)."""

    url: Secret
    flavour: str = "slack"  # slack | mattermost
    timeout: float = duration(DEFAULT_TIMEOUT)


FLAVOURS = ("slack", "mattermost")
COLOURS = {"critical": "danger", "warning": "warning", "resolved": "good"}
# Shorter paths are not secret enough to be worth hiding (and "/" is everywhere).
SECRET_PATH_MIN = 8


def validate(settings: ChatSettings) -> list[str]:
    problems = http.check_url(settings.url.reveal())
    if settings.flavour not in FLAVOURS:
        problems.append(f"flavour must be one of {', '.join(FLAVOURS)}, not {settings.flavour!r}")
    if settings.timeout <= 0:
        problems.append("timeout must be positive")
    return problems


def slack_escape(value: str) -> str:
    """Slack reads &, < and > as markup (its "formatting" docs): escape them."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(notification: Notification, flavour: str, zone: tzinfo = UTC) -> dict[str, Any]:
    escape = slack_escape if flavour == "slack" else str
    headline = text.headline(notification)
    attachment = {
        "fallback": headline,
        "color": COLOURS.get(text.severity(notification), "#439FE0"),
        "text": escape(text.body(notification, zone=zone)),
    }
    found: dict[str, Any] = {"text": escape(headline), "attachments": [attachment]}
    if flavour == "mattermost":
        found["username"] = "examnet"
    return found


def secrets_of(url: str) -> list[str]:
    path = urllib.parse.urlsplit(url).path
    return [url, path] if len(path) >= SECRET_PATH_MIN else [url]


class ChatNotifier:
    kind: ClassVar[str] = "chat"

    def __init__(self, settings: ChatSettings, language: str, zone: tzinfo = UTC) -> None:
        self.settings = settings
        self.language = language
        self.zone = zone  # the plan's: times in the text are shown in it

    def render(self, notification: Notification) -> http.HttpRequest:
        url = self.settings.url.reveal()
        return http.json_request(
            url,
            payload(
                text.in_language(notification, self.language), self.settings.flavour, self.zone
            ),
            timeout=self.settings.timeout,
            shown_url=http.origin_only(url),
            secrets=secrets_of(url),
        )

    async def send(self, rendered: http.HttpRequest) -> None:
        await http.post(rendered)
