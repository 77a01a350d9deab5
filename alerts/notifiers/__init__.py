"""The registry of receiver kinds: settings in, a ready notifier out.

`NOTIFIERS` is the one list of kinds: the loader (monitor.config.notifiers),
this factory and the documentation check (tests/unit/test_notifiers.py) all
read it. Each kind's module holds its settings dataclass, its `validate()`,
a pure `render()` and `send()`; a new kind is that module and one line here.
A settings value that does not pass its kind's `validate()` is refused here
(a load error, never a notifier dropped with a warning).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

from alerts.model import Notifier
from alerts.notifiers import alertmanager, chat, email, log, telegram, webhook
from monitor.model.notifiers import LogSettings, NotifierSettings


@dataclass(frozen=True, slots=True)
class Kind:
    """One receiver kind: its settings type, its checks and its notifier class."""

    settings: type[Any]
    validate: Callable[[Any], list[str]]
    notifier: Callable[[Any, str, tzinfo], Notifier]


NOTIFIERS: dict[str, Kind] = {
    "log": Kind(LogSettings, log.validate, log.LogNotifier),
    "webhook": Kind(webhook.WebhookSettings, webhook.validate, webhook.WebhookNotifier),
    "alertmanager": Kind(
        alertmanager.AlertmanagerSettings, alertmanager.validate, alertmanager.AlertmanagerNotifier
    ),
    "email": Kind(email.EmailSettings, email.validate, email.EmailNotifier),
    "telegram": Kind(telegram.TelegramSettings, telegram.validate, telegram.TelegramNotifier),
    "chat": Kind(chat.ChatSettings, chat.validate, chat.ChatNotifier),
}

# read from NOTIFIERS: each kind's settings type, and the kind of a settings value
SETTINGS: dict[str, type[Any]] = {name: kind.settings for name, kind in NOTIFIERS.items()}
_KIND_OF: dict[type[Any], str] = {kind.settings: name for name, kind in NOTIFIERS.items()}


def kind_of(settings: NotifierSettings) -> str:
    """The receiver kind of these settings (`webhook` for WebhookSettings, ...)."""
    try:
        return _KIND_OF[type(settings)]
    except KeyError:
        raise TypeError(f"no notifier for {type(settings).__name__}") from None


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
