"""What each receiver kind needs in sites.toml: one frozen dataclass per kind.

The loader builds these from `[[notifiers]]` tables generically: a field's
type says how to read it (str, int, bool, Secret, tuple of str); a field
with `metadata={"duration": True}` reads a duration ("10s"); `key` in the
metadata renames it in the file (`from` is a Python keyword).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.model.secrets import Secret

DEFAULT_TIMEOUT = 10.0


def _duration(default: float) -> float:
    return field(default=default, metadata={"duration": True})


@dataclass(frozen=True, slots=True)
class LogSettings:
    """Notifications written to examnet's own log: the embedded default, no network."""


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """POST a JSON body (docs/alerting.md); signed with HMAC-SHA256 when `secret` is set."""

    url: str
    secret: Secret | None = None
    timeout: float = _duration(DEFAULT_TIMEOUT)


@dataclass(frozen=True, slots=True)
class AlertmanagerSettings:
    """Push to a Prometheus Alertmanager's v2 API (its base URL, e.g. http://127.0.0.1:9093)."""

    url: str
    timeout: float = _duration(DEFAULT_TIMEOUT)
    # firing alerts are pushed again this often, below Alertmanager's resolve_timeout
    # (5 min by default), so it never times out an alert that still fires
    refresh: float = _duration(60.0)


@dataclass(frozen=True, slots=True)
class EmailSettings:
    host: str
    sender: str = field(metadata={"key": "from"})
    to: tuple[str, ...] = ()
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password: Secret | None = None
    ca_file: str | None = None  # trust this CA for STARTTLS (default: the system's)
    timeout: float = _duration(20.0)


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    token: Secret
    chat_id: str
    api_url: str = "https://api.telegram.org"
    timeout: float = _duration(DEFAULT_TIMEOUT)


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """An incoming-webhook URL of Slack or Mattermost (the URL itself is the secret)."""

    url: Secret
    flavour: str = "slack"  # slack | mattermost
    timeout: float = _duration(DEFAULT_TIMEOUT)


NotifierSettings = (
    LogSettings
    | WebhookSettings
    | AlertmanagerSettings
    | EmailSettings
    | TelegramSettings
    | ChatSettings
)

# The one list of receiver kinds: the loader takes the allowed kinds from it.
SETTINGS: dict[str, type[NotifierSettings]] = {
    "log": LogSettings,
    "webhook": WebhookSettings,
    "alertmanager": AlertmanagerSettings,
    "email": EmailSettings,
    "telegram": TelegramSettings,
    "chat": ChatSettings,
}

_KIND_OF: dict[type[NotifierSettings], str] = {cls: kind for kind, cls in SETTINGS.items()}


def kind_of(settings: NotifierSettings) -> str:
    """The receiver kind of these settings (`webhook` for WebhookSettings, ...)."""
    try:
        return _KIND_OF[type(settings)]
    except KeyError:
        raise TypeError(f"no notifier for {type(settings).__name__}") from None
