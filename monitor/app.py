"""`examnet run`: wire the parts together, run the schedule, stop cleanly.

Start-up order matters: the database is migrated and the last states read
before the first round, so a restart neither forgets nor repeats a state
change. Shutdown is the reverse: stop firing, let rounds in flight finish,
close the sockets, flush the queued rows, then close the HTTP port.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor import api
from monitor.alerting import Alerting
from monitor.clockwatch import Pulse
from monitor.evaluation import Evaluator, rounds_remembered
from monitor.journal import Journal
from monitor.labguard import LAB_DOWN, LabGuard, lab_device
from monitor.metrics import Metrics
from monitor.model.clock import Clock, SystemClock
from monitor.model.inventory import Device, Inventory, Target
from monitor.model.rehearsal import Rehearsal
from monitor.pipeline import Pipeline, TargetBoard
from monitor.polls import DevicePipeline
from monitor.scheduler import ProbeScheduler, Schedule, icmp_schedule, snmp_schedule
from monitor.selfwatch import Health, healthz
from monitor.snapshot import StoreFigures, View
from monitor.storage import Store
from monitor.web import Access, Scrape, WebConfig, WebServer, web_app
from probes.icmp import IcmpObservation, IcmpProber
from probes.pinger import SocketMode
from probes.snmp import SnmpProber
from probes.snmpdata import PollFailure, SnmpObservation

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


def _blocked_round(target: Target, now: datetime) -> IcmpObservation:
    return IcmpObservation(
        target=target.key,
        address=target.address,
        started_at=now,
        duration=0.0,
        echoes=(),
        error=f"not probed: {LAB_DOWN}",
    )


def _blocked_poll(device: Device, now: datetime, mono: float) -> SnmpObservation:
    return SnmpObservation(
        device=device.key,
        address=device.address,
        started_at=now,
        duration=0.0,
        received_at=mono,
        error=f"not polled: {LAB_DOWN}",
        failure=PollFailure.INTERNAL,
    )


class Monitor:
    """The running job: owns every part and their lifetimes."""

    def __init__(self, inventory: Inventory, options: RunOptions, clock: Clock) -> None:
        self.inventory = inventory
        self.options = options
        self.clock = clock
        self.store = Store(options.db_url)
        bind_device = lab_device(inventory.lab)  # the guard's second line (monitor.labguard)
        self.prober = IcmpProber(
            mode=options.socket_mode, max_rate=options.max_rate, bind_device=bind_device
        )
        self.guard = LabGuard(inventory.lab, clock)
        self._started = False
        self.metrics = Metrics(view=self.view)
        self.snmp = SnmpProber(
            max_concurrency=inventory.snmp.max_concurrency, bind_device=bind_device
        )
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
        self.devices = DevicePipeline(inventory, self.store, self.metrics, self.evaluator, journal)
        schedules: list[Schedule] = [icmp_schedule(inventory, self.run_round)]
        if devices:
            schedules.append(snmp_schedule(inventory, self.run_poll))
        self.scheduler = ProbeScheduler(
            inventory, schedules, self.metrics, clock, on_replan=self.pipeline.on_calendar
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
                api=api.router(self.store.alerting, clock, self.alerting.reload),
                access=Access(options.api_token, options.web.users),
            ),
            tls=options.web.tls,
        )

    async def run_round(self, target: Target) -> None:
        if self.guard.blocks(target.address):
            observation = _blocked_round(target, self.clock.now())
        else:
            observation = await self.prober.probe(target, self.inventory.probe)
        self.pipeline.handle(target, observation)

    async def run_poll(self, device: Device) -> None:
        if self.guard.blocks(device.address):
            observation = _blocked_poll(device, self.clock.now(), self.clock.monotonic())
        else:
            observation = await self.snmp.probe(device)
        self.devices.handle(device, observation)

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
            pinger=self.prober.pinger.stats,
            interval=self.scheduler.interval("icmp"),
            devices=list(self.devices.snapshots.values()),
            device_troubles={key: self.snmp.counts(key) for key in self.devices.snapshots},
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
            # after the rounds: their last incidents still become notifications
            alerting_stop.set()
            await alerting
            await self.prober.aclose()
            await self.snmp.aclose()
            beat.cancel()
            unwritten = await asyncio.to_thread(self.store.close, _FLUSH_TIMEOUT)
            self.http.stop()
            self.scrape.close()
        if unwritten:
            log.error("%d rows could not be written before exit", unwritten)
            return 1
        log.info("stopped cleanly")
        return 0


async def run(inventory: Inventory, options: RunOptions, clock: Clock | None = None) -> int:
    """Run until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    monitor = Monitor(inventory, options, clock or SystemClock())
    return await monitor.run(stop)
