"""When rounds run: APScheduler jobs whose cadence follows the exam calendar.

Targets are spread over the interval: a stable hash of the target key picks
a one-second slot (one interval job per slot) and an offset inside it, so
rounds never all fire at once and each target keeps an exact cadence.
(APScheduler's own `jitter` is added to the previous, already jittered fire
time, so it drifts: each round would come on average jitter/2 late.) A job
only starts rounds; a target whose previous round is still running is
skipped and counted, so a round never overlaps itself. At every calendar
boundary (a session starts or ends, a mobile BTS link comes or goes) the
jobs are planned again.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.calendar import active_targets, interval_at, next_change_after
from monitor.clock import Clock
from monitor.inventory import Inventory, Target
from monitor.metrics import Metrics

log = logging.getLogger(__name__)

SLOT = 1.0  # seconds: width of one spread slot
RESYNC_EVERY = 60.0  # seconds: re-plan check, in case the wall clock jumped
_PLAN_JOB = "plan"
_RESYNC_JOB = "resync"


@dataclass(frozen=True, slots=True)
class Plan:
    """The schedule for a stretch of the calendar."""

    interval: float
    slots: dict[int, tuple[Target, ...]]

    @property
    def signature(self) -> tuple[float, tuple[tuple[int, tuple[str, ...]], ...]]:
        return self.interval, tuple(
            (slot, tuple(t.key for t in targets)) for slot, targets in sorted(self.slots.items())
        )


def _spread(key: str) -> int:
    return zlib.crc32(key.encode())


def offset_in_slot(target: Target) -> float:
    """A stable delay inside the slot, so one slot's targets do not start together."""
    return (_spread(target.key) >> 16) / 0x10000 * SLOT * 0.9


def plan_at(inventory: Inventory, moment: datetime) -> Plan:
    """Pure: which targets run in which slot, and how often, at this moment."""
    interval = interval_at(inventory, moment)
    count = max(1, int(interval // SLOT))
    slots: dict[int, list[Target]] = {}
    for target in active_targets(inventory, moment):
        slot = _spread(target.key) % count
        slots.setdefault(slot, []).append(target)
    return Plan(interval, {slot: tuple(ts) for slot, ts in slots.items()})


RunRound = Callable[[Target], Awaitable[None]]


class ProbeScheduler:
    def __init__(
        self,
        inventory: Inventory,
        run_round: RunRound,
        metrics: Metrics,
        clock: Clock,
        on_replan: Callable[[datetime], None] | None = None,
    ) -> None:
        self.inventory = inventory
        self._run_round = run_round
        self._metrics = metrics
        self._clock = clock
        self._on_replan = on_replan
        self._scheduler: AsyncIOScheduler | None = None
        self._plan: Plan | None = None
        self._running: dict[str, asyncio.Task[None]] = {}

    @property
    def interval(self) -> float:
        return self._plan.interval if self._plan else interval_at(self.inventory, self._clock.now())

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
        scheduler.add_job(self._replan_job, "interval", seconds=RESYNC_EVERY, id=_RESYNC_JOB)
        self.replan()
        self._metrics.up.set(1)

    async def _replan_job(self) -> None:
        # a coroutine, so APScheduler runs it on the loop, not in its threads
        self.replan()

    @property
    def _jobs(self) -> AsyncIOScheduler:
        if self._scheduler is None:
            raise RuntimeError("the scheduler is not started")
        return self._scheduler

    def replan(self) -> None:
        """Plan the jobs for now, and a wake-up at the next calendar boundary."""
        now = self._clock.now()
        plan = plan_at(self.inventory, now)
        if self._plan is None or plan.signature != self._plan.signature:
            self._install(plan, now)
            if self._on_replan is not None:
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

    def _install(self, plan: Plan, now: datetime) -> None:
        old = self._plan
        for job in self._jobs.get_jobs():
            if job.id.startswith("slot-"):
                job.remove()
        for slot, targets in plan.slots.items():
            self._jobs.add_job(
                self._fire,
                "interval",
                args=[targets],
                id=f"slot-{slot}",
                seconds=plan.interval,
                next_run_time=now + timedelta(seconds=0.2 + slot * SLOT),
            )
        self._plan = plan
        count = sum(len(t) for t in plan.slots.values())
        if old is None or old.interval != plan.interval:
            log.info("probing %d targets every %.0f s", count, plan.interval)
        else:
            log.info("probing %d targets (active set changed)", count)

    async def _fire(self, targets: tuple[Target, ...]) -> None:
        for target in targets:
            if target.key in self._running:
                self._metrics.missed_runs.labels("overlap").inc()
                log.warning("%s: previous round still running; this one skipped", target.key)
                continue
            task = asyncio.create_task(
                self._guarded(target, offset_in_slot(target)), name=f"round {target.key}"
            )
            self._running[target.key] = task

    async def _guarded(self, target: Target, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            await self._run_round(target)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A failure is a value: log it, count it, the schedule goes on.
            log.exception("round of %s failed", target.key)
            self._metrics.missed_runs.labels("error").inc()
        finally:
            self._running.pop(target.key, None)

    def _on_job_event(self, event: JobEvent) -> None:
        reason = {
            EVENT_JOB_MISSED: "misfire",
            EVENT_JOB_MAX_INSTANCES: "overlap",
            EVENT_JOB_ERROR: "error",
        }[event.code]
        self._metrics.missed_runs.labels(reason).inc()

    async def stop(self, grace: float) -> None:
        """Stop firing, let rounds in flight finish for `grace` s, cancel the rest."""
        if self._scheduler is None:
            return
        self._scheduler.pause()
        running = list(self._running.values())
        if running:
            log.info("waiting up to %.1f s for %d rounds in flight", grace, len(running))
            _done, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        self._scheduler.shutdown(wait=False)
        self._metrics.up.set(0)
        self._scheduler = None
