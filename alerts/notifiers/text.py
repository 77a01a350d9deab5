"""The words the human-facing notifiers share: headline, one line per alert, times.

Pure functions of a notification. The language is the notification's own
(the router chose it for the receiver, and the outbox keeps it, so a
notification sent after a restart reads as it would have); a summary
missing in that language falls back to the other one. Times are shown in
the plan's zone, which the receiver's notifier is given when it is built.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, tzinfo

from alerts.model import Alert, Notification, Reason
from monitor.model.vocabulary import severity_rank

SUBJECT_LIMIT = 160
ELLIPSIS = "…"

_WORDS = {
    "vi": {
        "alerts": "cảnh báo",
        "firing": "Đang xảy ra",
        "resolved": "Đã hết",
        "since": "từ",
        "group": "Nhóm",
        "notification": "Mã thông báo",
        "escalated": "CHUYỂN CẤP",
        "rehearsal": "DIỄN TẬP",
        "incident": "sự cố",
    },
    "en": {
        "alerts": "alerts",
        "firing": "Firing",
        "resolved": "Resolved",
        "since": "since",
        "group": "Group",
        "notification": "Notification",
        "escalated": "ESCALATED",
        "rehearsal": "REHEARSAL",
        "incident": "incident",
    },
}


def in_language(notification: Notification, default: str) -> Notification:
    """The notification, in the receiver's `default` language when it names none."""
    if notification.language:
        return notification
    return replace(notification, language=default)


def words(language: str) -> dict[str, str]:
    return _WORDS.get(language, _WORDS["en"])


def summary_of(alert: Alert, language: str) -> str:
    """The alert's line in `language`, else in any language it has, else its labels."""
    if language in alert.summary:
        return alert.summary[language]
    for text in alert.summary.values():
        return text
    return ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())) or alert.fingerprint


def severity(notification: Notification) -> str:
    """The highest severity among the firing alerts ("resolved" when none fires)."""
    found = [a.labels.get("severity", "") for a in notification.firing]
    if not found:
        return "resolved"
    return max(found, key=severity_rank)


def tag(notification: Notification) -> str:
    """`[CRITICAL]`, `[RESOLVED]`, `[CRITICAL] [ESCALATED]`: what a subject line starts with.

    A drill's (`--rehearse`) starts `[REHEARSAL]`: whoever is paged must see
    at once that no exam site is really cut off.
    """
    text = f"[{(severity(notification) or 'alert').upper()}]"
    if notification.reason is Reason.ESCALATION:
        text += f" [{words(notification.language)['escalated']}]"
    if any(a.labels.get("rehearsal") for a in notification.alerts):
        text = f"[{words(notification.language)['rehearsal']}] {text}"
    return text


def headline(notification: Notification, limit: int = SUBJECT_LIMIT) -> str:
    """`[CRITICAL] 3 alerts: <first summary>`, or the one alert's summary when alone."""
    shown = notification.firing or notification.resolved
    first = summary_of(shown[0], notification.language) if shown else notification.group_key
    if len(shown) == 1:
        text = f"{tag(notification)} {first}"
    else:
        text = f"{tag(notification)} {len(shown)} {words(notification.language)['alerts']}: {first}"
    return shorten(one_line(text), limit)


def one_line(text: str) -> str:
    """Runs of whitespace, line breaks included, as one space.

    A subject line holds one line: `email.message` refuses a header with a
    line break (header injection), and render() would then fail for good.
    """
    return " ".join(text.split())


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def when(moment: datetime, zone: tzinfo = UTC) -> str:
    """A time as people read it in a message: minutes in the plan's zone, its offset said.

    `2027-06-03 07:30 +07:00`; in UTC, `2027-06-03 00:30 UTC`.
    """
    if zone is UTC:
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.isoformat()[-6:]}"


def alert_line(alert: Alert, language: str, zone: tzinfo = UTC) -> str:
    """`- <summary> (since 07:30)` or `- <summary> (07:30 → 07:52)`."""
    if alert.ends_at is None:
        period = f"{words(language)['since']} {when(alert.starts_at, zone)}"
    else:
        period = f"{when(alert.starts_at, zone)} → {when(alert.ends_at, zone)}"
    line = f"- {summary_of(alert, language)} ({period})"
    if alert.incident_id is not None:
        line += f" [{words(language)['incident']} #{alert.incident_id}]"
    return line


def sections(notification: Notification, *, details: bool = False, zone: tzinfo = UTC) -> list[str]:
    """Firing alerts, then resolved ones, each under its heading (details indented)."""
    language = notification.language
    lines: list[str] = []
    for name, alerts in (("firing", notification.firing), ("resolved", notification.resolved)):
        if not alerts:
            continue
        lines.append(f"{words(language)[name]} ({len(alerts)}):")
        for alert in alerts:
            lines.append(alert_line(alert, language, zone))
            if details:
                lines.extend(f"    {k}: {v}" for k, v in sorted(alert.details.items()))
    return lines


def body(notification: Notification, *, details: bool = False, zone: tzinfo = UTC) -> str:
    """The plain-text message: sections, then the group and the notification id."""
    language = notification.language
    group = ", ".join(f"{k}={v}" for k, v in sorted(notification.group_labels.items()))
    footer = [f"{words(language)['group']}: {group or notification.group_key}",
              f"{words(language)['notification']}: {notification.id}"]  # fmt: skip
    lines = sections(notification, details=details, zone=zone)
    return "\n".join([*lines, "", *footer]) + "\n"


def moment(value: datetime | None) -> str | None:
    """An ISO 8601 UTC time with `Z`, as JSON receivers expect (RFC 3339)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
