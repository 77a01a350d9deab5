"""Noticing steps of the wall clock (an NTP correction, an operator's `date -s`).

Timers in examnet run on the monotonic clock, which never steps; the wall
clock is for people, the calendar and the database. Some parts can only
keep wall times (APScheduler's fire times, the evaluator's anchors taken
from rounds' wall start times): they are told of a step here and adjust.
A step is the wall clock moving by more than `tolerance` seconds more (or
less) than the monotonic clock between two looks (a second apart); NTP's
slewing (at most 0.5 ms per second) never comes near it.

The `Pulse` looks once a second: it is also examnet's heartbeat, whose
silence tells /healthz that the event loop has stalled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta

from monitor.metrics import Metrics
from monitor.model.clock import Clock

log = logging.getLogger("examnet")

STEP_TOLERANCE = 1.0  # seconds
STALL_AFTER = 10.0  # seconds without a heartbeat: the event loop is stalled


class ClockWatch:
    """Compares the wall clock with the monotonic clock at each `check()`."""

    def __init__(self, clock: Clock, tolerance: float = STEP_TOLERANCE) -> None:
        self._clock = clock
        self._tolerance = tolerance
        self._offset = self._read()

    def _read(self) -> float:
        return self._clock.now().timestamp() - self._clock.monotonic()

    def check(self) -> float | None:
        """The size of a step since the last check (seconds, negative: back), or None."""
        offset = self._read()
        step = offset - self._offset
        self._offset = offset  # follow slow drift: only a jump between two looks is a step
        return step if abs(step) > self._tolerance else None


class Pulse:
    """Once a second, on the monotonic clock: the loop is alive; has the wall clock
    been stepped? A step is counted, logged and passed on to `on_step`, the parts
    that keep wall times (the scheduler's plan, the evaluator's anchors)."""

    def __init__(
        self,
        clock: Clock,
        metrics: Metrics,
        on_step: Sequence[Callable[[timedelta], None]] = (),
        stall_after: float = STALL_AFTER,
    ) -> None:
        self._clock = clock
        self._metrics = metrics
        self._watch = ClockWatch(clock)
        self._on_step = tuple(on_step)
        self._stall_after = stall_after
        self._heartbeat = clock.monotonic()

    @property
    def stalled(self) -> bool:
        return self._clock.monotonic() - self._heartbeat > self._stall_after

    def beat(self) -> None:
        self._heartbeat = self._clock.monotonic()
        step = self._watch.check()
        if step is not None:
            self._stepped(step)

    async def run(self) -> None:
        while True:
            self.beat()
            await asyncio.sleep(1.0)

    def _stepped(self, step: float) -> None:
        """Keep the cadence and every window true to the time that really passed."""
        log.warning(
            "the wall clock was stepped by %+.1f s (NTP or an operator): probing planned "
            "again from the new time; timers run on the monotonic clock",
            step,
        )
        self._metrics.clock_steps.inc()
        for listener in self._on_step:
            listener(timedelta(seconds=step))
