"""The bounded spool between the event loop and the writer thread.

One deque holds every row not yet written, in arrival order. The event loop
appends (a short lock, never I/O); the writer takes a batch, and gives it
back at the front when the write fails. Past the limit the oldest rows are
dropped and counted: during an outage the newest figures matter most.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class SpoolClosedError(RuntimeError):
    """Rows offered after close() would never be written."""


class Spool(Generic[T]):
    """Rows waiting for the database; thread-safe, bounded, oldest dropped first."""

    def __init__(self, limit: int, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError(f"spool limit must be at least 1, not {limit}")
        self._limit = limit
        self._monotonic = monotonic
        self._rows: deque[T] = deque()
        self._inflight = 0
        self._cond = threading.Condition()
        self._closing = False
        self._deadline = float("inf")
        self._wake_at = 1  # queue length that wakes a waiting writer early
        self.dropped_total = 0
        self._dropped_unreported = 0

    def put(self, row: T) -> None:
        """Queue a row; drop the oldest queued rows past the limit."""
        with self._cond:
            if self._closing:
                raise SpoolClosedError("the store is closed: row not queued")
            self._rows.append(row)
            # Rows in flight are older than any queued row: if their write
            # fails, give_back() trims them first, so the newest survive.
            self._trim()
            if len(self._rows) == 1 or len(self._rows) >= self._wake_at:
                self._cond.notify()

    def take(self, batch_size: int, flush_interval: float) -> list[T] | None:
        """Up to batch_size rows, once that many are queued or flush_interval has passed.

        Returns None when the spool is closing and empty, or its deadline passed.
        """
        with self._cond:
            self._wake_at = batch_size
            deadline: float | None = None
            while not self._ready(batch_size, deadline):
                if self._rows and deadline is None:
                    deadline = self._monotonic() + flush_interval
                timeout = None if deadline is None else max(0.0, deadline - self._monotonic())
                self._cond.wait(timeout)
            if self._closing and (not self._rows or self._monotonic() >= self._deadline):
                return None
            count = min(batch_size, len(self._rows))
            batch = [self._rows.popleft() for _ in range(count)]
            self._inflight = count
            return batch

    def _ready(self, batch_size: int, deadline: float | None) -> bool:
        if self._closing or len(self._rows) >= batch_size:
            return True
        return deadline is not None and self._monotonic() >= deadline

    def done(self) -> None:
        """The batch in flight was written (or refused row by row)."""
        with self._cond:
            self._inflight = 0

    def give_back(self, rows: Sequence[T]) -> None:
        """Return unwritten rows to the front, in order, and enforce the limit."""
        with self._cond:
            self._rows.extendleft(reversed(rows))
            self._inflight = 0
            self._trim()

    def _trim(self) -> None:
        excess = len(self._rows) - self._limit
        for _ in range(max(0, excess)):
            self._rows.popleft()
        if excess > 0:
            self.dropped_total += excess
            self._dropped_unreported += excess

    def drops_to_report(self) -> int:
        """Rows dropped since the last call (for a rate-limited warning)."""
        with self._cond:
            count, self._dropped_unreported = self._dropped_unreported, 0
            return count

    def close(self, deadline: float) -> None:
        """Refuse new rows; the writer drains until empty or until `deadline` (monotonic)."""
        with self._cond:
            self._closing = True
            self._deadline = deadline
            self._cond.notify_all()

    @property
    def closing(self) -> bool:
        return self._closing

    def past_deadline(self) -> bool:
        return self._closing and self._monotonic() >= self._deadline

    def seconds_left(self) -> float:
        return max(0.0, self._deadline - self._monotonic())

    def __len__(self) -> int:
        """Rows not yet written: queued plus in flight."""
        with self._cond:
            return len(self._rows) + self._inflight
