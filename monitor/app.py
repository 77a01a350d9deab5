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
from datetime import datetime, timedelta
from typing import Any

from monitor import api
from monitor.alerting import Alerting
from monitor.clockwatch import ClockWatch
from monitor.evaluation import Evaluator, rounds_remembered
from monitor.labguard import LAB_DOWN, LabGuard, lab_device
from monitor.metrics import Metrics
from monitor.model.clock import Clock, SystemClock
from monitor.model.inventory import Device, Inventory, Target
from monitor.model.rehearsal import Rehearsal
from monitor.pipeline import Pipeline
from monitor.polls import DevicePipeline
from monitor.scheduler import ProbeScheduler, Schedule, icmp_schedule, snmp_schedule
from monitor.selfwatch import Health
from monitor.snapshot import StoreFigures, View
from monitor.storage import Store
from monitor.web import Access, Scrape, WebConfig, WebServer, web_app
from probes.icmp import IcmpObservation, IcmpProber
from probes.pinger import SocketMode
from probes.snmp import SnmpProber
from probes.snmpdata import PollFailure, SnmpObservation

log = logging.getLogger("examnet")

STALL_AFTER = 10.0  # seconds without a loop heartbeat: /healthz fails
UNHEALTHY = frozenset({"no_rounds", "probe_errors"})  # examnet's own alerts that fail /healthz
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
        self.clockwatch = ClockWatch(clock)
        self._heartbeat = clock.monotonic()
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
        self.pipeline = Pipeline(inventory, self.store, self.metrics, self.evaluator)
        self.alerting = Alerting(
            inventory,
            self.store,
            self.evaluator,
            clock,
            registry=self.metrics.registry,
            health=self.self_health,
        )
        self.alerting.restore()
        self.pipeline.on_incident = self.alerting.incident
        self.devices = DevicePipeline(
            inventory, self.store, self.metrics, self.evaluator, self.pipeline.record
        )
        schedules: list[Schedule] = [icmp_schedule(inventory, self.run_round)]
        if devices:
            schedules.append(snmp_schedule(inventory, self.run_poll))
        self.scheduler = ProbeScheduler(
            inventory, schedules, self.metrics, clock, on_replan=self.pipeline.on_calendar
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
                ),
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
            targets=list(self.pipeline.targets.values()),
            sites=self.pipeline.site_snapshots(),
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
        """Failing while examnet does not do its job: the loop stalls, rounds stop or
        all fail (examnet's own judgement, monitor.selfwatch), whatever the cause."""
        stalled = self.clock.monotonic() - self._heartbeat > STALL_AFTER
        s = self.store.stats
        problems = sorted(set(self.alerting.watch.problems) & UNHEALTHY)
        details = {
            "scheduler": "running" if self._started else "stopped",
            "event_loop": "stalled" if stalled else "ok",
            "probing": ", ".join(problems) or "ok",
            "db_queue": s.queued,
            "db_last_error": s.last_error,
            "targets": len(self.pipeline.targets),
        }
        return self._started and not stalled and not problems, details

    async def _beat(self) -> None:
        """Once a second, on the monotonic clock: the loop is alive; has the wall clock
        been stepped?"""
        while True:
            self._heartbeat = self.clock.monotonic()
            step = self.clockwatch.check()
            if step is not None:
                self.clock_stepped(step)
            await asyncio.sleep(1.0)

    def clock_stepped(self, step: float) -> None:
        """Keep the cadence and every window true to the time that really passed."""
        log.warning(
            "the wall clock was stepped by %+.1f s (NTP or an operator): probing planned "
            "again from the new time; timers run on the monotonic clock",
            step,
        )
        self.metrics.clock_steps.inc()
        self.scheduler.resync()
        self.evaluator.shift(timedelta(seconds=step))

    async def run(self, stop: asyncio.Event) -> int:
        self.store.start()
        self.store.start_housekeeping(self.inventory.retention)
        self.http.start()
        host, port = self.http.address
        log.info("metrics at %s://%s:%d/metrics, health at /healthz", self.http.scheme, host, port)
        beat = asyncio.create_task(self._beat())
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
