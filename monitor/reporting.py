"""Scheduled reports in a running monitor: found due on the calendar tick, sent via the outbox.

Due times come from the calendar (`monitor.model.reports`), not from jobs of
their own: the scheduler's calendar tick (every 30 s, and at every session
boundary) asks what fell due since the last tick, so a stepped wall clock
neither loses a report nor sends it twice, and nothing is kept between
runs. At start-up the latest run due within a day is looked up in the
outbox by its notification id; a missed one is sent then, once: a monitor
down for three days sends one report, not a burst of them. A forward jump
of the clock likewise sends only the latest run due per report.

Producing a report reads the database and renders a page (seconds for a
large province): it runs in a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from datetime import datetime

from alerts.model import Notification, Reason
from monitor.model.clock import Clock
from monitor.model.inventory import Inventory
from monitor.model.reports import ReportRun, ScheduledReport, latest_run, runs_between
from monitor.storage import Store

log = logging.getLogger(__name__)

# (report, run, now) -> the notification's `report`: name, title, format, content, since, until
Produce = Callable[[ScheduledReport, ReportRun, datetime], dict[str, str]]


def notification_id(run: ReportRun, receiver: str) -> str:
    """Stable for a run and receiver: a restart finds it in the outbox; receivers drop repeats."""
    text = f"{run.report}|{run.due.isoformat()}|{receiver}"
    return "report-" + hashlib.sha256(text.encode()).hexdigest()[:24]


class Reports:
    def __init__(
        self,
        inventory: Inventory,
        store: Store,
        clock: Clock,
        produce: Produce,
        enqueue: Callable[[Notification], None],
    ) -> None:
        self.inventory = inventory
        self.store = store
        self.clock = clock
        self.produce = produce
        self.enqueue = enqueue
        self._checked: datetime | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def due(self, now: datetime) -> list[tuple[ScheduledReport, ReportRun]]:
        """The runs to send now: since the last tick (or the latest missed one at start)."""
        cal, zone = self.inventory.calendar, self.inventory.plan.timezone
        found = []
        for report in self.inventory.reports:
            if self._checked is None:
                latest = latest_run(report, cal, zone, now)
                runs = [] if latest is None else [latest]
            else:
                runs = runs_between(report, cal, zone, self._checked, now)[-1:]
            found += [(report, run) for run in runs]
        self._checked = now if self._checked is None else max(self._checked, now)
        return found

    def tick(self, now: datetime) -> None:
        """On the event loop, at each calendar tick: start sending what fell due."""
        for report, run in self.due(now):
            task = asyncio.create_task(self._send(report, run), name=f"report {report.name}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, report: ScheduledReport, run: ReportRun) -> None:
        try:
            ids = {r: notification_id(run, r) for r in report.receivers}
            known = await asyncio.to_thread(self.store.alerting.outbox_known, list(ids.values()))
            wanted = [r for r in report.receivers if ids[r] not in known]
            if not wanted:
                return
            now = self.clock.now()
            made = await asyncio.to_thread(self.produce, report, run, now)
            for receiver in wanted:
                self.enqueue(self._notification(ids[receiver], receiver, report, made, now))
            log.info("report %r due %s queued for %s", report.name, run.due.isoformat(),
                     ", ".join(wanted))  # fmt: skip
        except Exception:
            # A failure is a value: logged; the next due run is tried all the same.
            log.exception("report %r due %s could not be made", report.name, run.due.isoformat())

    def _notification(
        self, ident: str, receiver: str, report: ScheduledReport, made: dict[str, str],
        now: datetime,
    ) -> Notification:  # fmt: skip
        return Notification(
            id=ident,
            receiver=receiver,
            group_key=f"report:{report.name}",
            group_labels={"report": report.name},
            reason=Reason.REPORT,
            alerts=(),
            created_at=now,
            language=self.inventory.alerting.language,
            report=made,
        )

    async def stop(self) -> None:
        """Let reports being made finish (they only read and queue)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks))
