"""Noticing steps of the wall clock (an NTP correction, an operator's `date -s`).

Timers in examnet run on the monotonic clock, which never steps; the wall
clock is for people, the calendar and the database. Some parts can only
keep wall times (APScheduler's fire times, the evaluator's anchors taken
from rounds' wall start times): they are told of a step here and adjust.
A step is the wall clock moving by more than `tolerance` seconds more (or
less) than the monotonic clock between two looks (a second apart); NTP's
slewing (at most 0.5 ms per second) never comes near it.
"""

from __future__ import annotations

from monitor.model.clock import Clock

STEP_TOLERANCE = 1.0  # seconds


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
