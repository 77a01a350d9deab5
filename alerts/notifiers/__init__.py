"""The registry of receiver kinds: settings in, a ready notifier out.

`NOTIFIERS` and `settings.SETTINGS` are the only two lists of kinds, and a
test holds them to the same keys and types. A settings value that does not
pass its kind's `validate()` is refused here (a load error, never a
notifier dropped with a warning).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from alerts.model import Notifier
from alerts.notifiers import alertmanager, chat, email, log, telegram, webhook
from monitor.model.notifiers import (
    AlertmanagerSettings,
    ChatSettings,
    EmailSettings,
    LogSettings,
    NotifierSettings,
    TelegramSettings,
    WebhookSettings,
    kind_of,
)


@dataclass(frozen=True, slots=True)
class Kind:
    """One receiver kind: its settings type, its checks and its notifier class."""

    settings: type[Any]
    validate: Callable[[Any], list[str]]
    notifier: Callable[[Any, str, tzinfo], Notifier]


NOTIFIERS: dict[str, Kind] = {
    "log": Kind(LogSettings, log.validate, log.LogNotifier),
    "webhook": Kind(WebhookSettings, webhook.validate, webhook.WebhookNotifier),
    "alertmanager": Kind(
        AlertmanagerSettings, alertmanager.validate, alertmanager.AlertmanagerNotifier
    ),
    "email": Kind(EmailSettings, email.validate, email.EmailNotifier),
    "telegram": Kind(TelegramSettings, telegram.validate, telegram.TelegramNotifier),
    "chat": Kind(ChatSettings, chat.validate, chat.ChatNotifier),
}


class InvalidNotifierError(ValueError):
    """Settings a notifier cannot work with; the message lists every problem."""


def validate(settings: NotifierSettings) -> list[str]:
    """Every problem with these settings, each a sentence naming the field."""
    return NOTIFIERS[kind_of(settings)].validate(settings)


def build(settings: NotifierSettings, language: str, zone: tzinfo = UTC) -> Notifier:
    """The notifier for these settings; raises InvalidNotifierError when they are unusable.

    `language` is the receiver's: the default for text a notification does
    not fix itself (a notification carries the language it was made in).
    `zone` is the plan's: the times a person reads are shown in it.
    """
    name = kind_of(settings)
    problems = NOTIFIERS[name].validate(settings)
    if problems:
        raise InvalidNotifierError(f"{name} notifier: " + "; ".join(problems))
    return NOTIFIERS[name].notifier(settings, language, zone)
