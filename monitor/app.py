"""`examnet run`: wire the parts together, run the schedule, stop cleanly.

Start-up order matters: the database is migrated and the last states read
before the first round, so a restart neither forgets nor repeats a state
change. Shutdown is the reverse: stop firing, let rounds in flight finish,
close the sockets, flush the queued rows, then close the HTTP port.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from monitor import api, status
from monitor.alerting import Alerting
from monitor.clockwatch import Pulse
from monitor.evaluation import Evaluator, rounds_remembered
from monitor.journal import Journal
from monitor.labguard import LabGuard, lab_device
from monitor.metrics import Metrics
from monitor.model.clock import Clock, SystemClock
from monitor.model.inventory import Inventory
from monitor.model.rehearsal import Rehearsal
from monitor.pipeline import Pipeline, TargetBoard
from monitor.probing.icmp import IcmpProbing
from monitor.probing.kind import AnyKind, ProbeContext, Probed, ProbeOptions, Probing
from monitor.probing.registry import PROBES
from monitor.probing.snmp import SnmpProbing
from monitor.report import produce
from monitor.reporting import Reports
from monitor.scheduler import ProbeScheduler, schedule_of
from monitor.selfwatch import Health, healthz
from monitor.snapshot import StoreFigures, View
from monitor.storage import Store
from monitor.storage.runs import HEARTBEAT, RunLog
from monitor.web import Access, Scrape, WebConfig, WebServer, pages, web_app
from probes.pinger import SocketMode

log = logging.getLogger("examnet")

_FLUSH_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class RunOptions:
    db_url: str
    listen: tuple[str, int]
    socket_mode: SocketMode = SocketMode.AUTO
    max_rate: float | None = None
    api_token: str | None = None  # writes to the HTTP API need it; none: read-only
    # --web-config: TLS and basic auth of the HTTP port
    web: WebConfig = field(default_factory=WebConfig)
    rehearsal: Rehearsal | None = None  # the inventory is already moved by it


W = TypeVar("W")


def _wired(probing: Mapping[str, Probing[Any, Any]], kind: type[W]) -> W:
    """The wired kind of this class (the view shows figures of ICMP and SNMP)."""
    found = [p for p in probing.values() if isinstance(p, kind)]
    if len(found) != 1:
        raise LookupError(f"{kind.__name__} is not wired once")
    return found[0]


class Monitor:
    """The running job: owns every part and their lifetimes."""

    def __init__(self, inventory: Inventory, options: RunOptions, clock: Clock) -> None:
        self.inventory = inventory
        self.options = options
        self.clock = clock
        self.store = Store(options.db_url)
        self.guard = LabGuard(inventory.lab, clock)
        self._started = False
        self.metrics = Metrics(view=self.view)
        self.store.upgrade()
        self.store.record_rehearsal(options.rehearsal)
        devices = tuple(inventory.devices())
        self.store.register_targets(
            [*inventory.targets(), *inventory.control_targets(), *(d.as_target() for d in devices)]
        )
        self.evaluator = Evaluator(
            inventory,
            self.store.latest_states(),
            self.store.open_incidents(),
            self.store.recent_rounds(rounds_remembered(inventory)),
        )
        self.alerting = Alerting(
            inventory,
            self.store,
            self.evaluator,
            clock,
            registry=self.metrics.registry,
            health=self.self_health,
        )
        self.alerting.restore()
        self.board = TargetBoard(inventory, self.evaluator)
        journal = Journal(
            inventory,
            self.store,
            self.metrics,
            on_incident=[self.alerting.incident],
            on_change=[self.board.follow],
        )
        self.pipeline = Pipeline(self.store, self.metrics, self.evaluator, journal, self.board)
        context = ProbeContext(
            inventory,
            ProbeOptions(
                options.socket_mode,
                options.max_rate,
                lab_device(inventory.lab),  # the guard's second line (monitor.labguard)
            ),
            self.store,
            self.metrics,
            self.evaluator,
            journal,
            self.pipeline,
        )
        self.probing = {kind.name: kind.wire(context) for kind in PROBES}
        self.icmp = _wired(self.probing, IcmpProbing)  # for the view: the pinger's figures
        self.snmp = _wired(self.probing, SnmpProbing)  # for the view: the devices' snapshots
        schedules = [
            schedule_of(kind, inventory, functools.partial(self.run_probe, kind))
            for kind in PROBES
            if kind.scheduled(inventory)
        ]
        self.reports = Reports(
            inventory,
            self.store,
            clock,
            functools.partial(produce.scheduled, self.store, inventory),
            self.alerting.enqueue,
        )
        self.scheduler = ProbeScheduler(
            inventory, schedules, self.metrics, clock, on_replan=self._on_calendar
        )
        self.pulse = Pulse(
            clock,
            self.metrics,
            on_step=[lambda _step: self.scheduler.resync(), self.evaluator.shift],
        )
        self.scrape = Scrape(self.metrics.exposition, lambda: self.scheduler.interval("icmp"))
        self.http = WebServer(
            options.listen,
            web_app(
                scrape=self.scrape,
                health=self.health,
                api=api.router(
                    self.store.alerting,
                    clock,
                    self.alerting.reload,
                    districts=lambda: {s.id: s.district for s in self.inventory.sites},
                    inventory=lambda: self.inventory,
                    status=lambda scope: status.snapshot(
                        self.inventory, self.store, clock.now(), scope
                    ),
                ),
                pages=pages.router(
                    self.store.alerting,
                    clock,
                    self.alerting.reload,
                    inventory=lambda: self.inventory,
                    districts=lambda: {s.id: s.district for s in self.inventory.sites},
                ),
                access=Access(options.api_token, options.web.users),
            ),
            tls=options.web.tls,
        )

    def _on_calendar(self, now: datetime) -> None:
        """The calendar's tick and boundaries: the evaluator's effects, then reports due."""
        self.pipeline.on_calendar(now)
        self.reports.tick(now)

    async def run_probe(self, kind: AnyKind, item: Probed) -> None:
        """One probe of any kind, through the lab guard, into its pipeline."""
        probing = self.probing[kind.name]
        probing.handle(item, await self.guard.probe(kind, probing, item))

    def view(self) -> View:
        s = self.store.stats
        return View(
            inventory=self.inventory,
            now=self.clock.now(),
            targets=list(self.board.targets.values()),
            sites=self.board.sites(),
            store=StoreFigures(
                s.queued, s.written_total, s.dropped_total, s.write_errors_total, s.dropped
            ),
            pinger=self.icmp.prober.pinger.stats,
            interval=self.scheduler.interval("icmp"),
            devices=list(self.snmp.pipeline.snapshots.values()),
            device_troubles={
                key: self.snmp.prober.counts(key) for key in self.snmp.pipeline.snapshots
            },
            open_incidents=[c for c in self.evaluator.book.active.values() if not c.quiet],
            blind=self.evaluator.blind,
        )

    def self_health(self) -> Health:
        """What examnet knows of itself, for its alerts on itself."""
        s = self.store.stats
        return Health(
            written_total=s.written_total,
            write_errors_total=s.write_errors_total,
            last_write_error=s.last_error,
            rounds_total=self.pipeline.rounds_total,
            rounds_failed=self.pipeline.rounds_failed,
            last_probe_error=self.pipeline.last_error,
            interval=self.scheduler.interval("icmp"),
            monotonic=self.clock.monotonic(),
            database_file_changes=s.database_file_changes,
            database_file_problem=s.database_file_problem,
        )

    def health(self) -> tuple[bool, Mapping[str, Any]]:
        s = self.store.stats
        return healthz(
            running=self._started,
            stalled=self.pulse.stalled,
            problems=self.alerting.watch.problems,
            db_queue=s.queued,
            db_last_error=s.last_error,
            targets=len(self.board.targets),
        )

    async def run(self, stop: asyncio.Event) -> int:
        self.store.start()
        self.store.start_housekeeping(self.inventory.retention)
        watching = self.store.run_log()  # when it watched: availability's measured time
        await asyncio.to_thread(watching.start)
        heartbeat = asyncio.create_task(_heartbeat(watching), name="heartbeat")
        self.http.start()
        host, port = self.http.address
        log.info("metrics at %s://%s:%d/metrics, health at /healthz", self.http.scheme, host, port)
        beat = asyncio.create_task(self.pulse.run())
        alerting_stop = asyncio.Event()
        alerting = asyncio.create_task(self.alerting.run(alerting_stop), name="alerting")
        self.scheduler.start()
        self._started = True
        try:
            await stop.wait()
        finally:
            log.info("stopping")
            self._started = False
            await self.scheduler.stop(grace=self.inventory.probe.round_budget + 1.0)
            await self.reports.stop()  # a report being made still reaches the outbox
            # after the rounds: their last incidents still become notifications
            alerting_stop.set()
            await alerting
            for probing in self.probing.values():
                await probing.aclose()
            beat.cancel()
            heartbeat.cancel()
            await asyncio.to_thread(watching.stop)
            unwritten = await asyncio.to_thread(self.store.close, _FLUSH_TIMEOUT)
            self.http.stop()
            self.scrape.close()
        if unwritten:
            log.error("%d rows could not be written before exit", unwritten)
            return 1
        log.info("stopped cleanly")
        return 0


async def _heartbeat(watching: RunLog) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT)
        await asyncio.to_thread(watching.beat)


async def run(inventory: Inventory, options: RunOptions, clock: Clock | None = None) -> int:
    """Run until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    monitor = Monitor(inventory, options, clock or SystemClock())
    return await monitor.run(stop)
