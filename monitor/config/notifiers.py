"""`[[notifiers]]`: the receivers, each kind's settings read from its dataclass.

`alerts.notifiers.NOTIFIERS` is the one list of kinds (SETTINGS is read from it). A kind's
settings are read generically: a field's type says how (str, int, bool, a
float duration, Secret, tuple of str), `metadata["key"]` renames it in the
file. Then a few checks per kind that no type can say (URLs, addresses).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from email.utils import parseaddr
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Final, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

from alerts.notifiers import SETTINGS, kind_of
from alerts.notifiers import validate as validate_settings
from alerts.notifiers.alertmanager import AlertmanagerSettings
from alerts.notifiers.chat import ChatSettings
from alerts.notifiers.email import EmailSettings
from alerts.notifiers.telegram import TelegramSettings
from alerts.notifiers.webhook import WebhookSettings
from monitor.config.problems import BadValueError, describe, suggestion
from monitor.config.reader import Reader, claim, item_name
from monitor.config.values import (
    address,
    any_number,
    boolean,
    choice,
    duration,
    identifier,
    integer,
    nonempty_text,
)
from monitor.model.alerting import LANGUAGES, LOG_NOTIFIER_ID, NotifierConfig, log_notifier
from monitor.model.notifiers import NotifierSettings
from monitor.model.secrets import Secret, WithheldSecret

COMMON_KEYS: Final = ("id", "kind", "language")
CHAT_FLAVOURS: Final = ("slack", "mattermost")
HTTP_SCHEMES: Final = ("http", "https")
ARRAY_EXAMPLE = '["one", "two"]'
# what an address of `from` and `to` must look like once parsed ("NOC <noc@x>" is fine)
_MAILBOX = re.compile(r'[^@\s<>"]+@[^@\s<>"]+')
_SCALARS: Final[dict[object, Callable[[object], object]]] = {
    str: nonempty_text,
    int: integer(),
    bool: boolean,
}


# --------------------------------------------------------------------------
# settings, generically


def setting_key(f: dataclasses.Field[Any]) -> str:
    """The key in the file: the field's name, or `metadata["key"]` (`from` for `sender`)."""
    return str(f.metadata.get("key", f.name))


def is_required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def without_none(hint: object) -> object:
    """`Secret` for `Secret | None`: an optional field reads like a required one."""
    if get_origin(hint) in (Union, UnionType):
        rest = [arg for arg in get_args(hint) if arg is not NoneType]
        if len(rest) == 1:
            return rest[0]
    return hint


def scalar_parser(hint: object, f: dataclasses.Field[Any]) -> Callable[[object], object]:
    if hint is float:
        return duration() if f.metadata.get("duration") else any_number
    if hint in _SCALARS:
        return _SCALARS[hint]
    raise TypeError(f"no way to read the setting {f.name} of type {hint!r}")


def read_setting(r: Reader, f: dataclasses.Field[Any], hint: object) -> object | None:
    """One field's value from the file, or None when absent or invalid."""
    key = setting_key(f)
    required = is_required(f)
    if hint is Secret:
        return r.secret(key, required=required)
    if hint == tuple[str, ...]:
        values = r.array(key, nonempty_text, ARRAY_EXAMPLE)
        if values is None and required:
            r.problem(key, "is required")
        return None if values is None else tuple(values)
    return r.get(key, scalar_parser(hint, f), required=required)


def settings_keys(kind: type[NotifierSettings]) -> list[str]:
    return [*COMMON_KEYS, *(setting_key(f) for f in dataclasses.fields(kind))]


def read_settings(r: Reader, kind: type[NotifierSettings]) -> NotifierSettings | None:
    """The kind's settings dataclass, or None when a required field is missing or bad."""
    hints = get_type_hints(kind)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(kind):
        value = read_setting(r, f, without_none(hints[f.name]))
        if value is not None:
            values[f.name] = value
    if any(is_required(f) and f.name not in values for f in dataclasses.fields(kind)):
        return None
    return kind(**values)


def refuse_unknown_settings(r: Reader, kind: str, known: Sequence[str]) -> None:
    """Like `Reader.done()`, but the keys allowed are the kind's (a webhook has no `to`)."""
    for key in r.table:
        if key in known:
            continue
        close = suggestion(key, known)
        if close:
            r.problem(key, f'unknown key; did you mean "{close}"?')
        else:
            listed = ", ".join(f'"{k}"' for k in known)
            r.problem(key, f"unknown key; a {kind} notifier takes {listed}")


# --------------------------------------------------------------------------
# checks by kind


def url_problem(value: str) -> str | None:
    """Why `value` is no http(s) URL; the value itself is never shown (it may hold a token)."""
    try:
        parts = urlsplit(value)
        _ = parts.port  # a port that is no number, or above 65535, raises only when read
        usable = parts.scheme in HTTP_SCHEMES and bool(parts.hostname)
    except ValueError:
        usable = False
    if usable:
        return None
    return (
        'expected an http:// or https:// URL with a host, like "https://hooks.example.org/x" '
        "(the value is not shown: it may hold a token)"
    )


def check_url(r: Reader, key: str, value: str) -> None:
    message = url_problem(value)
    if message is not None:
        r.problem(key, message)


def mailbox_problem(value: str) -> str | None:
    if _MAILBOX.fullmatch(parseaddr(value)[1]):
        return None
    return (
        'expected an e-mail address like "noc@example.org" or "NOC <noc@example.org>", '
        f"got {describe(value)}"
    )


def check_mailboxes(r: Reader, s: EmailSettings) -> None:
    for key, value in [("from", s.sender), *((f"to[{i}]", to) for i, to in enumerate(s.to))]:
        message = mailbox_problem(value)
        if message is not None:
            r.problem(key, message)
    if "to" not in r.table:
        r.problem("to", 'is required: the recipients, like ["noc@example.org"]')
    elif r.table["to"] == []:
        r.problem("to", "at least one address is required")


def check_login(r: Reader, s: EmailSettings) -> None:
    """username and password go together, and a password never crosses in clear."""
    if s.password is not None and s.username is None:
        r.problem("username", "is required when password is set")
    if s.username is not None and "password" not in r.table:
        r.problem("password", "is required when username is set (write it as ${NAME})")
    if s.password is not None and not s.starttls:
        r.problem(
            "starttls",
            "must be true when password is set: the password would cross the network in clear",
        )


def check_email(r: Reader, s: EmailSettings) -> EmailSettings:
    """Addresses, the server, credentials that go together, and the CA file."""
    check_mailboxes(r, s)
    try:
        address(s.host)
    except BadValueError as exc:
        r.problem("host", str(exc))
    check_login(r, s)
    if not 1 <= s.port <= 65535:
        r.problem("port", f"expected an integer from 1 to 65535, got {s.port}")
    if s.ca_file is None:
        return s
    # a relative path is the file's neighbour, whatever directory examnet runs in
    ca_file = Path(r.ctx.file).parent / s.ca_file
    if not ca_file.is_file():
        r.problem(
            "ca_file",
            f"expected an existing file, got {describe(s.ca_file)} (a relative path is read "
            "from the directory of this file)",
        )
    return dataclasses.replace(s, ca_file=str(ca_file))


def check_kind(r: Reader, settings: NotifierSettings) -> NotifierSettings:
    """What a kind's field types cannot say; returns the settings with paths resolved."""
    if isinstance(settings, WebhookSettings | AlertmanagerSettings):
        check_url(r, "url", settings.url)
    elif isinstance(settings, TelegramSettings):
        check_url(r, "api_url", settings.api_url)
    elif isinstance(settings, ChatSettings):
        if not isinstance(settings.url, WithheldSecret):
            check_url(r, "url", settings.url.reveal())
        try:
            choice(CHAT_FLAVOURS)(settings.flavour)
        except BadValueError as exc:
            r.problem("flavour", str(exc))
    elif isinstance(settings, EmailSettings):
        return check_email(r, settings)
    return settings


# --------------------------------------------------------------------------
# [[notifiers]]


def notifier_kind(value: object) -> str:
    """One of SETTINGS; "slack" or "mattermost" is the chat kind's flavour, and says so."""
    if isinstance(value, str) and value in CHAT_FLAVOURS:
        listed = ", ".join(f'"{kind}"' for kind in SETTINGS)
        raise BadValueError(
            f'expected one of {listed}, got "{value}" '
            f'(for {value}, write kind = "chat" and flavour = "{value}")'
        )
    return choice(tuple(SETTINGS))(value)


def check_with_kind(r: Reader, settings: NotifierSettings) -> None:
    """The notifier's own validate(): what examnet will check at start, checked now.

    The checks above say everything it does, in the file's terms; this is
    the net that makes a notifier that would not start a load error.
    """
    for message in validate_settings(settings):
        r.problem(None, f"the {kind_of(settings)} notifier refuses these settings: {message}")


def read_notifier(r: Reader, language: str) -> NotifierConfig | None:
    ident = r.get("id", identifier, required=True)
    if ident == LOG_NOTIFIER_ID:
        r.problem(
            "id",
            f'"{LOG_NOTIFIER_ID}" is the built-in notifier (kind log), always available '
            "without being declared; give this one another id",
        )
    kind = r.get("kind", notifier_kind, required=True)
    language = r.opt("language", choice(LANGUAGES), language)
    if kind is None:
        return None  # which other keys belong here depends on the kind
    count_before = r.ctx.reported
    settings = read_settings(r, SETTINGS[kind])
    refuse_unknown_settings(r, kind, settings_keys(SETTINGS[kind]))
    if settings is not None:
        settings = check_kind(r, settings)
    if settings is not None and r.ctx.reported == count_before:
        check_with_kind(r, settings)
    if ident is None or ident == LOG_NOTIFIER_ID or settings is None:
        return None
    return NotifierConfig(id=ident, kind=kind, settings=settings, language=language)


def read_notifiers(root: Reader, language: str) -> tuple[list[NotifierConfig], set[str]]:
    """The built-in `log` and the declared notifiers, and every id routes may name.

    The ids include those of notifiers with problems, so a route naming one
    is not blamed for them.
    """
    notifiers = [log_notifier(language)]
    taken: dict[str, str] = {}
    for index, table in root.tables("notifiers"):
        where = f"notifiers[{index}]"
        r = Reader(root.ctx, table, item_name("notifier", table, where))
        notifier = read_notifier(r, language)
        ident = table.get("id")
        if not isinstance(ident, str) or ident == LOG_NOTIFIER_ID:
            continue
        if claim(r, taken, ident, where) and notifier is not None:
            notifiers.append(notifier)
    return notifiers, {LOG_NOTIFIER_ID, *taken}
