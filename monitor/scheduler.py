"""When rounds and polls run: APScheduler jobs whose cadence follows the exam calendar.

Targets are spread over the interval: a stable hash of the target key picks
a one-second slot (one interval job per slot) and an offset inside it, so
rounds never all fire at once and each target keeps an exact cadence.
(APScheduler's own `jitter` is added to the previous, already jittered fire
time, so it drifts: each round would come on average jitter/2 late.) A job
only starts rounds; a target whose previous round is still running is
skipped and counted, so a round never overlaps itself. At every calendar
boundary (a session starts or ends, a mobile BTS link comes or goes) the
jobs are planned again.

APScheduler 3 keeps fire times in wall-clock time: after the clock is
stepped back (an NTP correction of 10 minutes) every job would wait those
10 minutes, and a step forward makes them all "misfire". The runtime
notices steps on the monotonic clock (monitor.clockwatch) and calls
`resync()`, which plans every job again from the new wall time: the
cadence survives any step, losing at most one round.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.metrics import Metrics
from monitor.model.cadence import active_targets, interval_at, next_change_after
from monitor.model.clock import Clock
from monitor.model.inventory import Inventory
from monitor.probing.kind import AnyKind

log = logging.getLogger(__name__)

SLOT = 1.0  # seconds: width of one spread slot
RESYNC_EVERY = 60.0  # seconds: re-plan check, in case the wall clock jumped
TICK_EVERY = 30.0  # seconds: the calendar's effects that come with time (power at risk, ...)
_PLAN_JOB = "plan"
_RESYNC_JOB = "resync"
TICK_JOB = "tick"


class Scheduled(Protocol):
    """Anything run on a schedule: a target (ping) or a device (SNMP)."""

    @property
    def key(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Plan:
    """The schedule of one kind of work for a stretch of the calendar."""

    interval: float
    slots: dict[int, tuple[Any, ...]]

    @property
    def signature(self) -> tuple[float, tuple[tuple[int, tuple[str, ...]], ...]]:
        return self.interval, tuple(
            (slot, tuple(item.key for item in items)) for slot, items in sorted(self.slots.items())
        )


@dataclass(frozen=True, slots=True)
class Schedule:
    """One kind of work: what is due at a moment, how often, and how to run one."""

    name: str  # "icmp", "snmp": prefixes job ids and log lines
    items_at: Callable[[datetime], Sequence[Scheduled]]
    interval_at: Callable[[datetime], float]
    run: Callable[[Any], Awaitable[None]]
    noun: str = "targets"
    verb: str = "probing"
    budget: float = 0.0  # the longest one run can take (seconds)


def _spread(key: str) -> int:
    return zlib.crc32(key.encode())


def offset_in_slot(item: Scheduled, interval: float, budget: float) -> float:
    """A stable delay inside the slot, so one slot's items do not start together.

    Never so long that the delayed run could outlast its interval: the next
    run would find it still going and be skipped, halving the cadence.
    """
    room = max(0.0, min(SLOT, interval - budget) * 0.9)
    return (_spread(item.key) >> 16) / 0x10000 * room


def plan(items: Sequence[Scheduled], interval: float) -> Plan:
    """Pure: which items run in which slot of the interval."""
    count = max(1, int(interval // SLOT))
    slots: dict[int, list[Scheduled]] = {}
    for item in items:
        slots.setdefault(_spread(item.key) % count, []).append(item)
    return Plan(interval, {slot: tuple(found) for slot, found in slots.items()})


def plan_at(inventory: Inventory, moment: datetime) -> Plan:
    """The ping plan at this moment (the targets active now, at the calendar's cadence)."""
    return plan(active_targets(inventory, moment), interval_at(inventory, moment))


def schedule_of(
    kind: AnyKind, inventory: Inventory, run: Callable[[Any], Awaitable[None]]
) -> Schedule:
    """The schedule of one kind of probe (monitor.probing.registry) on this inventory."""
    return Schedule(
        kind.name,
        lambda moment: kind.items_at(inventory, moment),
        lambda moment: kind.interval_at(inventory, moment),
        run,
        noun=kind.noun,
        verb=kind.verb,
        budget=kind.budget(inventory),
    )


class ProbeScheduler:
    """Runs every schedule on one APScheduler; re-plans them at calendar boundaries."""

    def __init__(
        self,
        inventory: Inventory,
        schedules: Sequence[Schedule],
        metrics: Metrics,
        clock: Clock,
        on_replan: Callable[[datetime], None] | None = None,
    ) -> None:
        self.inventory = inventory
        self._schedules = {s.name: s for s in schedules}
        self._metrics = metrics
        self._clock = clock
        self._on_replan = on_replan
        self._scheduler: AsyncIOScheduler | None = None
        self._plans: dict[str, Plan] = {}
        self._running: dict[str, asyncio.Task[None]] = {}

    def interval(self, name: str = "icmp") -> float:
        current = self._plans.get(name)
        if current is not None:
            return current.interval
        return self._schedules[name].interval_at(self._clock.now())

    def start(self) -> None:
        """Call from inside the running event loop."""
        scheduler = AsyncIOScheduler(
            timezone=self.inventory.plan.timezone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 5},
        )
        scheduler.add_listener(
            self._on_job_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR
        )
        self._scheduler = scheduler
        scheduler.start()
        # housekeeping runs late rather than never: with coalesce, the latest due run of a
        # 30 or 60 s job can be older than the 5 s grace when the loop wakes just after a
        # forward clock step, before the pulse has seen it and resynced
        for job, every, ident in (
            (self._replan_job, RESYNC_EVERY, _RESYNC_JOB),
            (self._tick_job, TICK_EVERY, TICK_JOB),
        ):
            scheduler.add_job(job, "interval", seconds=every, id=ident, misfire_grace_time=None)
        self.replan()
        self._metrics.up.set(1)

    async def _replan_job(self) -> None:
        # a coroutine, so APScheduler runs it on the loop, not in its threads
        self.replan()

    async def _tick_job(self) -> None:
        if self._on_replan is not None:
            self._on_replan(self._clock.now())

    @property
    def _jobs(self) -> AsyncIOScheduler:
        if self._scheduler is None:
            raise RuntimeError("the scheduler is not started")
        return self._scheduler

    def replan(self, *, force: bool = False) -> None:
        """Plan every schedule for now, and a wake-up at the next calendar boundary.

        `force`: install the jobs again even if the plan is unchanged (the wall
        clock was stepped: their fire times are stale).
        """
        now = self._clock.now()
        for schedule in self._schedules.values():
            new = plan(schedule.items_at(now), schedule.interval_at(now))
            old = self._plans.get(schedule.name)
            if force or old is None or new.signature != old.signature:
                self._install(schedule, new, now)
        if self._on_replan is not None:  # a boundary: sessions, windows, readiness moments
            self._on_replan(now)
        boundary = next_change_after(self.inventory, now)
        if boundary is not None:
            self._jobs.add_job(
                self._replan_job,
                "date",
                run_date=boundary,
                id=_PLAN_JOB,
                replace_existing=True,
                misfire_grace_time=None,
            )

    def _install(self, schedule: Schedule, new: Plan, now: datetime) -> None:
        old = self._plans.get(schedule.name)
        if old is not None and new.signature == old.signature:
            log.info("%s jobs planned again from %s", schedule.name, now.isoformat())
            self._replace_jobs(schedule, new, now)
            return
        self._replace_jobs(schedule, new, now)
        count = sum(len(items) for items in new.slots.values())
        if old is None or old.interval != new.interval:
            log.info("%s %d %s every %.0f s", schedule.verb, count, schedule.noun, new.interval)
        else:
            log.info("%s %d %s (active set changed)", schedule.verb, count, schedule.noun)

    def resync(self) -> None:
        """The wall clock was stepped: plan every job again from the new time."""
        if self._scheduler is None:
            return
        now = self._clock.now()
        for job_id, every in ((_RESYNC_JOB, RESYNC_EVERY), (TICK_JOB, TICK_EVERY)):
            self._jobs.modify_job(job_id, next_run_time=now + timedelta(seconds=every))
        self.replan(force=True)

    def _replace_jobs(self, schedule: Schedule, new: Plan, now: datetime) -> None:
        prefix = f"{schedule.name}-slot-"
        for job in self._jobs.get_jobs():
            if job.id.startswith(prefix):
                job.remove()
        for slot, items in new.slots.items():
            self._jobs.add_job(
                self._fire,
                "interval",
                args=[schedule, items],
                id=f"{prefix}{slot}",
                seconds=new.interval,
                next_run_time=now + timedelta(seconds=0.2 + slot * SLOT),
            )
        self._plans[schedule.name] = new

    async def _fire(self, schedule: Schedule, items: tuple[Scheduled, ...]) -> None:
        for item in items:
            if item.key in self._running:
                self._metrics.missed_runs.labels("overlap").inc()
                log.warning("%s: previous run still going; this one skipped", item.key)
                continue
            task = asyncio.create_task(
                self._guarded(
                    schedule,
                    item,
                    offset_in_slot(item, self.interval(schedule.name), schedule.budget),
                ),
                name=f"run {item.key}",
            )
            self._running[item.key] = task

    async def _guarded(self, schedule: Schedule, item: Scheduled, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            await schedule.run(item)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A failure is a value: log it, count it, the schedule goes on.
            log.exception("%s run of %s failed", schedule.name, item.key)
            self._metrics.missed_runs.labels("error").inc()
        finally:
            self._running.pop(item.key, None)

    def _on_job_event(self, event: JobEvent) -> None:
        reason = {
            EVENT_JOB_MISSED: "misfire",
            EVENT_JOB_MAX_INSTANCES: "overlap",
            EVENT_JOB_ERROR: "error",
        }[event.code]
        self._metrics.missed_runs.labels(reason).inc()

    async def stop(self, grace: float) -> None:
        """Stop firing, let runs in flight finish for `grace` s, cancel the rest."""
        if self._scheduler is None:
            return
        self._scheduler.pause()
        running = list(self._running.values())
        if running:
            log.info("waiting up to %.1f s for %d runs in flight", grace, len(running))
            _done, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        self._scheduler.shutdown(wait=False)
        self._metrics.up.set(0)
        self._scheduler = None
