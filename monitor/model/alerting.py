"""Alerting as sites.toml declares it: `[alerting]`, `[[notifiers]]`, `[[routes]]`, `[[silences]]`.

Frozen values on `Inventory`; `monitor.config` builds them once, with every
default resolved (a route carries its own timers). Times are in seconds.
The receiver kinds and their settings are `monitor.model.notifiers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from monitor.model.matchers import Matcher, matches_all
from monitor.model.notifiers import LogSettings, NotifierSettings

# the languages of summaries (alerts/phrases.py has every phrase in each)
LANGUAGES: Final[tuple[str, ...]] = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
# Alertmanager's own defaults for the three timers, so its users find theirs.
DEFAULT_GROUP_WAIT = 30.0
DEFAULT_GROUP_INTERVAL = 300.0
DEFAULT_REPEAT_INTERVAL = 14_400.0
# an unacknowledged critical alert during an exam session goes to the route's
# escalate_to receiver after this long.
DEFAULT_ESCALATE_AFTER = 600.0
# a notification still undelivered this long after it was written is given up.
DEFAULT_OUTBOX_EXPIRE = 86_400.0
# alerts of one cause (an endpoint and the sites behind it) share the `group` label.
DEFAULT_GROUP_BY: Final[tuple[str, ...]] = ("group",)
# Every label an alert may carry (alerts/rules.py `labels_for`, held to this by a
# test): matchers and group_by may name only these, so a misspelt label is a
# load error rather than a route that never (or always) matches. A label an
# alert does not have reads as "" (`link` on a site's alert, `session` outside one).
ALERT_LABELS: Final[tuple[str, ...]] = (
    "kind",  # the condition: down, isolated, endpoint_down, ... (ConditionKind)
    "severity",  # info, warning, critical
    "phase",  # before, during, after, outside
    "session",  # the exam session it touched, by name
    "group",  # the cause it shares with others, else the incident itself
    "subject",  # link:SITE/LINK, endpoint:ID, device:OWNER/ID, a site id, examnet
    "subject_kind",  # target, site, device, power, monitor, readiness
    "site",
    "district",
    "carrier",  # the link's or endpoint's; for a site, the carriers it lost
    "link",
    "endpoint",
    "device",  # OWNER/ID
    "rehearsal",  # the session `examnet run --rehearse` rehearses, "" in earnest
)

# The built-in receiver: examnet's own log, always there, never declared.
LOG_NOTIFIER_ID = "log"
LOG_KIND = "log"


@dataclass(frozen=True, slots=True)
class AlertingSettings:
    """`[alerting]`: the language of summaries, and the defaults of every route."""

    language: str = DEFAULT_LANGUAGE
    group_wait: float = DEFAULT_GROUP_WAIT
    group_interval: float = DEFAULT_GROUP_INTERVAL
    repeat_interval: float = DEFAULT_REPEAT_INTERVAL
    escalate_after: float = DEFAULT_ESCALATE_AFTER
    outbox_expire: float = DEFAULT_OUTBOX_EXPIRE
    # not in the file: set by `--rehearse` (monitor.model.rehearsal.rehearsed), so
    # a drill's pages say so and routes can send them elsewhere
    rehearsal: str = ""


@dataclass(frozen=True, slots=True)
class NotifierConfig:
    """One receiver: its id (what routes name), its kind, and that kind's settings.

    `language` is resolved: the notifier's own, else `[alerting] language`.
    """

    id: str
    kind: str
    settings: NotifierSettings
    language: str = DEFAULT_LANGUAGE


@dataclass(frozen=True, slots=True)
class Route:
    """One `[[routes]]` entry: which alerts (all matchers match) go to which receivers.

    Routes are tried in order; the first that matches takes the alert, unless
    it has `continue_`, in which case the next ones are tried too.
    """

    receivers: tuple[str, ...]
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] = DEFAULT_GROUP_BY
    group_wait: float = DEFAULT_GROUP_WAIT
    group_interval: float = DEFAULT_GROUP_INTERVAL
    repeat_interval: float = DEFAULT_REPEAT_INTERVAL
    continue_: bool = False  # `continue` in the file
    escalate_to: str | None = None
    escalate_after: float = DEFAULT_ESCALATE_AFTER

    def matches(self, labels: Mapping[str, str]) -> bool:
        return matches_all(self.matchers, labels)


def default_route(alerting: AlertingSettings) -> Route:
    """The route of a file without [[routes]]: everything to the `log` notifier."""
    return Route(
        receivers=(LOG_NOTIFIER_ID,),
        group_wait=alerting.group_wait,
        group_interval=alerting.group_interval,
        repeat_interval=alerting.repeat_interval,
        escalate_after=alerting.escalate_after,
    )


DEFAULT_ROUTE: Final = default_route(AlertingSettings())


@dataclass(frozen=True, slots=True)
class SilenceConfig:
    """A silence planned in the file (carrier maintenance): who, why, when, what.

    Silenced alerts still make incidents; only their notifications are held.
    """

    id: str
    matchers: tuple[Matcher, ...]
    start: datetime
    end: datetime
    by: str
    comment: str

    def active(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def matches(self, labels: Mapping[str, str]) -> bool:
        return matches_all(self.matchers, labels)


def log_notifier(language: str = DEFAULT_LANGUAGE) -> NotifierConfig:
    """The built-in `log` receiver."""
    return NotifierConfig(LOG_NOTIFIER_ID, LOG_KIND, LogSettings(), language)


def builtin_notifiers() -> tuple[NotifierConfig, ...]:
    """The notifiers of an inventory that declares none."""
    return (log_notifier(),)
