"""`[alerting]`, `[[routes]]` and `[[silences]]`: where alerts go, when, and when not.

Routes inherit the timers of `[alerting]` at load, so each carries its own.
Matchers are Alertmanager's (`monitor.model.matchers`), parsed once here; they and
`group_by` may name only the labels alerts carry (`ALERT_LABELS`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Final

from monitor.config.problems import (
    BadValueError,
    describe,
    duration_text,
    known_text,
    moment_text,
    suggestion,
)
from monitor.config.reader import Reader, claim, item_name
from monitor.config.values import boolean, choice, duration, identifier, nonempty_text, text
from monitor.model.alerting import (
    ALERT_LABELS,
    DEFAULT_GROUP_BY,
    LANGUAGES,
    LOG_NOTIFIER_ID,
    AlertingSettings,
    NotifierConfig,
    Route,
    SilenceConfig,
    default_route,
)
from monitor.model.matchers import Matcher, is_label_name, parse_matcher

MATCHERS_EXAMPLE: Final = """['severity="critical"', 'carrier=~"viettel|vnpt"']"""
RECEIVERS_EXAMPLE: Final = '["log"]'
GROUP_BY_EXAMPLE: Final = '["group", "carrier"]'
TIMERS: Final = ("group_wait", "group_interval", "repeat_interval")


def known_label(name: str) -> str:
    """A label alerts carry; any other name is a mistake (it would read as "" on every alert)."""
    if name in ALERT_LABELS:
        return name
    close = suggestion(name, ALERT_LABELS)
    hint = f'did you mean "{close}"? ' if close else ""
    raise BadValueError(
        f'alerts carry no label "{name}"; {hint}they carry: {", ".join(ALERT_LABELS)}'
    )


def matcher(value: object) -> Matcher:
    try:
        found = parse_matcher(text(value))
    except ValueError as exc:
        raise BadValueError(str(exc)) from None
    known_label(found.name)
    return found


def label_name(value: object) -> str:
    if isinstance(value, str) and is_label_name(value):
        return known_label(value)
    raise BadValueError(
        "expected a label name of letters, digits and '_', not starting with a digit, "
        f"got {describe(value)}"
    )


def read_matchers(r: Reader, *, required: bool) -> tuple[Matcher, ...]:
    """`matchers`: every one must match; none at all matches every alert."""
    matchers = r.array("matchers", matcher, MATCHERS_EXAMPLE)
    if required and not r.table.get("matchers"):
        r.problem("matchers", "at least one matcher is required")
    return tuple(matchers or ())


def check_intervals(
    r: Reader, settings: AlertingSettings | Route, set_here: Collection[str]
) -> None:
    """group_interval <= repeat_interval, blamed on what this level sets."""
    group, repeat = settings.group_interval, settings.repeat_interval
    if group <= repeat or not set_here:
        return
    if "group_interval" in set_here:
        r.problem(
            "group_interval",
            f"expected at most repeat_interval ({duration_text(repeat)}), "
            f"got {duration_text(group)}",
        )
    else:
        r.problem(
            "repeat_interval",
            f"expected at least group_interval ({duration_text(group)}), "
            f"got {duration_text(repeat)}",
        )


# --------------------------------------------------------------------------
# [alerting]


def read_alerting(root: Reader) -> AlertingSettings:
    r = root.section("alerting")
    if r is None:
        return AlertingSettings()
    default = AlertingSettings()
    settings = AlertingSettings(
        language=r.opt("language", choice(LANGUAGES), default.language),
        group_wait=r.opt("group_wait", duration(zero=True), default.group_wait),
        group_interval=r.opt("group_interval", duration(), default.group_interval),
        repeat_interval=r.opt("repeat_interval", duration(), default.repeat_interval),
        escalate_after=r.opt("escalate_after", duration(), default.escalate_after),
        outbox_expire=r.opt("outbox_expire", duration(), default.outbox_expire),
    )
    r.done()
    check_intervals(r, settings, [key for key in TIMERS if key in r.table])
    return settings


# --------------------------------------------------------------------------
# [[routes]]


def notifier_id(known: Collection[str]) -> Callable[[object], str]:
    def parse(value: object) -> str:
        wanted = nonempty_text(value)
        if wanted not in known:
            raise BadValueError(f'no notifier "{wanted}" ({known_text(known, wanted)})')
        return wanted

    return parse


def read_receivers(r: Reader, known: Collection[str]) -> tuple[str, ...]:
    receivers = r.array("receivers", notifier_id(known), RECEIVERS_EXAMPLE)
    if r.table.get("receivers") is None:
        r.problem("receivers", "is required")
    elif r.table.get("receivers") == []:
        r.problem("receivers", "at least one receiver is required")
    seen: list[str] = []
    for index, receiver in enumerate(receivers or ()):
        if receiver in seen:
            r.problem(f"receivers[{index}]", f'notifier "{receiver}" is listed twice')
        else:
            seen.append(receiver)
    return tuple(seen)


def read_escalation(r: Reader, known: Collection[str]) -> str | None:
    escalate_to = r.ref("escalate_to", "notifier", known, required=False)
    if r.has("escalate_after") and not r.has("escalate_to"):
        r.problem(
            "escalate_after",
            "has no effect without escalate_to (the notifier to escalate to); "
            "add escalate_to or remove escalate_after",
        )
    return escalate_to


def read_route(r: Reader, alerting: AlertingSettings, known: Collection[str]) -> Route | None:
    count_before = r.ctx.reported
    matchers = read_matchers(r, required=False)
    receivers = read_receivers(r, known)
    group_by = r.array("group_by", label_name, GROUP_BY_EXAMPLE)
    route = Route(
        receivers=receivers,
        matchers=matchers,
        group_by=DEFAULT_GROUP_BY if group_by is None else tuple(group_by),
        group_wait=r.opt("group_wait", duration(zero=True), alerting.group_wait),
        group_interval=r.opt("group_interval", duration(), alerting.group_interval),
        repeat_interval=r.opt("repeat_interval", duration(), alerting.repeat_interval),
        continue_=r.opt("continue", boolean, False),
        escalate_to=read_escalation(r, known),
        escalate_after=r.opt("escalate_after", duration(), alerting.escalate_after),
    )
    r.done()
    check_intervals(r, route, [key for key in TIMERS if key in r.table])
    return route if r.ctx.reported == count_before else None


def read_routes(root: Reader, alerting: AlertingSettings, known: Collection[str]) -> list[Route]:
    """The routes in file order; none in the file: everything to the `log` notifier."""
    entries = root.tables("routes")
    if root.raw("routes") in (None, []):
        return [default_route(alerting)]
    routes: list[Route] = []
    for index, table in entries:
        route = read_route(Reader(root.ctx, table, f"routes[{index}]"), alerting, known)
        if route is not None:
            routes.append(route)
    check_reachable(root, entries)
    warn_catch_all(root, routes)
    return routes


def check_reachable(root: Reader, entries: Sequence[tuple[int, Mapping[str, object]]]) -> None:
    """A route without matchers nor `continue` takes every alert: any after it is dead."""
    for position, (index, table) in enumerate(entries):
        if table.get("matchers") or table.get("continue") is True:
            continue
        later = [f"routes[{i}]" for i, _ in entries[position + 1 :]]
        if later:
            root.ctx.add(
                f"routes[{index}]",
                "matchers",
                "none, and no continue = true: this route takes every alert, so "
                f"{', '.join(later)} after it {'is' if len(later) == 1 else 'are'} never "
                "reached (put it last, or add continue = true)",
            )
        return


def warn_catch_all(root: Reader, routes: Sequence[Route]) -> None:
    """Alertmanager's root route takes what no other does; here nothing does unless written."""
    if routes and all(route.matchers for route in routes):
        root.ctx.warn(
            None,
            "routes",
            "no route without matchers: an alert that no route matches reaches no notifier "
            '(end with one like receivers = ["log"])',
        )


def warn_unused(root: Reader, notifiers: Sequence[NotifierConfig], routes: Sequence[Route]) -> None:
    """A declared notifier no route names receives nothing: probably a route left out."""
    named = {ident for route in routes for ident in (*route.receivers, route.escalate_to)}
    for notifier in notifiers:
        if notifier.id != LOG_NOTIFIER_ID and notifier.id not in named:
            root.ctx.warn(
                f'notifier "{notifier.id}"',
                None,
                "no route names it (in receivers or escalate_to): it receives nothing",
            )


# --------------------------------------------------------------------------
# [[silences]]


def read_silence(r: Reader) -> SilenceConfig | None:
    ident = r.get("id", identifier, required=True)
    matchers = read_matchers(r, required=True)
    start = r.moment("start")
    end = r.moment("end")
    by = r.get("by", nonempty_text, required=True)
    comment = r.get("comment", nonempty_text, required=True)
    r.done()
    if start is not None and end is not None and end <= start:
        r.problem(
            "end", f"expected a time after start ({moment_text(start)}), got {moment_text(end)}"
        )
        return None
    if ident is None or not matchers or start is None or end is None:
        return None
    if by is None or comment is None:
        return None
    return SilenceConfig(ident, matchers, start, end, by=by, comment=comment)


def read_silences(root: Reader) -> list[SilenceConfig]:
    silences: list[SilenceConfig] = []
    taken: dict[str, str] = {}
    for index, table in root.tables("silences"):
        where = f"silences[{index}]"
        r = Reader(root.ctx, table, item_name("silence", table, where))
        silence = read_silence(r)
        ident = table.get("id")
        if isinstance(ident, str) and claim(r, taken, ident, where) and silence is not None:
            silences.append(silence)
    return silences
