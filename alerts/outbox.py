"""The outbox worker: sends what the outbox holds, until delivered or expired.

Every notification is in the database before this worker sees it, so a
crash or a restart loses nothing: the worker claims the head of each
(receiver, group), sends it in a task of its own (a receiver that hangs
holds up only itself), and records the outcome. A transient failure is
retried with exponential backoff and jitter; a permanent one (a 4xx, a bad
address) is given up at once; either way the next notification of that
group waits until its predecessor is settled, so order holds.

The database being down delays delivery, never loses it: claims wait, and an
outcome that could not be recorded is kept and recorded later (a delivered
notification must not be sent twice because its "delivered" was lost).

Retries and expiry run on the clock's monotonic time: a wall-clock step (an
NTP correction of ten minutes) must neither give up on a notification nor
retry it early (issue 10.4). The stored times (`next_attempt_at`,
`expires_at`) are wall times for people; each becomes a monotonic deadline
once, when the worker first knows of the row (when it is written, or at
start-up for what an earlier run left), and is never read back from the wall
clock after that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from alerts.model import DeliveryError, Notification, Notifier
from monitor.model.clock import Clock
from monitor.model.records import OUTBOX_OPEN, OutboxRecord, OutboxRow
from monitor.model.retry import backoff_delay

log = logging.getLogger("examnet.alerts")

T = TypeVar("T")

POLL_EVERY = 0.5  # seconds between two looks at the outbox
# A claimed notification is this one's for so long; longer than any send may take.
LEASE = 120.0
RETRY_INITIAL = 2.0
RETRY_MAX = 300.0
SEND_GRACE = 5.0  # beyond the notifier's own timeout, before a send is called hung
DEFAULT_SEND_TIMEOUT = 30.0


RowTest = Callable[[OutboxRow], bool]


class OutboxStore(Protocol):
    """What the worker needs of the database (monitor.storage.AlertingStore)."""

    def release_outbox(self) -> int: ...
    def outbox(
        self, receiver: str | None = None, states: Sequence[str] | None = None
    ) -> list[OutboxRow]: ...
    def expire_outbox(self, now: datetime, expired: RowTest | None = None) -> list[OutboxRow]: ...
    def claim_outbox(
        self, now: datetime, lease: float, limit: int = 50, due: RowTest | None = None
    ) -> list[OutboxRow]: ...
    def outbox_delivered(self, ident: str, now: datetime) -> None: ...
    def outbox_retry(self, ident: str, error: str, next_at: datetime) -> None: ...
    def outbox_failed(self, ident: str, error: str, now: datetime) -> None: ...


@dataclass(slots=True)
class Deadlines:
    """A notification's expiry and next attempt, in monotonic seconds."""

    expires: float
    due: float


@dataclass(slots=True)
class Direct:
    """A notification sent from memory while the database cannot take it."""

    notification: Notification
    expires_at: datetime  # for the row written once the database is back
    deadlines: Deadlines
    attempts: int = 0
    sending: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt's result, kept until it is stored."""

    row: OutboxRow
    result: str  # delivered | retry | failed
    at: datetime
    error: str | None = None
    next_at: datetime | None = None  # wall time, stored for people
    delay: float = 0.0  # seconds until the next attempt (retry)


class OutboxWorker:
    def __init__(
        self,
        store: OutboxStore,
        notifiers: Mapping[str, Notifier],
        *,
        clock: Clock,
        retry_initial: float = RETRY_INITIAL,
        retry_max: float = RETRY_MAX,
        poll_every: float = POLL_EVERY,
        on_attempt: Callable[[str, str, float], None] | None = None,
        spool: Callable[[OutboxRecord], None] | None = None,
    ) -> None:
        self.store = store
        self.notifiers = dict(notifiers)
        self.clock = clock
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.poll_every = poll_every
        self.on_attempt = on_attempt
        self.spool = spool  # where records of notifications sent from memory go
        self._direct: list[Direct] = []
        # written to the spool, not yet seen in the database: sent from memory if it goes down
        self._limbo: dict[str, Direct] = {}
        self._sent_direct: set[str] = set()  # delivered from memory: never sent again
        self._deadlines: dict[str, Deadlines] = {}  # notification id → its monotonic times
        self.attempts: Counter[tuple[str, str]] = Counter()  # (receiver, result) → count
        self._unrecorded: list[Outcome] = []
        self._recording = threading.Lock()  # outcomes are stored one at a time, oldest first
        self._sending: dict[str, asyncio.Task[None]] = {}
        self._rng = random.Random()  # noqa: S311 - jitter, not secrecy
        self._db_trouble_logged = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: then let what is in flight finish (bounded by the send timeouts)."""
        released = await self._db(self.store.release_outbox)
        if not isinstance(released, _Failed) and released:
            log.info("resuming %d notifications that were being sent at the last stop", released)
        left = await self._db(self.store.outbox, None, OUTBOX_OPEN)
        if not isinstance(left, _Failed):
            for row in left:
                self._deadlines_of(row)
        while not stop.is_set():
            await self.step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_every)
        if self._sending:
            await asyncio.wait(list(self._sending.values()))
        await self._record_outcomes()

    async def step(self) -> int:
        """Record earlier outcomes, give up on expired ones, start the sends due now."""
        self._direct_step()
        if not await self._record_outcomes():
            return 0
        now = self.clock.now()
        expired = await self._with_deadlines(self.store.expire_outbox, now, _past_expiry)
        if isinstance(expired, _Failed):
            return 0
        for row in expired:
            self._deadlines.pop(row.id, None)
            self._count(row.receiver, "expired", 0.0)
            log.error(
                "notification %s to %s given up: still undelivered at %s after %d attempts "
                "(last error: %s)",
                row.id, row.receiver, row.expires_at.isoformat(), row.attempts, row.last_error,
            )  # fmt: skip
        claimed = await self._with_deadlines(
            lambda now, due: self.store.claim_outbox(now, LEASE, 50, due), now, _due
        )
        if isinstance(claimed, _Failed):
            return 0
        for row in claimed:
            self._limbo.pop(row.id, None)
            if row.id in self._sending:
                continue
            if row.id in self._sent_direct:  # delivered from memory while it was stored
                self._deadlines.pop(row.id, None)
                self._unrecorded.append(Outcome(row, "delivered", now))
                continue
            task = asyncio.create_task(self._deliver(row), name=f"notify-{row.receiver}")
            self._sending[row.id] = task
            task.add_done_callback(self._finished(row.id))
        return len(claimed)

    # --- monotonic deadlines ------------------------------------------------------

    def _deadlines_of(self, row: OutboxRow) -> Deadlines:
        """The row's deadlines; a row met for the first time gets them from its wall times."""
        found = self._deadlines.get(row.id)
        if found is None:
            found = self._deadlines[row.id] = self._from_wall(row.expires_at, row.next_attempt_at)
        return found

    def _from_wall(self, expires_at: datetime, next_at: datetime) -> Deadlines:
        return deadlines_from(expires_at, next_at, self.clock.now(), self.clock.monotonic())

    async def _with_deadlines(
        self,
        call: Callable[[datetime, RowTest], list[OutboxRow]],
        now: datetime,
        passes: Callable[[Deadlines, float], bool],
    ) -> list[OutboxRow] | _Failed:
        """`call(now, test)` in a thread, `test` judging stored rows by their deadlines.

        The thread reads a copy of the deadlines; those it works out for rows
        met for the first time are kept once it is done.
        """
        known = dict(self._deadlines)
        learned: dict[str, Deadlines] = {}
        wall, mono = self.clock.now(), self.clock.monotonic()

        def test(row: OutboxRow) -> bool:
            found = known.get(row.id) or learned.get(row.id)
            if found is None:
                found = learned[row.id] = deadlines_from(
                    row.expires_at, row.next_attempt_at, wall, mono
                )
            return passes(found, mono)

        result = await self._db(call, now, test)
        for ident, deadlines in learned.items():
            self._deadlines.setdefault(ident, deadlines)
        return result

    # --- while the database is down ----------------------------------------------

    def send_direct(self, notification: Notification, expires_at: datetime) -> None:
        """Send from memory: the outbox cannot be written now (the database is down)."""
        self._direct.append(Direct(notification, expires_at, self._fresh(expires_at)))

    def track(self, notification: Notification, expires_at: datetime) -> None:
        """A notification handed to the spool: kept until the database is seen to have it.

        Its deadlines are set now, as its wall times were: a wall-clock step
        before the row is read back cannot shift them.
        """
        deadlines = self._deadlines[notification.id] = self._fresh(expires_at)
        self._limbo[notification.id] = Direct(notification, expires_at, deadlines)

    def _fresh(self, expires_at: datetime) -> Deadlines:
        """Due now, expiring at `expires_at` (which the caller just worked out from now)."""
        return self._from_wall(expires_at, self.clock.now())

    def fall_back(self) -> int:
        """The database is down: what may still sit in the spool is sent from memory."""
        waiting = sorted(self._limbo.values(), key=lambda d: d.notification.created_at)
        self._limbo.clear()
        self._direct = sorted([*self._direct, *waiting], key=lambda d: d.notification.created_at)
        return len(waiting)

    @property
    def direct_waiting(self) -> int:
        return len(self._direct)

    def hand_over(self) -> int:
        """The database is back: what is still undelivered goes to the outbox, in order."""
        if self.spool is None:
            return 0
        moved = [d for d in self._direct if not d.sending]
        for d in moved:
            n = d.notification
            self._deadlines[n.id] = d.deadlines
            self.spool(OutboxRecord(n.id, n.receiver, n.group_key, n.to_json(), n.created_at,
                                    d.expires_at))  # fmt: skip
        self._direct = [d for d in self._direct if d.sending]
        return len(moved)

    def _direct_step(self) -> None:
        mono = self.clock.monotonic()
        heads: dict[tuple[str, str], Direct] = {}
        for d in self._direct:
            heads.setdefault((d.notification.receiver, d.notification.group_key), d)
        for d in heads.values():
            if d.sending or d.deadlines.due > mono:
                continue
            if d.deadlines.expires <= mono:
                self._direct.remove(d)
                self._count(d.notification.receiver, "expired", 0.0)
                log.error("notification %s to %s given up undelivered", d.notification.id,
                          d.notification.receiver)  # fmt: skip
                continue
            d.sending = True
            task = asyncio.create_task(self._deliver_direct(d), name="notify-direct")
            self._sending[d.notification.id] = task
            task.add_done_callback(self._finished(d.notification.id))

    async def _deliver_direct(self, d: Direct) -> None:
        n = d.notification
        row = OutboxRow(n.id, n.receiver, n.group_key, n.to_json(), n.created_at, "sending",
                        d.attempts, n.created_at, d.expires_at)  # fmt: skip
        outcome = await self._timed_attempt(row)
        d.sending = False
        d.attempts += 1
        if outcome.result == "retry":
            d.deadlines.due = self.clock.monotonic() + outcome.delay
            return
        self._direct.remove(d)
        if outcome.result == "delivered":
            self._sent_direct.add(n.id)
        if outcome.result == "delivered" and self.spool is not None:
            self.spool(OutboxRecord(n.id, n.receiver, n.group_key, n.to_json(), n.created_at,
                                    d.expires_at, delivered_at=outcome.at))  # fmt: skip

    def _finished(self, ident: str) -> Callable[[asyncio.Task[None]], None]:
        def done(_task: asyncio.Task[None]) -> None:
            self._sending.pop(ident, None)

        return done

    async def idle(self) -> None:
        """Wait for the sends in flight (tests)."""
        while self._sending:
            await asyncio.wait(list(self._sending.values()))

    # --- one delivery ---------------------------------------------------------------

    async def _deliver(self, row: OutboxRow) -> None:
        outcome = await self._timed_attempt(row)
        if outcome.result == "retry":
            self._deadlines_of(row).due = self.clock.monotonic() + outcome.delay
        else:
            self._deadlines.pop(row.id, None)
        self._unrecorded.append(outcome)
        await self._record_outcomes()

    async def _timed_attempt(self, row: OutboxRow) -> Outcome:
        """One attempt, counted with its duration (metrics)."""
        started = time.monotonic()
        outcome = await self._attempt(row)
        self._count(row.receiver, outcome.result, time.monotonic() - started)
        return outcome

    async def _attempt(self, row: OutboxRow) -> Outcome:  # noqa: PLR0911 - one per outcome
        notifier = self.notifiers.get(row.receiver)
        if notifier is None:
            error = f'no notifier "{row.receiver}" in sites.toml any more'
            return Outcome(row, "failed", self.clock.now(), error)
        try:
            notification = Notification.from_json(row.notification)
            rendered = notifier.render(notification)
        except Exception as exc:  # a bug, not the receiver: retrying will not help
            log.exception("notification %s to %s cannot be rendered", row.id, row.receiver)
            return Outcome(row, "failed", self.clock.now(), f"cannot be rendered: {exc!r}")
        settings = getattr(notifier, "settings", None)
        timeout = getattr(notifier, "deadline", None) or getattr(settings, "timeout", None)
        timeout = float(timeout or DEFAULT_SEND_TIMEOUT) + SEND_GRACE
        try:
            await asyncio.wait_for(notifier.send(rendered), timeout)
        except DeliveryError as exc:
            return self._failure(row, str(exc), permanent=exc.permanent)
        except TimeoutError:
            return self._failure(row, f"no answer within {timeout:.0f} s", permanent=False)
        except OSError as exc:
            return self._failure(row, f"{type(exc).__name__}: {exc.strerror or exc}", False)
        except Exception as exc:
            log.exception("notification %s to %s: unexpected error", row.id, row.receiver)
            return self._failure(row, f"unexpected error {type(exc).__name__}", permanent=False)
        if row.attempts:
            log.info(
                "notification %s to %s delivered at attempt %d", row.id, row.receiver,
                row.attempts + 1,
            )  # fmt: skip
        return Outcome(row, "delivered", self.clock.now())

    def _failure(self, row: OutboxRow, error: str, permanent: bool) -> Outcome:
        now = self.clock.now()
        if permanent:
            log.error("notification %s to %s failed for good: %s", row.id, row.receiver, error)
            return Outcome(row, "failed", now, error)
        delay = backoff_delay(row.attempts + 1, self.retry_initial, self.retry_max, self._rng)
        log.warning(
            "notification %s to %s not delivered (attempt %d): %s; next try in %.0f s",
            row.id, row.receiver, row.attempts + 1, error, delay,
        )  # fmt: skip
        return Outcome(row, "retry", now, error, now + timedelta(seconds=delay), delay)

    def _count(self, receiver: str, result: str, seconds: float) -> None:
        self.attempts[(receiver, result)] += 1
        if self.on_attempt is not None:
            self.on_attempt(receiver, result, seconds)

    # --- the database ---------------------------------------------------------------

    async def _record_outcomes(self) -> bool:
        """Store the outcomes not stored yet, oldest first; False while the database fails."""
        return await asyncio.to_thread(self._record_pending)

    def _record_pending(self) -> bool:
        with self._recording:
            while self._unrecorded:
                o = self._unrecorded[0]
                try:
                    if o.result == "delivered":
                        self.store.outbox_delivered(o.row.id, o.at)
                    elif o.result == "retry":
                        next_at = o.next_at or o.at
                        self.store.outbox_retry(o.row.id, o.error or "", next_at)
                    else:
                        self.store.outbox_failed(o.row.id, o.error or "", o.at)
                except Exception as exc:
                    self._database_trouble(exc)
                    return False
                self._unrecorded.pop(0)
            return True

    async def _db(self, call: Callable[..., T], *args: Any) -> T | _Failed:
        try:
            return await asyncio.to_thread(call, *args)
        except Exception as exc:
            self._database_trouble(exc)
            return _FAILED

    def _database_trouble(self, exc: Exception) -> None:
        """Logged once in 30 s: the database is down, notifications wait (none is lost)."""
        now = time.monotonic()
        if now - self._db_trouble_logged > 30:
            self._db_trouble_logged = now
            log.warning(
                "outbox: the database is not answering (%s); notifications wait",
                type(exc).__name__,
            )


def deadlines_from(
    expires_at: datetime, next_at: datetime, now: datetime, mono: float
) -> Deadlines:
    """Stored wall times as monotonic deadlines, by the wall clock's reading `now`."""
    return Deadlines(
        expires=mono + (expires_at - now).total_seconds(),
        due=mono + max(0.0, (next_at - now).total_seconds()),
    )


def _past_expiry(deadlines: Deadlines, mono: float) -> bool:
    return deadlines.expires <= mono


def _due(deadlines: Deadlines, mono: float) -> bool:
    return deadlines.due <= mono


class _Failed:
    """The database call failed (logged): try again at the next step."""


_FAILED = _Failed()
