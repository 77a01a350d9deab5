"""The monitor's alerting: incidents become alerts, the engine's timers, the outbox.

Incidents come from the pipeline as they are stored; every second the
engine says which notifications are due; each is written to the outbox
(through the store's spool) before the outbox worker sends it. Silences and
acknowledgements are read back from the database every few seconds, so the
CLI and the HTTP API (other processes, other threads) take effect at once.

The words of an alert follow the incident while it fires; its resolution
quotes it at its worst (a site that lost two carriers and closed with both
back is not "resolved: 2/2 left"), with how long it lasted. Every timer runs
on the clock's monotonic time (the engine's, the outbox's, the loops here).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alerts.engine import AlertEngine, Group
from alerts.model import Alert, Notification, Notifier, Reason, Refreshing
from alerts.notifiers import build
from alerts.outbox import OutboxWorker
from alerts.rules import alert_for, group_of, incident_fingerprint
from alerts.templates import resolved_summaries
from monitor.evaluation import Evaluator
from monitor.model.calendar import session_at
from monitor.model.clock import Clock
from monitor.model.inventory import Inventory
from monitor.model.matchers import Matcher, parse_matcher
from monitor.model.records import IncidentRecord, OutboxRecord, SilenceRecord
from monitor.selfwatch import Health, SelfWatch
from monitor.storage import Store
from monitor.storage.alert_rows import StoredIncident

log = logging.getLogger("examnet.alerts")

FLUSH_EVERY = 1.0  # seconds between two looks at the groups' timers
RELOAD_EVERY = 5.0  # seconds between two reads of silences and acknowledgements
FILE_SILENCE_PREFIX = "file:"  # ids of silences planned in sites.toml, in the database


@dataclass(frozen=True, slots=True)
class ActiveSilence:
    id: str
    matchers: tuple[Matcher, ...]
    start: datetime
    end: datetime


class EvaluatorContext:
    """What the evaluator knows now, for the words of an alert."""

    def __init__(self, evaluator: Evaluator) -> None:
        self._evaluator = evaluator

    def carriers_up(self, site: str) -> tuple[str, ...]:
        verdict = self._evaluator.sites.get(site)
        return verdict.carriers_up if verdict is not None else ()


class Alerting:
    def __init__(
        self,
        inventory: Inventory,
        store: Store,
        evaluator: Evaluator,
        clock: Clock,
        *,
        registry: CollectorRegistry | None = None,
        health: Callable[[], Health] | None = None,
    ) -> None:
        self.inventory = inventory
        self.spool = store
        self.store = store.alerting
        self.clock = clock
        self.context = EvaluatorContext(evaluator)
        settings = inventory.alerting
        languages = {n.id: n.language for n in inventory.notifiers}
        self.engine = AlertEngine(
            inventory.routes,
            clock=clock,
            language_of=lambda receiver: languages.get(receiver, settings.language),
            in_session=lambda now: session_at(inventory.calendar, now) is not None,
        )
        self.notifiers: dict[str, Notifier] = {
            n.id: build(n.settings, n.language, inventory.plan.timezone)
            for n in inventory.notifiers
        }
        self.worker = OutboxWorker(
            self.store,
            self.notifiers,
            clock=clock,
            on_attempt=self._attempted,
            spool=self.spool.add,
        )
        self.health = health
        self.watch = SelfWatch(inventory, clock.now())
        self.outbox_counts: dict[tuple[str, str], int] = {}
        self._refreshed: dict[str, float] = {}  # receiver → monotonic time of its last refresh
        self.notifiers_language = languages
        self._carriers: dict[str, str] = {}  # fingerprint → its carrier label at first
        self._worst: dict[str, Alert] = {}  # fingerprint → its firing version at its worst
        self.silenced = 0
        self._bad_silences: set[str] = set()  # ids of stored silences refused, said once
        self._attempts: Counter | None = None
        self._send_seconds: Histogram | None = None
        if registry is not None:
            self._register(registry)

    # --- start-up -----------------------------------------------------------------

    def restore(self) -> None:
        """Silences from the file, what was told before a restart, what is open now."""
        now = self.clock.now()
        for s in self.inventory.silences:
            matchers = tuple(str(m) for m in s.matchers)
            record = SilenceRecord(
                f"{FILE_SILENCE_PREFIX}{s.id}", matchers, s.start, s.end, s.by, now, s.comment
            )
            self.store.add_silence(record)
        last = [Notification.from_json(row.notification) for row in self.store.outbox_latest()]
        self.engine.restore(last)
        for note in last:
            for told in note.firing:
                self._carriers.setdefault(told.fingerprint, told.labels.get("carrier", ""))
                self._worst.setdefault(told.fingerprint, told)
        open_now: set[str] = set()
        for stored in self.store.incident_rows(open_only=True):
            alert = self._steady(alert_for(stored.record, self.inventory, self.context, stored.id))
            open_now.add(alert.fingerprint)
            self.engine.update(self._restored(alert))
        self.engine.settle(open_now)
        self.reload()

    def _restored(self, alert: Alert) -> Alert:
        """An open incident's alert at start-up, worded as it was told.

        The evaluator knows no carrier up yet (it restored states, not
        rounds): words made now would say every carrier is lost. What was
        told stands until live rounds say more; an alert never told counts
        as the least grave version, so the first live one replaces it.
        """
        told = self._worst.get(alert.fingerprint)
        if told is not None:
            return replace(alert, summary=told.summary, gravity=told.gravity)
        alert = replace(alert, gravity=())
        self._worst[alert.fingerprint] = alert
        return alert

    # --- running -----------------------------------------------------------------

    def incident(self, record: IncidentRecord) -> None:
        """An incident opened, changed or closed (from the pipeline)."""
        alert = self._steady(alert_for(record, self.inventory, self.context))
        self.engine.update(self._at_worst(alert))

    def _at_worst(self, alert: Alert) -> Alert:
        """A resolved alert quotes its worst version, and says how long it lasted (issue 9.5).

        Graver versions replace the kept one; an equal one too (it may name a
        session that began since). Firing versions go out as they are.
        """
        fp = alert.fingerprint
        worst = self._worst.get(fp)
        if worst is None or alert.gravity >= worst.gravity:
            worst = self._worst[fp] = alert
        if alert.firing or alert.ends_at is None:
            return alert
        del self._worst[fp]
        words = resolved_summaries(worst.summary, alert.ends_at - alert.starts_at)
        return replace(alert, summary=words, gravity=worst.gravity)

    def _steady(self, alert: Alert) -> Alert:
        """A site alert keeps the carriers it named at first (what was lost then).

        Labels are an alert's identity to receivers; the carriers down at a
        site move while it lasts, and each move would resolve and re-fire it.
        """
        fp = alert.fingerprint
        first = self._carriers.setdefault(fp, alert.labels.get("carrier", ""))
        if not alert.firing:
            del self._carriers[fp]
        if alert.labels.get("carrier", "") == first:
            return alert
        return replace(alert, labels={**alert.labels, "carrier": first})

    async def run(self, stop: asyncio.Event) -> None:
        worker = asyncio.create_task(self.worker.run(stop), name="outbox")
        reloaded = self.clock.monotonic()
        refreshing: asyncio.Task[int] | None = None
        try:
            while not stop.is_set():
                self.check_self()
                self.flush()
                if refreshing is None or refreshing.done():
                    refreshing = asyncio.create_task(self.refresh(), name="alertmanager-refresh")
                if self.clock.monotonic() - reloaded >= RELOAD_EVERY:
                    await asyncio.to_thread(self.reload)
                    reloaded = self.clock.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), FLUSH_EVERY)
        finally:
            self.flush()
            await worker

    async def refresh(self) -> int:
        """Push the firing alerts Refreshing receivers (Alertmanager) were told again, when due.

        Alertmanager times out an alert not pushed for `resolve_timeout`; this
        is state kept in sync (as Prometheus does), not a notification: it
        skips the outbox, and a failed push is made again at the next refresh.
        """
        now = self.clock.monotonic()
        pushes: list[tuple[Refreshing, Notification]] = []
        for group in list(self.engine.groups.values()):
            notifier = self.notifiers.get(group.receiver)
            if not isinstance(notifier, Refreshing):
                continue
            if now - self._refreshed.get(group.receiver, 0.0) < notifier.refresh_every:
                continue
            told = tuple(a for fp, a in group.alerts.items() if a.firing and fp in group.notified)
            if told:
                pushes.append((notifier, self._refresh_of(group, told)))
        for receiver in {n.receiver for _, n in pushes}:
            self._refreshed[receiver] = now
        for receiver_, notification in pushes:
            try:
                await receiver_.refresh(notification)
            except Exception as exc:  # the next refresh tries again
                log.warning("refresh of %s failed: %s", notification.receiver, exc)
        return len(pushes)

    def _refresh_of(self, group: Group, alerts: tuple[Alert, ...]) -> Notification:
        return Notification(
            id=uuid.uuid4().hex,
            receiver=group.receiver,
            group_key=group.key,
            group_labels=dict(group.labels),
            reason=Reason.REPEAT,
            alerts=alerts,
            created_at=self.clock.now(),
            language=self.notifiers_language.get(group.receiver, self.inventory.alerting.language),
        )

    def check_self(self) -> None:
        """examnet's own troubles (database, rounds, probes) as alerts (monitor.selfwatch)."""
        if self.health is None:
            return
        now = self.clock.now()
        for alert in self.watch.check(self.health(), now):
            level = logging.INFO if alert.ends_at else logging.ERROR
            log.log(level, "examnet itself: %s%s", alert.summary["en"],
                    " (resolved)" if alert.ends_at else "")  # fmt: skip
            self.engine.update(alert)

    def flush(self) -> int:
        """Write the notifications due now to the outbox (through the spool).

        While the database cannot be written they are sent from memory
        instead (and recorded once it is back): a page must not wait for it.
        """
        now = self.clock.now()
        due = self.engine.flush()
        expire = timedelta(seconds=self.inventory.alerting.outbox_expire)
        database_down = self.watch.database_down
        if database_down:
            moved = self.worker.fall_back()
            if moved:
                log.warning("the database is down: %d notifications sent from memory", moved)
        elif self.worker.direct_waiting:
            moved = self.worker.hand_over()
            log.info("the database is back: %d notifications moved to the outbox", moved)
        for n in due:
            if database_down:
                self.worker.send_direct(n, now + expire)
            else:
                record = OutboxRecord(n.id, n.receiver, n.group_key, n.to_json(), now, now + expire)
                self.spool.add(record)
                self.worker.track(n, now + expire)
            names = ", ".join(
                sorted({a.labels.get("site") or a.labels["subject"] for a in n.alerts})
            )
            log.info(
                "notification %s (%s) to %s: %d firing, %d resolved: %s",
                n.id, n.reason, n.receiver, len(n.firing), len(n.resolved), names,
            )  # fmt: skip
        return len(due)

    def enqueue(self, n: Notification) -> None:
        """A notification made outside the engine (a scheduled report): outbox first, as alerts.

        While the database is down it is sent from memory, like an alert's.
        """
        now = self.clock.now()
        expires = now + timedelta(seconds=self.inventory.alerting.outbox_expire)
        if self.watch.database_down:
            self.worker.send_direct(n, expires)
        else:
            self.spool.add(OutboxRecord(n.id, n.receiver, n.group_key, n.to_json(), now, expires))
            self.worker.track(n, expires)
        log.info("notification %s (%s) to %s: %s", n.id, n.reason, n.receiver, n.group_key)

    def reload(self) -> None:
        """Silences and acknowledgements as the database has them now."""
        now = self.clock.now()
        try:
            records = self.store.silences(active_at=now)
            acked = acknowledged(self.store.incident_rows(open_only=True))
            self.outbox_counts = self.store.outbox_counts()
        except Exception as exc:  # a dead database must not stop alerting: keep what we had
            log.warning(
                "could not read silences and acknowledgements (%s); keeping the last known",
                type(exc).__name__,
            )
            return
        self.engine.set_silences(active_silences(records, self._bad_silences))
        self.engine.set_acked(acked)
        self.silenced = len(records)

    # --- metrics -----------------------------------------------------------------

    def _register(self, registry: CollectorRegistry) -> None:
        self._attempts = Counter(
            "examnet_notification_attempts",
            "Attempts to deliver a notification, by receiver and result "
            "(delivered, retry, failed, expired).",
            ["receiver", "result"],
            registry=registry,
        )
        self._send_seconds = Histogram(
            "examnet_notification_send_seconds",
            "Time one delivery attempt took, by receiver.",
            ["receiver"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        registry.register(_AlertingCollector(self))

    def _attempted(self, receiver: str, result: str, seconds: float) -> None:
        if self._attempts is not None and self._send_seconds is not None:
            self._attempts.labels(receiver, result).inc()
            if result != "expired":
                self._send_seconds.labels(receiver).observe(seconds)


def acknowledged(rows: list[StoredIncident]) -> set[str]:
    """Fingerprints of acknowledged alerts, and of the others of their problem.

    An ack covers the incident's default group (alerts.rules.group_of): acking
    a site's isolation covers its links; acking a carrier's endpoint outage
    covers the sites it cuts off. One ack for one problem.
    """
    acked_groups = {group_of(r.record) for r in rows if r.acknowledged_by is not None}
    return {incident_fingerprint(r.record) for r in rows if group_of(r.record) in acked_groups}


def active_silences(
    records: list[SilenceRecord], reported: set[str] | None = None
) -> list[ActiveSilence]:
    """Silences as the engine matches them; one with a bad matcher is skipped, loudly.

    A silence stored before its pattern was refused (a backtracking regex
    that RE2 cannot run, issue 10.1) must neither stop nor freeze the
    monitor: it is skipped and said once (per id in `reported`).
    """
    found: list[ActiveSilence] = []
    for s in records:
        try:
            matchers = tuple(parse_matcher(m) for m in s.matchers)
        except ValueError as exc:
            if reported is None or s.id not in reported:
                log.error("silence %s has a bad matcher and is ignored: %s", s.id, exc)  # noqa: TRY400
            if reported is not None:
                reported.add(s.id)
            continue
        found.append(ActiveSilence(s.id, matchers, s.starts_at, s.ends_at))
    return found


class _AlertingCollector(Collector):
    def __init__(self, alerting: Alerting) -> None:
        self._alerting = alerting

    def collect(self) -> Iterator[Metric]:
        a = self._alerting
        outbox = GaugeMetricFamily(
            "examnet_outbox_notifications",
            "Notifications in the outbox, by receiver and state "
            "(pending, sending, delivered, failed, expired).",
            labels=["receiver", "state"],
        )
        for (receiver, state), count in sorted(a.outbox_counts.items()):
            outbox.add_metric([receiver, state], count)
        yield outbox
        groups = GaugeMetricFamily(
            "examnet_alert_groups", "Alert groups the engine holds, by receiver.",
            labels=["receiver"],
        )  # fmt: skip
        by_receiver: dict[str, int] = {}
        for group in list(a.engine.groups.values()):
            by_receiver[group.receiver] = by_receiver.get(group.receiver, 0) + 1
        for receiver, count in sorted(by_receiver.items()):
            groups.add_metric([receiver], count)
        yield groups
        yield GaugeMetricFamily(
            "examnet_silences_active", "Silences in effect now.", value=a.silenced
        )
