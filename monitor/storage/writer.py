"""The writer thread: batches from the spool to the database, through faults.

A sync engine in one thread keeps database latency off the event loop (see
NOTES.md). A failed batch goes back to the spool and is retried with
exponential backoff until the database is back; replays are idempotent
because every insert is `ON CONFLICT DO NOTHING` on the rows' natural keys,
so a commit whose outcome was unknown does not duplicate anything.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from monitor.model.clock import Clock
from monitor.model.retry import backoff_delay
from monitor.storage.engine import describe_error, safe_url
from monitor.storage.spool import Spool

log = logging.getLogger(__name__)

T = TypeVar("T")

# At most one "spool full" warning per this many seconds (each says how many).
DROP_LOG_INTERVAL = 10.0


@dataclass(frozen=True, slots=True)
class WriterSettings:
    batch_size: int
    flush_interval: float
    retry_initial: float
    retry_max: float


@dataclass(slots=True)
class WriterCounters:
    """Written by the writer thread, read as a snapshot under `lock`."""

    lock: threading.Lock
    written_total: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # by kind: rows the database refused
    write_errors_total: int = 0
    last_error: str | None = None
    last_write_at: datetime | None = None


def is_transient(exc: BaseException) -> bool:
    """True when the database, not the row, is at fault: keep the rows and retry.

    Locked, read-only, unreachable, restarting, out of space, a missing
    table or permission: all pass once someone fixes the database. Only a
    constraint or value the database refuses (or a row that cannot even be
    bound) is the row's own fault.
    """
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or not isinstance(exc, IntegrityError | DataError)
    return isinstance(exc, DisconnectionError | PoolTimeoutError | OSError)


class BatchWriter(Generic[T]):
    """Drains the spool into the database until it is closed and empty."""

    def __init__(
        self,
        engine: Engine,
        spool: Spool[T],
        write: Callable[[Connection, Sequence[T]], None],
        *,
        settings: WriterSettings,
        clock: Clock,
        describe_row: Callable[[T], str],
        kind_of: Callable[[T], str] = lambda row: type(row).__name__,
        audit_kinds: frozenset[str] = frozenset(),
        before_write: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._spool = spool
        self._write = write
        self._settings = settings
        self._clock = clock
        self._describe_row = describe_row
        self._kind_of = kind_of
        self._audit_kinds = audit_kinds
        self._before_write = before_write
        self.counters = WriterCounters(threading.Lock())
        self.interrupt = threading.Event()
        self._rng = random.Random()  # noqa: S311 - jitter, not cryptography
        self._failures = 0
        self._failing_since = 0.0
        self._drops_unreported: dict[str, int] = {}
        self._last_drop_log: float | None = None

    def run(self) -> None:
        """The thread's body; returns when the spool is closed and drained (or timed out)."""
        settings = self._settings
        while (batch := self._spool.take(settings.batch_size, settings.flush_interval)) is not None:
            unwritten = self._flush(batch)
            if unwritten:
                self._spool.give_back(unwritten)
                self._outage()
                self._report_drops()
                self._backoff()
            else:
                self._spool.done()
                self._recovered()
                self._report_drops()
        self._report_drops(force=True)

    def _flush(self, batch: Sequence[T]) -> Sequence[T]:
        """Write a batch; returns the rows still to write (empty on success)."""
        try:
            if self._before_write is not None:
                self._before_write()  # e.g. the SQLite file's check: it may raise like a write
            self._commit(batch)
        except Exception as exc:
            self._count_error(exc)
            if is_transient(exc):
                return batch
            return self._flush_each(batch)
        return ()

    def _flush_each(self, batch: Sequence[T]) -> Sequence[T]:
        """Row by row, to find the rows the database refuses and let the rest through."""
        for index, row in enumerate(batch):
            try:
                self._commit((row,))
            except Exception as exc:
                self._count_error(exc)
                if is_transient(exc):
                    return batch[index:]
                self._reject(row, exc)
        return ()

    def _commit(self, rows: Sequence[T]) -> None:
        with self._engine.begin() as conn:
            self._write(conn, rows)
        with self.counters.lock:
            self.counters.written_total += len(rows)
            self.counters.last_write_at = self._clock.now()

    def _count_error(self, exc: BaseException) -> None:
        text = describe_error(exc, self._engine.url)
        with self.counters.lock:
            self.counters.write_errors_total += 1
            self.counters.last_error = text

    def _outage(self) -> None:
        """Log the first failure of an outage; the retries only at debug level."""
        self._failures += 1
        with self.counters.lock:
            error = self.counters.last_error
        if self._failures > 1:
            log.debug("database write failed again (%d): %s", self._failures, error)
            return
        self._failing_since = self._clock.monotonic()
        log.warning(
            "cannot write to the database %s (%s); keeping %d rows in the spool and "
            "retrying until it is back",
            safe_url(self._engine.url),
            error,
            len(self._spool),
        )

    def _recovered(self) -> None:
        if self._failures == 0:
            return
        log.info(
            "database writes recovered after %d failed attempts in %.1f s; %d rows still queued",
            self._failures,
            self._clock.monotonic() - self._failing_since,
            len(self._spool),
        )
        self._failures = 0

    def _reject(self, row: T, exc: BaseException) -> None:
        kind = self._kind_of(row)
        with self.counters.lock:
            self.counters.rejected[kind] = self.counters.rejected.get(kind, 0) + 1
        log.error(
            "dropped %s: the database refused it (%s)",
            self._describe_row(row),
            describe_error(exc, self._engine.url),
        )

    def _backoff(self) -> None:
        settings = self._settings
        delay = backoff_delay(self._failures, settings.retry_initial, settings.retry_max, self._rng)
        if self._spool.closing:
            delay = min(delay, self._spool.seconds_left())
        # close() sets the event: retry at once rather than sleep out the delay
        if self.interrupt.wait(delay):
            self.interrupt.clear()

    def _report_drops(self, *, force: bool = False) -> None:
        for kind, count in self._spool.drops_to_report().items():
            self._drops_unreported[kind] = self._drops_unreported.get(kind, 0) + count
        if not self._drops_unreported:
            return
        now = self._clock.monotonic()
        last = self._last_drop_log
        if not force and last is not None and now - last < DROP_LOG_INTERVAL:
            return
        dropped = self._drops_unreported
        # losing the audit trail is worse than losing figures: say which was lost
        audit = sorted(k for k in dropped if k in self._audit_kinds)
        log.log(
            logging.ERROR if audit else logging.WARNING,
            "storage spool full: dropped the oldest rows not yet written: %s "
            "(%d dropped since start)%s",
            ", ".join(f"{count} {kind}" for kind, count in sorted(dropped.items())),
            self._spool.dropped_total,
            f"; the audit trail lost {', '.join(audit)} rows" if audit else "",
        )
        self._drops_unreported = {}
        self._last_drop_log = now
