"""Store: the one place examnet talks to its database.

The event loop hands records to `add_round` / `add_state_change` / `add`
(device records, incidents, readiness snapshots), which only append to a
bounded spool; one writer thread moves them to the database in batches and
rides out faults (see writer.py). The read side is
plain synchronous queries for the CLI, status pages and tests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError

from monitor.model.clock import Clock, SystemClock
from monitor.model.inventory import RetentionSettings, Target
from monitor.model.records import (
    DeviceEvent,
    DeviceRecord,
    IncidentRecord,
    OutboxRecord,
    OutboxRow,
    ReadinessRecord,
    Record,
    RoundRecord,
    SilenceRecord,
    StateChange,
)
from monitor.model.rehearsal import Rehearsal
from monitor.storage import alert_rows, incident_rows, migrate, rows, schema, stats
from monitor.storage.access_store import AccessStore
from monitor.storage.alert_rows import RowTest, StoredIncident
from monitor.storage.engine import (
    DEFAULT_SQLITE_BUSY_TIMEOUT,
    make_engine,
    safe_url,
    sqlite_path,
)
from monitor.storage.retention import Housekeeper
from monitor.storage.rows import Statements
from monitor.storage.runs import RunLog
from monitor.storage.schema import SEVERITIES
from monitor.storage.spool import Spool
from monitor.storage.sqlite_file import SqliteFile
from monitor.storage.stats import DatabaseFigures
from monitor.storage.writer import BatchWriter, WriterSettings

T = TypeVar("T")


@dataclass
class PollSummary:
    polls: int = 0
    problems: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    last: datetime | None = None


log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoreStats:
    """A snapshot for metrics and status; counters only grow.

    dropped_total counts rows lost for good: the oldest dropped from a full
    spool, and rows the database refused (each logged); `dropped` splits it
    by kind of record (rows.RECORD_KINDS). write_errors_total counts failed
    write attempts, not rows.
    """

    queued: int
    written_total: int
    dropped_total: int
    write_errors_total: int
    last_error: str | None
    last_write_at: datetime | None
    dropped: Mapping[str, int] = field(default_factory=dict)
    # the SQLite file was deleted or replaced under examnet (sqlite_file.py): how
    # often since start, and the last time in words (for the log and self-watch)
    database_file_changes: int = 0
    database_file_problem: str | None = None


class Store:
    """Batched, fault-tolerant writes and simple reads over SQLite or PostgreSQL."""

    def __init__(
        self,
        url: str,
        *,
        spool_limit: int = 100_000,
        audit_spool_limit: int = 50_000,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        retry_initial: float = 0.5,
        retry_max: float = 10.0,
        sqlite_busy_timeout: float = DEFAULT_SQLITE_BUSY_TIMEOUT,
        clock: Clock | None = None,
    ) -> None:
        _check_settings(batch_size, flush_interval, retry_initial, retry_max)
        path = sqlite_path(url)
        self._file = SqliteFile(path) if path is not None else None
        self._engine = make_engine(
            url, sqlite_busy_timeout=sqlite_busy_timeout, sqlite_file=self._file
        )
        self._statements = Statements(self._engine.dialect.name)
        self._clock = clock or SystemClock()
        self._spool: Spool[Record] = Spool(
            spool_limit, audit_limit=audit_spool_limit, is_audit=rows.is_audit, kind_of=rows.kind_of
        )
        self._target_ids: dict[str, int] = {}
        self._target_rows: list[dict[str, Any]] = []
        self._file_changes = 0
        self._file_problem: str | None = None
        self._file_reported = False
        settings = WriterSettings(batch_size, flush_interval, retry_initial, retry_max)
        self._writer = BatchWriter(
            self._engine,
            self._spool,
            self._write,
            settings=settings,
            clock=self._clock,
            describe_row=rows.describe,
            kind_of=rows.kind_of,
            audit_kinds=rows.AUDIT_KINDS,
            before_write=self._check_file,
        )
        self._thread: threading.Thread | None = None
        self._housekeeper: Housekeeper | None = None
        self._housekeeping: threading.Thread | None = None
        self._lifecycle = threading.Lock()
        self.alerting = AlertingStore(self._engine)
        self.access = self.alerting.access  # tokens, the incident history, notes, audit

    @property
    def url(self) -> str:
        """The database URL with its password masked, for messages."""
        return safe_url(self._engine.url)

    # -- schema and targets (sync, at start-up) --------------------------------

    def upgrade(self) -> None:
        """Apply the migrations up to head."""
        migrate.upgrade(self._engine)

    def current_revision(self) -> str | None:
        return migrate.current_revision(self._engine)

    def register_targets(self, targets: Sequence[Target]) -> None:
        """Upsert the inventory's targets and learn their ids; call before adding rounds."""
        now = self._clock.now()
        target_rows = [rows.target_row(t, now) for t in targets]
        with self._engine.begin() as conn:
            ids = rows.register(conn, self._statements, target_rows)
        self._target_rows = target_rows  # for a new database file (_reattach)
        self._target_ids = ids  # replaced whole: the writer may be reading the old one

    # -- writes (from the event loop; never block) ----------------------------

    def add_round(self, rec: RoundRecord) -> None:
        """Queue a round; raises at once for a naive time or an unregistered target."""
        _require_aware(rec.started_at, "started_at")
        if rec.target not in self._target_ids:
            raise ValueError(f"round for unregistered target {rec.target!r}")
        self._spool.put(rec)

    def add_state_change(self, rec: StateChange) -> None:
        _require_aware(rec.at, "at")
        self._spool.put(rec)

    def add(self, rec: DeviceRecord | IncidentRecord | ReadinessRecord | OutboxRecord) -> None:
        """Queue a device record, an incident (an upsert), a readiness snapshot or a notification.

        Raises at once for what the database would refuse: naive times, an
        unregistered device, an unknown severity, an incident ending before it
        started, more sites ready than sites.
        """
        if isinstance(rec, IncidentRecord):
            _check_incident(rec)
        elif isinstance(rec, ReadinessRecord):
            _check_readiness(rec)
        elif isinstance(rec, OutboxRecord):
            _require_aware(rec.created_at, "created_at")
            _require_aware(rec.expires_at, "expires_at")
        else:
            self._check_device_record(rec)
        self._spool.put(rec)

    def _check_device_record(self, rec: DeviceRecord) -> None:
        _require_aware(rec.at if isinstance(rec, DeviceEvent) else rec.started_at, "time")
        if rec.device not in self._target_ids:
            raise ValueError(f"record for unregistered device {rec.device!r}")

    def _write(self, conn: Connection, records: Sequence[Record]) -> None:
        rows.write_records(conn, self._statements, self._target_ids, records)

    # -- the SQLite file (in the writer thread, before each batch) ------------------

    def _check_file(self) -> None:
        """Never write into a database file nobody can open again (sqlite_file.py).

        A deleted file is created anew, a replaced one taken as it is; both
        get the schema and the targets, then the batch goes there. Any error
        on the way is an outage like any other: the rows wait in the spool.
        """
        if self._file is None:
            return
        change = self._file.change()
        if change is None:
            return
        if not self._file_reported:
            self._file_reported = True
            self._report_file_change(change)
        self._engine.dispose()  # no pooled connection keeps writing the old inode
        try:
            self._reattach()
        except (OSError, SQLAlchemyError) as exc:
            raise DisconnectionError(f"cannot open a new database file: {exc}") from exc
        self._file_reported = False
        log.warning("examnet writes to the database file %s again", self._file.path)

    def _report_file_change(self, change: str) -> None:
        at = self._clock.now().isoformat(timespec="seconds")
        what = (
            "examnet creates a new, empty one: the history before is gone unless restored"
            if change == "deleted"
            else "examnet writes to the new file from now on"
        )
        problem = f"the database file {self._file_path()} was {change} at {at}; {what}"
        with self._writer.counters.lock:
            self._file_changes += 1
            self._file_problem = problem
        log.error("%s", problem)

    def _file_path(self) -> str:
        return str(self._file.path) if self._file is not None else self.url

    def _reattach(self) -> None:
        """The schema and the targets in the file now at the path; then it is the one."""
        if self._file is None:
            return
        self._file.create()
        migrate.upgrade(self._engine)
        with self._engine.begin() as conn:
            self._target_ids = rows.register(conn, self._statements, self._target_rows)
        self._file.remember()

    def start(self) -> None:
        """Start the writer thread; a Store never starts itself."""
        with self._lifecycle:
            if self._thread is not None:
                raise RuntimeError("the store's writer is already started")
            self._thread = threading.Thread(
                target=self._writer.run, name="examnet-store-writer", daemon=True
            )
            self._thread.start()

    def run_log(self) -> RunLog:
        """This run's row in `monitor_runs` (start, heartbeats, stop): when it watched."""
        return RunLog(self._engine, self._clock)

    def housekeeper(self, settings: RetentionSettings) -> Housekeeper:
        """A housekeeper for this database, not started: `run_once()` deletes now."""
        return Housekeeper(self._engine, settings, self._clock)

    def start_housekeeping(self, settings: RetentionSettings) -> Housekeeper:
        """Delete rows past their age in a thread of its own (retention.py), until close()."""
        with self._lifecycle:
            if self._housekeeping is not None:
                raise RuntimeError("the store's housekeeper is already started")
            self._housekeeper = self.housekeeper(settings)
            self._housekeeping = threading.Thread(
                target=self._housekeeper.run, name="examnet-store-housekeeper", daemon=True
            )
            self._housekeeping.start()
            return self._housekeeper

    def close(self, timeout: float = 10.0) -> int:
        """Flush what is queued, stop the writer; returns the rows left unwritten."""
        if self._housekeeper is not None and self._housekeeping is not None:
            self._housekeeper.stop.set()  # it stops between two batches
            self._housekeeping.join(timeout)
        if self._thread is None and len(self._spool) and not self._spool.closing:
            self.start()
        deadline = time.monotonic() + timeout
        self._spool.close(deadline)
        self._writer.interrupt.set()
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
        left = len(self._spool)
        if left:
            log.error(
                "closing the store: %d rows could not be written to %s within %.1f s",
                left,
                self.url,
                timeout,
            )
        self._engine.dispose()
        return left

    @property
    def stats(self) -> StoreStats:
        counters = self._writer.counters
        dropped = {kind: 0 for kind in rows.RECORD_KINDS.values()}
        for kind, count in self._spool.dropped().items():
            dropped[kind] += count
        with counters.lock:
            for kind, count in counters.rejected.items():
                dropped[kind] += count
            return StoreStats(
                queued=len(self._spool),
                written_total=counters.written_total,
                dropped_total=sum(dropped.values()),
                write_errors_total=counters.write_errors_total,
                last_error=counters.last_error,
                last_write_at=counters.last_write_at,
                dropped=dropped,
                database_file_changes=self._file_changes,
                database_file_problem=self._file_problem,
            )

    # -- reads (sync) ----------------------------------------------------------

    def figures(self) -> DatabaseFigures:
        """Rows, size and oldest row per table (`examnet db stats`)."""
        with self._engine.connect() as conn:
            return stats.figures(conn)

    def rounds(self, target: str | None = None, since: datetime | None = None) -> list[RoundRecord]:
        """Rounds oldest first, optionally of one target key and from `since` on."""
        with self._engine.connect() as conn:
            return [rows.round_record(r) for r in conn.execute(rows.rounds_query(target, since))]

    def recent_rounds(self, per_target: int) -> dict[str, list[RoundRecord]]:
        """Each target's newest rounds, oldest first: what the evaluator's windows,
        baselines and K-round counters held before a restart."""
        found: dict[str, list[RoundRecord]] = {}
        with self._engine.connect() as conn:
            for r in conn.execute(rows.recent_rounds_query(per_target)):
                record = rows.round_record(r)
                found.setdefault(record.target, []).append(record)
        return found

    def state_changes(self, subject: str | None = None) -> list[StateChange]:
        with self._engine.connect() as conn:
            return [rows.state_change(r) for r in conn.execute(rows.changes_query(subject))]

    def device_records(self, kind: type[T], device: str | None = None) -> list[T]:
        """Stored records of one kind (PollRecord, InterfaceSample, ...), oldest first."""
        with self._engine.connect() as conn:
            query = rows.device_records_query(kind, device)
            return [rows.device_record(kind, r) for r in conn.execute(query)]

    def poll_summary(self, since: datetime) -> dict[str, PollSummary]:
        """Per device since `since`: polls, failures by kind, unreadable values, last poll."""
        found: dict[str, PollSummary] = {}
        with self._engine.connect() as conn:
            for key, failure, count, problems, last in conn.execute(rows.poll_summary_query(since)):
                summary = found.setdefault(key, PollSummary())
                summary.polls += count
                summary.problems += problems or 0
                if failure is not None:
                    summary.failures[failure] = count
                if summary.last is None or last > summary.last:
                    summary.last = last
        return found

    def open_incidents(self) -> list[IncidentRecord]:
        """Incidents not ended yet, oldest start first."""
        return self.incidents(open_only=True)

    def incidents(
        self,
        *,
        subject: str | None = None,
        carrier: str | None = None,
        site: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        open_only: bool = False,
    ) -> list[IncidentRecord]:
        """Incidents oldest start first; `since` / `until` keep those that overlap [since, until).

        An incident still open, or ended at or after `since`, overlaps it if
        it started before `until`: a report on a session sees the outage
        that began the night before.
        """
        query = incident_rows.incidents_query(
            subject=subject, carrier=carrier, site=site, since=since, until=until,
            open_only=open_only,
        )  # fmt: skip
        with self._engine.connect() as conn:
            return [incident_rows.incident_record(r) for r in conn.execute(query)]

    def readiness(self, session: str | None = None) -> list[ReadinessRecord]:
        """Readiness snapshots in the order they were taken, optionally of one session."""
        with self._engine.connect() as conn:
            query = incident_rows.readiness_query(session)
            return [incident_rows.readiness_record(r) for r in conn.execute(query)]

    def latest_states(self) -> dict[tuple[str, str], str]:
        """(subject_kind, subject) -> state of its newest change."""
        with self._engine.connect() as conn:
            result = conn.execute(rows.latest_states_query())
            return {(kind, subject): state for kind, subject, state in result}

    def record_rehearsal(self, rehearsal: Rehearsal | None) -> None:
        """What this run moved the plan by (None: a real run), for `status` to read."""
        with self._engine.begin() as conn:
            conn.execute(schema.rehearsal.delete())
            if rehearsal is not None:
                conn.execute(
                    schema.rehearsal.insert().values(
                        id=1,
                        session=rehearsal.session,
                        shift_seconds=rehearsal.shift.total_seconds(),
                        started_at=rehearsal.started_at,
                    )
                )

    def rehearsal(self) -> Rehearsal | None:
        with self._engine.connect() as conn:
            row = conn.execute(schema.rehearsal.select()).first()
        if row is None:
            return None
        return Rehearsal(row.session, timedelta(seconds=row.shift_seconds), row.started_at)


class AlertingStore:
    """Alerting's synchronous calls: the outbox's progress, silences, acknowledgements.

    Small transactions of their own, not through the spool: the outbox
    worker must know a notification's state is stored before it moves on.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        self.access = AccessStore(engine)

    # -- the outbox --------------------------------------------------------------

    def release_outbox(self) -> int:
        with self._engine.begin() as conn:
            return alert_rows.release_outbox(conn)

    def expire_outbox(self, now: datetime, expired: RowTest | None = None) -> list[OutboxRow]:
        with self._engine.begin() as conn:
            return alert_rows.expire_outbox(conn, now, expired)

    def claim_outbox(
        self, now: datetime, lease: float, limit: int = 50, due: RowTest | None = None
    ) -> list[OutboxRow]:
        with self._engine.begin() as conn:
            return alert_rows.claim_outbox(conn, now, lease, limit, due)

    def outbox_delivered(self, ident: str, now: datetime) -> None:
        with self._engine.begin() as conn:
            alert_rows.outbox_delivered(conn, ident, now)

    def outbox_retry(self, ident: str, error: str, next_at: datetime) -> None:
        with self._engine.begin() as conn:
            alert_rows.outbox_retry(conn, ident, error, next_at)

    def outbox_failed(self, ident: str, error: str, now: datetime) -> None:
        with self._engine.begin() as conn:
            alert_rows.outbox_failed(conn, ident, error, now)

    def outbox(
        self, receiver: str | None = None, states: Sequence[str] | None = None
    ) -> list[OutboxRow]:
        """Notifications oldest first, optionally of one receiver and in some states."""
        with self._engine.connect() as conn:
            return alert_rows.outbox_rows(conn, receiver, states)

    def outbox_known(self, ids: Sequence[str]) -> set[str]:
        """Which of these notification ids the outbox already holds (sent or not)."""
        with self._engine.connect() as conn:
            found = conn.execute(select(schema.outbox.c.id).where(schema.outbox.c.id.in_(ids)))
            return {row.id for row in found}

    def outbox_latest(self) -> list[OutboxRow]:
        with self._engine.connect() as conn:
            return alert_rows.outbox_latest(conn)

    def outbox_counts(self) -> dict[tuple[str, str], int]:
        with self._engine.connect() as conn:
            return alert_rows.outbox_counts(conn)

    # -- silences ------------------------------------------------------------------

    def add_silence(self, rec: SilenceRecord) -> None:
        _require_aware(rec.starts_at, "starts_at")
        _require_aware(rec.ends_at, "ends_at")
        if rec.ends_at <= rec.starts_at:
            raise ValueError("a silence must end after it starts")
        with self._engine.begin() as conn:
            alert_rows.upsert_silence(conn, self._dialect, rec)

    def silences(self, active_at: datetime | None = None) -> list[SilenceRecord]:
        with self._engine.connect() as conn:
            return alert_rows.silence_records(conn, active_at)

    def silence(self, ident: str) -> SilenceRecord | None:
        with self._engine.connect() as conn:
            return alert_rows.get_silence(conn, ident)

    def expire_silence(self, ident: str, by: str, now: datetime) -> bool:
        with self._engine.begin() as conn:
            return alert_rows.expire_silence(conn, ident, by, now)

    # -- incidents with their ids and acknowledgements -----------------------------

    def incident_rows(self, *, open_only: bool = False) -> list[StoredIncident]:
        query = incident_rows.incidents_query(
            subject=None, carrier=None, site=None, since=None, until=None, open_only=open_only
        )
        with self._engine.connect() as conn:
            return alert_rows.stored_incidents(conn, query)

    def incident(self, ident: int) -> StoredIncident | None:
        with self._engine.connect() as conn:
            return alert_rows.find_incident(conn, ident)

    def acknowledge(self, ident: int, by: str, note: str, now: datetime) -> bool:
        """Add an acknowledgement; every one is kept (False for an unknown incident)."""
        _require_aware(now, "now")
        with self._engine.begin() as conn:
            return alert_rows.acknowledge(conn, ident, by, note, now)


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, not {moment.isoformat()}")


def _check_incident(rec: IncidentRecord) -> None:
    _require_aware(rec.started_at, "started_at")
    _require_aware(rec.updated_at, "updated_at")
    if rec.severity not in SEVERITIES:
        raise ValueError(f"severity {rec.severity!r} is none of {', '.join(SEVERITIES)}")
    if rec.ended_at is None:
        return
    _require_aware(rec.ended_at, "ended_at")
    if rec.ended_at < rec.started_at:
        raise ValueError(f"incident {rec.key} ends before it starts ({rec.ended_at.isoformat()})")


def _check_readiness(rec: ReadinessRecord) -> None:
    _require_aware(rec.session_start, "session_start")
    _require_aware(rec.taken_at, "taken_at")
    if not 0 <= rec.sites_ready <= rec.sites_total:
        raise ValueError(f"{rec.sites_ready} sites ready out of {rec.sites_total}")


def _check_settings(
    batch_size: int, flush_interval: float, retry_initial: float, retry_max: float
) -> None:
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    if flush_interval <= 0 or retry_initial <= 0:
        raise ValueError("flush_interval and retry_initial must be positive")
    if retry_max < retry_initial:
        raise ValueError("retry_max must not be less than retry_initial")
