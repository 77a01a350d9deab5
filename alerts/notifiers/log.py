"""Notifications written to examnet's own log: the embedded default, no network."""

from __future__ import annotations

import logging
from datetime import UTC, tzinfo
from typing import ClassVar

from alerts.model import Alert, Notification
from alerts.notifiers import text
from monitor.model.notifiers import LogSettings

log = logging.getLogger("examnet.alerts")


def validate(settings: LogSettings) -> list[str]:
    return []


class LogNotifier:
    """One log line per alert; logging cannot fail, so neither does this receiver."""

    kind: ClassVar[str] = "log"

    def __init__(self, settings: LogSettings, language: str, zone: tzinfo = UTC) -> None:
        self.settings = settings
        self.language = language
        self.zone = zone  # the plan's: times in the lines are shown in it

    def render(self, notification: Notification) -> list[str]:
        n = notification
        if n.report is not None:  # a line, not the page: the log is no place for a report
            r = n.report
            return [f"report {r['name']!r} ({r['format']}, {len(r['content'])} characters) to "
                    f"{n.receiver}: {r['title']}"]  # fmt: skip
        head = f"notification {n.id} to {n.receiver} ({n.reason}, group {n.group_key}):"
        language = n.language or self.language
        firing = [f"{head} firing: {self._line(a, language)}" for a in n.firing]
        resolved = [f"{head} resolved: {self._line(a, language)}" for a in n.resolved]
        return firing + resolved

    def _line(self, alert: Alert, language: str) -> str:
        return text.alert_line(alert, language, self.zone)[2:]  # without the "- "

    async def send(self, rendered: list[str]) -> None:
        for line in rendered:
            log.warning("%s", line)
