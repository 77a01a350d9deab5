"""A Telegram bot: `POST {api_url}/bot<token>/sendMessage` with the chat and the text.

The token is part of the URL (Bot API), so the URL is never shown: errors
say `{api_url}/bot<secret>/sendMessage`, and the token is replaced in any
other text too. Plain text, no parse_mode: summaries need no escaping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import ClassVar

from alerts import http
from alerts.model import Notification
from alerts.notifiers import text
from monitor.model.notifiers import DEFAULT_TIMEOUT, duration
from monitor.model.secrets import Secret


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    token: Secret
    chat_id: str
    api_url: str = "https://api.telegram.org"
    timeout: float = duration(DEFAULT_TIMEOUT)


# sendMessage takes 1-4096 characters; a margin for the ellipsis.
TEXT_LIMIT = 4000


def validate(settings: TelegramSettings) -> list[str]:
    problems = http.check_url(settings.api_url, "api_url")
    if not settings.token.reveal():
        problems.append("token is empty")
    if not settings.chat_id:
        problems.append("chat_id is empty")
    if settings.timeout <= 0:
        problems.append("timeout must be positive")
    return problems


def message_text(notification: Notification, zone: tzinfo = UTC) -> str:
    whole = f"{text.headline(notification)}\n\n{text.body(notification, zone=zone)}"
    return text.shorten(whole, TEXT_LIMIT)


class TelegramNotifier:
    kind: ClassVar[str] = "telegram"

    def __init__(self, settings: TelegramSettings, language: str, zone: tzinfo = UTC) -> None:
        self.settings = settings
        self.language = language
        self.zone = zone  # the plan's: times in the text are shown in it

    def render(self, notification: Notification) -> http.HttpRequest:
        s = self.settings
        base = s.api_url.rstrip("/")
        token = s.token.reveal()
        payload = {
            "chat_id": s.chat_id,
            "text": message_text(text.in_language(notification, self.language), self.zone),
            "disable_web_page_preview": True,
        }
        return http.json_request(
            f"{base}/bot{token}/sendMessage",
            payload,
            timeout=s.timeout,
            shown_url=f"{http.hide_userinfo(base)}/bot{http.REDACTED}/sendMessage",
            secrets=[token],
        )

    async def send(self, rendered: http.HttpRequest) -> None:
        await http.post(rendered)
