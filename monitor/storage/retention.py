"""The housekeeper: raw figures and finished notifications deleted past their age.

At 501 targets on the session cadence the rounds alone add ~35 MB an hour
(issue 10.8). Deleting a month of them in one statement would hold the
write lock for minutes (SQLite has one for the whole file) and leave a
huge transaction on PostgreSQL; so each DELETE takes at most `batch` rows
chosen by an indexed time column, commits, and the housekeeper pauses
before the next, letting the writer in between. It runs in a thread of its
own, every `interval`, and stops between two batches when asked.

Never deleted: the audit trail (state changes, incidents, readiness
snapshots, device events, silences, targets), and any notification the
outbox still needs: pending or sending ones, and the newest of each
(receiver, group), which tells a restarted examnet what the group was
last told (alerting.restore).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table, delete, exists, select
from sqlalchemy.exc import SQLAlchemyError

from monitor.model.clock import Clock
from monitor.model.inventory import RetentionSettings
from monitor.model.records import OUTBOX_OPEN
from monitor.storage.engine import describe_error
from monitor.storage.schema import (
    device_values,
    interface_samples,
    outbox,
    power_samples,
    probe_rounds,
    snmp_polls,
)

log = logging.getLogger(__name__)

BATCH_PAUSE = 0.05  # seconds between two batches: the writer's turn

Conditions = Callable[[Any], list[ColumnElement[bool]]]


def _no_more(_old: Any) -> list[ColumnElement[bool]]:
    return []


def _outbox_finished(old: Any) -> list[ColumnElement[bool]]:
    """Finished, and not the newest notification of its group."""
    newer = outbox.alias("newer")
    return [
        old.c.state.not_in(OUTBOX_OPEN),
        exists(
            select(newer.c.id).where(
                newer.c.receiver == old.c.receiver,
                newer.c.group_key == old.c.group_key,
                newer.c.created_at > old.c.created_at,
            )
        ),
    ]


@dataclass(frozen=True, slots=True)
class Rule:
    """Rows of `table` whose `column` is older than `age` seconds (and `also`) go."""

    table: Table
    column: str
    age: float
    also: Conditions = _no_more


def rules(settings: RetentionSettings) -> list[Rule]:
    found: list[Rule] = []
    if settings.rounds is not None:
        found.append(Rule(probe_rounds, "started_at", settings.rounds))
    if settings.polls is not None:
        for table in (snmp_polls, interface_samples, power_samples, device_values):
            found.append(Rule(table, "started_at", settings.polls))
    if settings.notifications is not None:
        found.append(Rule(outbox, "finished_at", settings.notifications, _outbox_finished))
    return found


def delete_batch(conn: Connection, rule: Rule, cutoff: datetime, limit: int) -> int:
    """Delete at most `limit` rows of the rule older than `cutoff`; returns how many."""
    table = rule.table
    old = table.alias("old")  # the subquery names its own table: no correlation with DELETE's
    chosen = select(old.c.id).where(old.c[rule.column] < cutoff, *rule.also(old)).limit(limit)
    done = conn.execute(delete(table).where(table.c.id.in_(chosen)))
    return int(done.rowcount)


class Housekeeper:
    """Runs the retention rules in batches, now (`run_once`) or every interval (`run`)."""

    def __init__(
        self,
        engine: Engine,
        settings: RetentionSettings,
        clock: Clock,
        *,
        pause: float = BATCH_PAUSE,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._rules = rules(settings)
        self._clock = clock
        self._pause = pause
        self.stop = threading.Event()
        self.batches = 0  # DELETE transactions so far
        self.deleted: dict[str, int] = {}  # rows so far, by table

    def run(self) -> None:
        """The thread's body: a pass at once, then one every interval, until stopped."""
        while not self.stop.is_set():
            try:
                self.run_once()
            except (SQLAlchemyError, OSError) as exc:  # the database may be down: next time
                log.warning("retention pass failed: %s", describe_error(exc, self._engine.url))
            self.stop.wait(self._settings.interval)

    def run_once(self) -> dict[str, int]:
        """One pass over every rule; returns the rows it deleted, by table."""
        began = time.monotonic()
        now = self._clock.now()
        deleted: dict[str, int] = {}
        for rule in self._rules:
            count = self._apply(rule, now - timedelta(seconds=rule.age))
            if count:
                deleted[rule.table.name] = deleted.get(rule.table.name, 0) + count
        for table, count in deleted.items():
            self.deleted[table] = self.deleted.get(table, 0) + count
        if deleted:
            log.info(
                "retention: deleted %d rows past their age in %.1f s (%s)",
                sum(deleted.values()),
                time.monotonic() - began,
                ", ".join(f"{table} {count}" for table, count in sorted(deleted.items())),
            )
        return deleted

    def _apply(self, rule: Rule, cutoff: datetime) -> int:
        total = 0
        limit = self._settings.batch
        while not self.stop.is_set():
            with self._engine.begin() as conn:
                count = delete_batch(conn, rule, cutoff, limit)
            self.batches += 1
            total += count
            if count < limit:
                break
            self.stop.wait(self._pause)
        return total
