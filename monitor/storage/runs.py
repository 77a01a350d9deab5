"""The monitor's runs: when it was watching, so availability knows what it did not see.

`RunLog` is written by a running monitor (start, a heartbeat every
HEARTBEAT, a clean stop); `measured` reads the runs back as spans. A run
that never stopped cleanly (killed, the host lost power) ends at its last
heartbeat plus GRACE, and the current run ends now. A database that refuses
a heartbeat costs a warning, never the monitor: the next one tries again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from monitor.model.clock import Clock
from monitor.storage.schema import monitor_runs

log = logging.getLogger("examnet.storage")

HEARTBEAT = 30.0  # seconds between two heartbeats of a running monitor
GRACE = timedelta(seconds=2 * HEARTBEAT)  # a run without a stop lasted this past its last beat

Span = tuple[datetime, datetime]


class RunLog:
    """This process's run in `monitor_runs`."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._id: int | None = None

    def start(self) -> None:
        now = self._clock.now()
        try:
            with self._engine.begin() as conn:
                row = conn.execute(
                    insert(monitor_runs)
                    .values(started_at=now, seen_at=now)
                    .returning(monitor_runs.c.id)
                ).scalar_one()
            self._id = int(row)
        except SQLAlchemyError as exc:
            log.warning("cannot record this run's start (next heartbeat retries): %s", exc)

    def beat(self) -> None:
        """The heartbeat; starts the run if its start could not be written."""
        if self._id is None:
            self.start()
            return
        self._set(seen_at=self._clock.now())

    def stop(self) -> None:
        now = self._clock.now()
        if self._id is not None:
            self._set(seen_at=now, stopped_at=now)

    def _set(self, **values: datetime) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    update(monitor_runs).where(monitor_runs.c.id == self._id).values(**values)
                )
        except SQLAlchemyError as exc:
            log.warning("cannot record this run's heartbeat: %s", exc)


def measured(conn: Connection, since: datetime, until: datetime, now: datetime) -> list[Span]:
    """The spans of [since, until) some run of the monitor was watching, clipped to now."""
    t = monitor_runs
    grace_start = since - GRACE  # a run seen just before `since` may reach into it
    query = select(t.c.started_at, t.c.seen_at, t.c.stopped_at).where(
        t.c.started_at < until,
        or_(t.c.stopped_at.is_(None), t.c.stopped_at > since),
        t.c.seen_at > grace_start,
    )
    spans: list[Span] = []
    for started, seen, stopped in conn.execute(query):
        end = stopped if stopped is not None else min(seen + GRACE, now)
        start, end = max(started, since), min(end, until, now)
        if start < end:
            spans.append((start, end))
    return sorted(spans)
