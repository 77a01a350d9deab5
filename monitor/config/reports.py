"""`[[reports]]`: the plan's report, sent on a schedule through receivers (docs/sites-toml.md).

A receiver that takes alerts only is refused here, at load: Alertmanager
holds alert state, and chat and Telegram messages cannot carry a page.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import time
from typing import Final

from monitor.config.problems import BadValueError, describe
from monitor.config.reader import Reader, claim, item_name
from monitor.config.values import boolean, choice, duration, member, nonempty_text
from monitor.model.alerting import NotifierConfig
from monitor.model.reports import (
    DEFAULT_REPORT_DELAY,
    DEFAULT_REPORT_PHASES,
    REPORT_FORMATS,
    ScheduledReport,
)
from monitor.model.vocabulary import Phase

REPORT_KINDS: Final = ("webhook", "email", "log")  # receivers that can carry a report
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def clock_time(value: object) -> time:
    """A local time of day, "18:00"."""
    found = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise BadValueError(f'expected a time of day like "18:00", got {describe(value)}')
    return time(int(found[1]), int(found[2]))


def _phase(value: object) -> Phase:
    phase = member(Phase)(value)
    if phase is Phase.OUTSIDE:
        raise BadValueError('expected "before", "during" or "after", got "outside"')
    return phase


def read_reports(
    root: Reader, notifiers: Sequence[NotifierConfig], carriers: Collection[str]
) -> list[ScheduledReport]:
    found: list[ScheduledReport] = []
    taken: dict[str, str] = {}
    for index, table in root.tables("reports"):
        where = f"reports[{index}]"
        r = Reader(root.ctx, table, item_name("report", table, where, "name"))
        report = _read_report(r, notifiers, carriers)
        name = table.get("name")
        if isinstance(name, str) and claim(r, taken, name, where, "name") and report is not None:
            found.append(report)
    return found


def _read_report(
    r: Reader, notifiers: Sequence[NotifierConfig], carriers: Collection[str]
) -> ScheduledReport | None:
    name = r.get("name", nonempty_text, required=True)
    receivers = _receivers(r, notifiers)
    form = r.opt("format", choice(REPORT_FORMATS), "html")
    at = r.get("at", clock_time)
    phases = r.array("phases", _phase, '["during"]')
    after = r.opt("after_sessions", boolean, False)
    delay = r.opt("delay", duration(zero=True), DEFAULT_REPORT_DELAY)
    carrier = r.ref("carrier", "carrier", carriers, required=False)
    r.done()
    if at is None and not after and not r.has("at"):
        r.problem("at", 'a report needs at = "18:00" (daily) or after_sessions = true, or both')
    if r.has("phases") and not r.has("at"):
        r.problem("phases", "chooses the days of a daily report: it needs at")
    if name is None or not receivers or (at is None and not after):
        return None
    return ScheduledReport(
        name, tuple(receivers), form, at, tuple(phases or DEFAULT_REPORT_PHASES), after, delay,
        carrier,
    )  # fmt: skip


def _receivers(r: Reader, notifiers: Sequence[NotifierConfig]) -> list[str]:
    kinds = {n.id: n.kind for n in notifiers}
    wanted = r.array("receivers", nonempty_text, '["log"]')
    if wanted is None:
        if not r.has("receivers"):
            r.problem("receivers", "is required: the ids of the [[notifiers]] to send it to")
        return []
    if not wanted:
        r.problem("receivers", "is empty: name at least one receiver")
    good = []
    for index, ident in enumerate(wanted):
        if ident not in kinds:
            known = ", ".join(f'"{k}"' for k in sorted(kinds))
            r.problem(f"receivers[{index}]", f'no notifier "{ident}" (known: {known})')
        elif kinds[ident] not in REPORT_KINDS:
            r.problem(
                f"receivers[{index}]",
                f'"{ident}" (kind {kinds[ident]}) takes alerts only; a report goes to a '
                f"{', '.join(REPORT_KINDS)} receiver",
            )
        else:
            good.append(ident)
    return good
