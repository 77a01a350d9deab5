"""Incidents and readiness snapshots in storage, on SQLite and on PostgreSQL.

Every write goes through the spool and the writer thread, as in production;
a `Db` opens a fresh Store per write so each write is its own batch (or
one batch for all, when a test says so).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, select, update

from monitor.model.records import IncidentRecord, ReadinessRecord
from monitor.storage import Store
from monitor.storage.schema import incidents, metadata

ICT = timezone(timedelta(hours=7))
START = datetime(2024, 6, 1, 7, 30, 0, 250000, tzinfo=ICT)
FAST = {"flush_interval": 0.01, "retry_initial": 0.01, "retry_max": 0.05}


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def an_incident(**changes: object) -> IncidentRecord:
    """Viettel's link at lso-01 congested at 07:30 in the `during` phase."""
    opened = IncidentRecord(
        subject_kind="target",
        subject="link:lso-01/vt",
        kind="congested",
        started_at=START,
        severity="warning",
        phase="during",
        reason="loss 12% over 3 of the last 5 rounds",
        updated_at=START,
        carrier="viettel",
        site="lso-01",
        sessions=("toan-sang",),
        worst_loss=0.12,
        worst_rtt_ms=80.0,
        worst_utilisation=0.91,
    )
    return replace(opened, **changes)  # type: ignore[arg-type]


OPENED = an_incident()
WORSE = replace(
    OPENED,
    severity="critical",
    reason="loss 35%",
    updated_at=at(5),
    sessions=("toan-sang", "van-sang"),
    worst_loss=0.35,
    worst_rtt_ms=240.5,
    worst_utilisation=0.99,
)
WORST = replace(WORSE, reason="loss 60%", updated_at=at(9), worst_loss=0.6)
CLOSED = replace(WORST, reason="recovered", updated_at=at(20), ended_at=at(20))


def a_snapshot(minutes_before: int, **changes: object) -> ReadinessRecord:
    session_start = datetime(2024, 6, 2, 7, 30, tzinfo=ICT)
    snapshot = ReadinessRecord(
        session="toan-sang",
        session_start=session_start,
        taken_at=session_start - timedelta(minutes=minutes_before),
        seconds_before=minutes_before * 60,
        ready=False,
        sites_total=3,
        sites_ready=2,
        not_ready=({"site": "lso-01", "state": "ISOLATED", "power": None, "reason": "no link up"},),
        open_incidents=2,
    )
    return replace(snapshot, **changes)  # type: ignore[arg-type]


class Db:
    """One database; each `write` is a Store of its own, closed (so flushed) on return."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.reader = Store(url)
        self.reader.upgrade()

    def write(self, *records: IncidentRecord | ReadinessRecord) -> None:
        """All the records in one batch: the writer starts only when close() flushes."""
        store = Store(self.url, **FAST)  # type: ignore[arg-type]
        for rec in records:
            store.add(rec)
        assert store.close() == 0
        assert store.stats.dropped_total == 0

    def write_each(self, *records: IncidentRecord | ReadinessRecord) -> None:
        for rec in records:
            self.write(rec)

    def acks(self) -> list[tuple[str | None, datetime | None, str | None]]:
        t = incidents
        query = select(t.c.acknowledged_by, t.c.acknowledged_at, t.c.ack_note).order_by(t.c.id)
        with self.reader._engine.connect() as conn:
            return [(by, when, note) for by, when, note in conn.execute(query)]

    def acknowledge(self, by: str, when: datetime, note: str) -> None:
        """As alerting will: straight to the ack columns."""
        values = {"acknowledged_by": by, "acknowledged_at": when, "ack_note": note}
        with self.reader._engine.begin() as conn:
            conn.execute(update(incidents).values(**values))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if request.param == "sqlite":
        url = str(tmp_path / "examnet.db")
    else:
        url = request.getfixturevalue("postgres_url")
    database = Db(url)
    yield database
    database.reader.close()


# -- schema ----------------------------------------------------------------------------


def test_it_names_the_check_constraints_as_the_model_does(db: Db, tmp_path: Path) -> None:
    # Alembic's comparison does not look at CHECK constraints: compare their names
    # with those of the model created directly (the naming convention applied once).
    # Every migration, not just this one: 0001 and 0002 once doubled the prefix.
    model = create_engine(f"sqlite:///{tmp_path / 'model.db'}")
    metadata.create_all(model)
    for table in metadata.tables:
        assert _check_names(db.reader._engine, table) == _check_names(model, table), table
    model.dispose()


def _check_names(engine: Engine, table: str) -> set[str | None]:
    with engine.connect() as conn:
        return {c["name"] for c in inspect(conn).get_check_constraints(table)}


# -- one incident, written as it changes ------------------------------------------


@pytest.mark.parametrize("batches", ["a batch each", "one batch"])
def test_it_keeps_one_row_with_the_final_values_of_an_incident(db: Db, batches: str) -> None:
    writes = (OPENED, WORSE, WORST, CLOSED)
    if batches == "one batch":
        db.write(*writes)
    else:
        db.write_each(*writes)
    [got] = db.reader.incidents()
    assert got == CLOSED
    assert got.sessions == ("toan-sang", "van-sang")
    assert got.started_at.tzinfo is UTC
    assert got.ended_at is not None
    assert got.ended_at.tzinfo is UTC


def test_it_returns_an_open_incident_as_written(db: Db) -> None:
    db.write(OPENED)
    assert db.reader.incidents() == [OPENED]
    assert db.reader.open_incidents() == [OPENED]


@pytest.mark.parametrize("batches", ["a batch each", "one batch"])
def test_it_does_not_let_an_older_write_undo_a_newer_one(db: Db, batches: str) -> None:
    late = (OPENED, WORST, WORSE)  # WORSE arrives after WORST, which is newer
    if batches == "one batch":
        db.write(*late)
    else:
        db.write_each(*late)
    assert db.reader.incidents() == [WORST]


def test_it_does_not_reopen_a_closed_incident_when_its_opening_is_replayed(db: Db) -> None:
    db.write_each(OPENED, CLOSED)
    db.write(OPENED, WORSE)  # a spool replay after a lost commit outcome
    assert db.reader.incidents() == [CLOSED]
    assert db.reader.open_incidents() == []


def test_it_applies_a_write_as_new_as_the_stored_one(db: Db) -> None:
    db.write_each(OPENED, CLOSED)
    corrected = replace(CLOSED, reason="recovered: fibre spliced")  # same updated_at
    db.write_each(corrected, corrected)
    assert db.reader.incidents() == [corrected]


def test_it_keeps_the_acknowledgement_when_the_incident_changes(db: Db) -> None:
    db.write(OPENED)
    db.acknowledge("noc-lang-son", at(3), "Viettel dispatched a team")
    db.write_each(WORSE, CLOSED, OPENED)
    assert db.acks() == [("noc-lang-son", at(3), "Viettel dispatched a team")]
    assert db.reader.incidents() == [CLOSED]


def test_it_keeps_incidents_of_the_same_subject_apart_by_kind_and_start(db: Db) -> None:
    again = replace(OPENED, started_at=at(30), updated_at=at(30))
    down = replace(OPENED, kind="down", severity="critical")
    db.write(CLOSED, again, down)
    assert db.reader.incidents() == [CLOSED, down, again]  # same start: in writing order
    assert db.reader.open_incidents() == [down, again]


# -- reads -----------------------------------------------------------------------------


ISOLATED = IncidentRecord(
    subject_kind="site",
    subject="lso-02",
    kind="isolated",
    started_at=at(-600),  # the night before
    severity="critical",
    phase="before",
    reason="no link up",
    updated_at=at(-600),
    site="lso-02",
    sessions=("toan-sang",),
)
ENDPOINT_DOWN = IncidentRecord(
    subject_kind="target",
    subject="endpoint:vnpt-core",
    kind="endpoint_down",
    started_at=at(10),
    severity="critical",
    phase="during",
    reason="no answer from the VNPT core",
    updated_at=at(40),
    ended_at=at(40),
    carrier="vnpt",
    affected=("lso-01", "lso-02", "lso-03"),
)
EARLIER = replace(CLOSED, started_at=at(-120), updated_at=at(-100), ended_at=at(-100))


@pytest.fixture
def history(db: Db) -> Db:
    """An open site incident since the night before, a closed endpoint outage, two Viettel ones."""
    db.write(ENDPOINT_DOWN, CLOSED, ISOLATED, EARLIER)
    return db


def test_it_lists_incidents_oldest_start_first(history: Db) -> None:
    assert history.reader.incidents() == [ISOLATED, EARLIER, CLOSED, ENDPOINT_DOWN]


def test_it_returns_only_open_incidents(history: Db) -> None:
    history.write(replace(WORSE, subject="link:lso-03/vt"))
    open_now = history.reader.open_incidents()
    assert [i.subject for i in open_now] == ["lso-02", "link:lso-03/vt"]
    assert all(i.ended_at is None for i in open_now)
    assert history.reader.incidents(open_only=True) == open_now


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"subject": "link:lso-01/vt"}, [EARLIER, CLOSED]),
        ({"carrier": "viettel"}, [EARLIER, CLOSED]),
        ({"carrier": "vnpt"}, [ENDPOINT_DOWN]),
        ({"site": "lso-02"}, [ISOLATED]),
        ({"site": "lso-01", "carrier": "vnpt"}, []),
        # overlapping [since, until): the night-before outage is still open
        ({"since": at(0), "until": at(60)}, [ISOLATED, CLOSED, ENDPOINT_DOWN]),
        ({"since": at(30)}, [ISOLATED, ENDPOINT_DOWN]),
        ({"until": at(0)}, [ISOLATED, EARLIER]),  # CLOSED starts at until
        ({"since": at(-100), "until": at(0)}, [ISOLATED, EARLIER]),  # EARLIER ended at since
        ({"until": at(10)}, [ISOLATED, EARLIER, CLOSED]),  # ENDPOINT_DOWN starts at until
        ({"carrier": "viettel", "open_only": True}, []),
        ({"site": "lso-02", "open_only": True, "since": at(0)}, [ISOLATED]),
    ],
)
def test_it_filters_incidents(
    history: Db, filters: dict[str, object], expected: list[IncidentRecord]
) -> None:
    assert history.reader.incidents(**filters) == expected  # type: ignore[arg-type]


# -- readiness snapshots --------------------------------------------------------------


def test_it_round_trips_readiness_snapshots_once_each(db: Db) -> None:
    early, late = a_snapshot(60), a_snapshot(15, ready=True, sites_ready=3, not_ready=())
    other = a_snapshot(60, session="van-sang")
    db.write(late, early, other)
    db.write(a_snapshot(60, taken_at=at(1), ready=True), early)  # replays: the first stays
    got = db.reader.readiness()
    assert got == [early, other, late]
    assert got[0].not_ready == early.not_ready
    assert got[0].session_start.tzinfo is UTC
    assert db.reader.readiness("van-sang") == [other]
    assert db.reader.readiness("no-such-session") == []


# -- what callers get wrong -----------------------------------------------------------


@pytest.mark.parametrize(
    ("rec", "message"),
    [
        (an_incident(started_at=datetime(2024, 6, 1, 7, 30)), "started_at must be an aware"),
        (an_incident(updated_at=datetime(2024, 6, 1, 7, 30)), "updated_at must be an aware"),
        (an_incident(ended_at=datetime(2024, 6, 1, 8)), "ended_at must be an aware"),
        (an_incident(ended_at=at(-1)), "ends before it starts"),
        (an_incident(severity="page"), "severity 'page' is none of info, warning, critical"),
        (a_snapshot(15, taken_at=datetime(2024, 6, 2, 7, 15)), "taken_at must be an aware"),
        (a_snapshot(15, sites_ready=4), "4 sites ready out of 3"),
    ],
)
def test_it_refuses_what_the_database_would_refuse_at_once(
    tmp_path: Path, rec: IncidentRecord | ReadinessRecord, message: str
) -> None:
    store = Store(str(tmp_path / "examnet.db"))
    with pytest.raises(ValueError, match=message):
        store.add(rec)
    assert store.stats.queued == 0
    store.close()
