"""The bounded spool between the event loop and the writer thread.

Two lanes, each in arrival order. Measurements (probe rounds, SNMP polls
and samples) are many and each one is replaced by the next: past their
limit the oldest are dropped, since during an outage the newest figures
matter most. The audit trail (state changes, incidents, readiness
snapshots, device events, notifications) is few and cannot be measured
again: it has a lane and a limit of its own, and goes to the database
first. Losing it is what issue 10.7 was about: a 100 s outage used to
leave "up → (nothing) → UP (was down)" in the stored history.

The event loop appends (a short lock, never I/O); the writer takes a
batch, and gives it back at the front of its lanes when the write fails.
Every drop is counted by kind, for the log and the metrics.
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


def _type_name(row: object) -> str:
    return type(row).__name__


def _never(_row: object) -> bool:
    return False


class Spool(Generic[T]):
    """Rows waiting for the database; thread-safe, bounded per lane, oldest dropped first."""

    def __init__(
        self,
        limit: int,
        *,
        audit_limit: int | None = None,
        is_audit: Callable[[T], bool] = _never,
        kind_of: Callable[[T], str] = _type_name,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        audit_limit = limit if audit_limit is None else audit_limit
        for name, value in (("spool limit", limit), ("audit spool limit", audit_limit)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        self._limits = (limit, audit_limit)
        self._is_audit = is_audit
        self._kind_of = kind_of
        self._monotonic = monotonic
        self._lanes: tuple[deque[T], deque[T]] = (deque(), deque())  # measurements, audit
        self._inflight = 0
        self._cond = threading.Condition()
        self._closing = False
        self._deadline = float("inf")
        self._wake_at = 1  # queue length that wakes a waiting writer early
        self._dropped: dict[str, int] = {}
        self._unreported: dict[str, int] = {}

    def put(self, row: T) -> None:
        """Queue a row; past its lane's limit, drop that lane's oldest rows."""
        with self._cond:
            if self._closing:
                raise SpoolClosedError("the store is closed: row not queued")
            lane = self._lane(row)
            self._lanes[lane].append(row)
            # Rows in flight are older than any queued row: if their write
            # fails, give_back() trims them first, so the newest survive.
            self._trim(lane)
            queued = self._queued()
            if queued == 1 or queued >= self._wake_at:
                self._cond.notify()

    def take(self, batch_size: int, flush_interval: float) -> list[T] | None:
        """Up to batch_size rows (the audit trail first), once that many are queued or
        flush_interval has passed.

        Returns None when the spool is closing and empty, or its deadline passed.
        """
        with self._cond:
            self._wake_at = batch_size
            deadline: float | None = None
            while not self._ready(batch_size, deadline):
                if self._queued() and deadline is None:
                    deadline = self._monotonic() + flush_interval
                timeout = None if deadline is None else max(0.0, deadline - self._monotonic())
                self._cond.wait(timeout)
            if self._closing and (not self._queued() or self._monotonic() >= self._deadline):
                return None
            batch: list[T] = []
            for lane in reversed(self._lanes):  # audit first: it is what must not be lost
                while lane and len(batch) < batch_size:
                    batch.append(lane.popleft())
            self._inflight = len(batch)
            return batch

    def _ready(self, batch_size: int, deadline: float | None) -> bool:
        if self._closing or self._queued() >= batch_size:
            return True
        return deadline is not None and self._monotonic() >= deadline

    def done(self) -> None:
        """The batch in flight was written (or refused row by row)."""
        with self._cond:
            self._inflight = 0

    def give_back(self, rows: Sequence[T]) -> None:
        """Return unwritten rows to the front of their lanes, in order, and enforce the limits."""
        with self._cond:
            for row in reversed(rows):
                self._lanes[self._lane(row)].appendleft(row)
            self._inflight = 0
            self._trim(0)
            self._trim(1)

    def _lane(self, row: T) -> int:
        return 1 if self._is_audit(row) else 0

    def _queued(self) -> int:
        return len(self._lanes[0]) + len(self._lanes[1])

    def _trim(self, index: int) -> None:
        lane, limit = self._lanes[index], self._limits[index]
        while len(lane) > limit:
            kind = self._kind_of(lane.popleft())
            self._dropped[kind] = self._dropped.get(kind, 0) + 1
            self._unreported[kind] = self._unreported.get(kind, 0) + 1

    @property
    def dropped_total(self) -> int:
        with self._cond:
            return sum(self._dropped.values())

    def dropped(self) -> dict[str, int]:
        """Rows dropped since start, by kind."""
        with self._cond:
            return dict(self._dropped)

    def drops_to_report(self) -> dict[str, int]:
        """Rows dropped since the last call, by kind (for a rate-limited warning)."""
        with self._cond:
            found, self._unreported = self._unreported, {}
            return found

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
            return self._queued() + self._inflight
