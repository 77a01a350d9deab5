"""The outbox, silences and acknowledgements on SQLite and on a real PostgreSQL.

Production runs on PostgreSQL: the claims, leases, upserts and conditional
updates the outbox worker relies on are checked on both dialects.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from monitor.model.records import IncidentRecord, OutboxRecord, SilenceRecord
from monitor.storage import Store, migrate
from monitor.storage.alert_rows import Ack
from monitor.storage.incident_rows import incident_row
from monitor.storage.schema import acks, incidents
from monitor.storage.store import AlertingStore

T0 = datetime(2027, 6, 3, 0, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'examnet.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    s = Store(url, flush_interval=0.02)
    s.upgrade()
    s.start()
    try:
        yield s
    finally:
        s.close()


def written(store: Store, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(store.alerting.outbox()) < count:
        assert time.monotonic() < deadline, "outbox rows not written"
        time.sleep(0.02)


def note(ident: str, group: str, at: datetime, receiver: str = "oncall") -> OutboxRecord:
    return OutboxRecord(ident, receiver, group, f'{{"id": "{ident}"}}', at, at + timedelta(hours=1))


def test_claims_take_the_head_of_each_group_in_order_and_hold_the_rest(store: Store) -> None:
    db: AlertingStore = store.alerting
    for i, (ident, group) in enumerate([("a1", "A"), ("b1", "B"), ("a2", "A"), ("a3", "A")]):
        store.add(note(ident, group, T0 + timedelta(seconds=i)))
    store.add(note("a1", "A", T0))  # a replay changes nothing
    written(store, 4)
    first = db.claim_outbox(T0 + timedelta(seconds=10), lease=60)
    assert sorted(r.id for r in first) == ["a1", "b1"]  # one per group, the oldest
    assert db.claim_outbox(T0 + timedelta(seconds=11), lease=60) == []  # leased, and held
    db.outbox_retry("a1", "HTTP 503", T0 + timedelta(seconds=30))
    db.outbox_delivered("b1", T0 + timedelta(seconds=12))
    assert db.claim_outbox(T0 + timedelta(seconds=20), lease=60) == []  # a1 backs off; a2 waits
    [again] = db.claim_outbox(T0 + timedelta(seconds=31), lease=60)
    assert (again.id, again.attempts, again.last_error) == ("a1", 1, "HTTP 503")
    db.outbox_delivered("a1", T0 + timedelta(seconds=32))
    assert [r.id for r in db.claim_outbox(T0 + timedelta(seconds=33), lease=60)] == ["a2"]
    # killed mid-send: at the next start the lease is released and a2 is due again
    assert db.release_outbox() == 1
    assert [r.id for r in db.claim_outbox(T0 + timedelta(seconds=34), lease=60)] == ["a2"]
    db.outbox_failed("a2", "HTTP 400", T0 + timedelta(seconds=35))
    assert [r.id for r in db.claim_outbox(T0 + timedelta(seconds=36), lease=60)] == ["a3"]
    states = {r.id: r.state for r in db.outbox()}
    assert states == {"a1": "delivered", "b1": "delivered", "a2": "failed", "a3": "sending"}
    assert db.outbox_counts()[("oncall", "delivered")] == 2
    assert {r.group_key: r.id for r in db.outbox_latest()} == {"A": "a3", "B": "b1"}


def test_what_is_still_undelivered_at_its_expiry_is_given_up(store: Store) -> None:
    db = store.alerting
    store.add(note("late", "A", T0))
    written(store, 1)
    [expired] = db.expire_outbox(T0 + timedelta(hours=2))
    assert expired.id == "late"
    assert [r.state for r in db.outbox()] == ["expired"]
    assert db.claim_outbox(T0 + timedelta(hours=2), lease=60) == []


def test_silences_are_audited_and_a_file_silence_ended_by_hand_stays_ended(store: Store) -> None:
    db = store.alerting
    planned = SilenceRecord(
        "file:vt-work",
        ('carrier="viettel"',),
        T0,
        T0 + timedelta(hours=2),
        "planning",
        T0,
        "fibre works",
    )
    db.add_silence(planned)
    db.add_silence(planned)  # a restart writes it again: one silence
    assert [s.id for s in db.silences(active_at=T0 + timedelta(minutes=5))] == ["file:vt-work"]
    assert db.expire_silence("file:vt-work", "Lan", T0 + timedelta(minutes=10))
    db.add_silence(planned)  # the next restart must not revive it
    [ended] = db.silences()
    assert (ended.expired_by, ended.ends_at) == ("Lan", T0 + timedelta(minutes=10))
    assert db.silences(active_at=T0 + timedelta(minutes=11)) == []
    assert not db.expire_silence("file:vt-work", "Lan", T0 + timedelta(minutes=12))


def test_an_acknowledgement_is_kept_when_the_incident_is_written_again(store: Store) -> None:
    incident = IncidentRecord(
        "site", "thpt-a", "isolated", T0, "critical", "during", "no link up", T0, site="thpt-a"
    )
    store.add(incident)
    deadline = time.monotonic() + 10
    while not store.alerting.incident_rows(open_only=True):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    [stored] = store.alerting.incident_rows(open_only=True)
    assert store.alerting.acknowledge(stored.id, "Lan", "on my way", T0 + timedelta(minutes=1))
    later = IncidentRecord(
        "site",
        "thpt-a",
        "isolated",
        T0,
        "critical",
        "during",
        "no link up, second session",
        T0 + timedelta(minutes=5),
        site="thpt-a",
        sessions=("Ngữ văn",),
    )
    store.add(later)
    deadline = time.monotonic() + 10
    while store.alerting.incident_rows()[0].record.updated_at != later.updated_at:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    [after] = store.alerting.incident_rows()
    assert (after.acknowledged_by, after.ack_note) == ("Lan", "on my way")
    assert after.record.sessions == ("Ngữ văn",)


def stored_incident(store: Store, incident: IncidentRecord) -> int:
    store.add(incident)
    deadline = time.monotonic() + 10
    while not store.alerting.incident_rows(open_only=True):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return store.alerting.incident_rows(open_only=True)[0].id


ISOLATED = IncidentRecord(
    "site", "thpt-a", "isolated", T0, "critical", "during", "no link up", T0, site="thpt-a"
)


def test_a_second_acknowledgement_is_kept_beside_the_first(store: Store) -> None:
    """Issue 9.7: a second `examnet ack` silently replaced the first person's name and note."""
    ident = stored_incident(store, ISOLATED)
    db = store.alerting
    assert db.acknowledge(ident, "Lan", "on my way", T0 + timedelta(minutes=1))
    assert db.acknowledge(ident, "Minh", "Viettel dispatched a team", T0 + timedelta(minutes=4))
    assert not db.acknowledge(ident + 1000, "Lan", "no such incident", T0)
    [found] = db.incident_rows(open_only=True)
    assert found.acks == (
        Ack("Lan", T0 + timedelta(minutes=1), "on my way"),
        Ack("Minh", T0 + timedelta(minutes=4), "Viettel dispatched a team"),
    )
    assert (found.acknowledged_by, found.ack_note) == ("Minh", "Viettel dispatched a team")
    assert db.incident(ident) == found


def test_migration_0005_keeps_the_acknowledgements_made_before_it(url: str) -> None:
    old = Store(url)
    try:
        migrate.upgrade(old._engine, "0004")
        with old._engine.begin() as conn:
            row = incident_row(ISOLATED)
            conn.execute(
                insert(incidents).values(
                    **row,
                    acknowledged_by="Lan",
                    acknowledged_at=T0 + timedelta(minutes=2),
                    ack_note="on my way",
                )
            )
            conn.execute(insert(incidents).values(**{**row, "subject": "thpt-b"}))
        old.upgrade()
        [acked, other] = old.alerting.incident_rows()
        assert acked.acks == (Ack("Lan", T0 + timedelta(minutes=2), "on my way"),)
        assert other.acks == ()
        assert old.alerting.acknowledge(acked.id, "Minh", "", T0 + timedelta(minutes=3))
        with old._engine.begin() as conn:  # the incident writer's columns are left alone
            conn.execute(update(incidents).values(reason="still no link"))
            assert len(conn.execute(select(acks)).all()) == 2
        again = old.alerting.incident(acked.id)
        assert again is not None
        assert [a.by for a in again.acks] == ["Lan", "Minh"]
    finally:
        old.close()
