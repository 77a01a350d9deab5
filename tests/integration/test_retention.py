"""Retention on SQLite and on a real PostgreSQL: what goes, what stays, and the writer
writing all along (issue 10.8).

A fake clock sets "now"; rows are written through the store as in
production, then the housekeeper runs one pass.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.model.clock import FakeClock
from monitor.model.inventory import DAY, RetentionSettings, Target
from monitor.model.records import (
    DeviceEvent,
    DeviceValue,
    IncidentRecord,
    InterfaceSample,
    OutboxRecord,
    PollRecord,
    PowerSample,
    ReadinessRecord,
    RoundRecord,
    StateChange,
)
from monitor.model.vocabulary import SubjectKind, TargetKind
from monitor.storage import Store

NOW = datetime(2027, 6, 3, 0, 30, tzinfo=UTC)
LINK = Target("link:lso-01/vt", TargetKind.LINK, "10.91.1.2", "viettel", site="lso-01", link="vt")
ROUTER = Target("device:lso-01/router", TargetKind.DEVICE, "10.91.1.1", "", site="lso-01")
FAST = {"flush_interval": 0.01, "retry_initial": 0.01, "retry_max": 0.05}


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def wait_until(condition: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'examnet.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    s = Store(url, clock=FakeClock(NOW), **FAST)  # type: ignore[arg-type]
    s.upgrade()
    s.register_targets([LINK, ROUTER])
    s.start()
    try:
        yield s
    finally:
        s.close()


def flushed(store: Store) -> None:
    wait_until(lambda: store.stats.queued == 0, "the rows to be written")
    assert store.stats.dropped_total == 0


def a_round(at: datetime) -> RoundRecord:
    return RoundRecord(LINK.key, at, 1000.0, 5, 5, 0.0, 0.3, 0.4, 0.35, 0.6, 0.05)


def device_rows(at: datetime) -> list[PollRecord | InterfaceSample | PowerSample | DeviceValue]:
    key = ROUTER.key
    return [
        PollRecord(key, at, 40.0, 2, 0),
        InterfaceSample(key, at, "Gi0/1", 1, "lso-01/vt", 1, 1e6, 2e6, 0.1, 0.2),
        PowerSample(key, at, False, 3, 2, 120, 100, 230.0, 0),
        DeviceValue(key, at, "temperature", 41.0),
    ]


def a_page(ident: str, group: str, created: datetime, delivered: bool = False) -> OutboxRecord:
    """A notification as alerting writes it; delivered ones were sent from memory."""
    return OutboxRecord(ident, "oncall", group, f'{{"id": "{ident}"}}', created,
                        NOW + timedelta(days=1), created if delivered else None)  # fmt: skip


# -- what goes ------------------------------------------------------------------------------


def test_it_deletes_rounds_and_polls_past_their_age_in_small_batches(store: Store) -> None:
    for day in range(40):  # two rounds and one poll a day for 40 days
        store.add_round(a_round(days_ago(day)))
        store.add_round(a_round(days_ago(day + 0.5)))
        for rec in device_rows(days_ago(day)):
            store.add(rec)
    flushed(store)
    settings = RetentionSettings(rounds=30 * DAY, polls=7 * DAY, batch=7)
    keeper = store.housekeeper(settings)

    deleted = keeper.run_once()

    assert deleted == {
        "probe_rounds": 19,  # older than 30 days: days 31..39 and 30.5..39.5
        "snmp_polls": 32,
        "interface_samples": 32,
        "power_samples": 32,
        "device_values": 32,
    }
    assert all(r.started_at >= days_ago(30) for r in store.rounds())
    assert len(store.rounds()) == 80 - deleted["probe_rounds"]
    assert [p.started_at for p in store.device_records(PollRecord)] == [
        days_ago(day) for day in range(7, -1, -1)
    ]
    # never more than `batch` rows in one DELETE: 19 rounds take 3, 32 polls take 5
    assert keeper.batches == 3 + 4 * 5 + 1  # and one look at the outbox: nothing
    assert keeper.run_once() == {}  # nothing left to do


# -- what stays -----------------------------------------------------------------------------


def test_it_keeps_the_audit_trail_however_old(store: Store) -> None:
    ancient = days_ago(3 * 365)
    change = StateChange(SubjectKind.SITE, "lso-01", ancient, "OK", "ISOLATED", "no link up")
    incident = IncidentRecord(
        "site", "lso-01", "isolated", ancient, "critical", "during", "no link up", ancient,
        ended_at=ancient + timedelta(hours=1), site="lso-01",
    )  # fmt: skip
    snapshot = ReadinessRecord("van", ancient + timedelta(hours=2), ancient, 3600, False, 1, 0)
    event = DeviceEvent(ROUTER.key, ancient, "rebooted", "sysUpTime went back")
    store.add_state_change(change)
    for rec in (incident, snapshot, event):
        store.add(rec)
    flushed(store)

    store.housekeeper(RetentionSettings(rounds=DAY, polls=DAY, notifications=DAY)).run_once()

    assert store.state_changes() == [change]
    assert store.incidents() == [incident]
    assert store.readiness() == [snapshot]
    assert store.device_records(DeviceEvent) == [event]


def test_it_deletes_only_finished_notifications_the_outbox_no_longer_needs(
    store: Store,
) -> None:
    old = days_ago(100)
    for page in (
        a_page("a1", "A", old, delivered=True),  # delivered 100 days ago: goes
        a_page("a2", "A", old + timedelta(minutes=1)),  # failed 100 days ago: goes
        a_page("a3", "A", old + timedelta(minutes=2), delivered=True),  # A's last word: stays
        a_page("b1", "B", old),  # still pending after 100 days: stays
        a_page("c1", "C", old),  # being sent: stays
        replace(a_page("e1", "E", old), expires_at=old + timedelta(hours=1)),  # expired: goes
        a_page("e2", "E", days_ago(1), delivered=True),  # delivered yesterday: stays
    ):
        store.add(page)
    flushed(store)
    db = store.alerting
    db.outbox_failed("a2", "HTTP 410 Gone", old + timedelta(minutes=1))
    assert [r.id for r in db.expire_outbox(old + timedelta(hours=2))] == ["e1"]
    assert sorted(r.id for r in db.claim_outbox(NOW, lease=3600)) == ["b1", "c1"]
    db.outbox_retry("b1", "HTTP 503", NOW + timedelta(minutes=5))  # pending again

    deleted = store.housekeeper(RetentionSettings(notifications=90 * DAY, batch=100)).run_once()

    assert deleted == {"outbox": 3}
    left = {row.id: row.state for row in db.outbox()}
    assert left == {"a3": "delivered", "b1": "pending", "c1": "sending", "e2": "delivered"}
    # what each group was last told, for a restart, is all still there
    latest = {row.group_key: row.id for row in db.outbox_latest()}
    assert latest == {"A": "a3", "B": "b1", "C": "c1", "E": "e2"}


# -- while running ---------------------------------------------------------------------------


def test_it_deletes_in_batches_while_the_writer_goes_on_writing(store: Store) -> None:
    for n in range(6000):  # old rounds, one every 10 s for 16 hours, 40 days ago
        store.add_round(a_round(days_ago(40) + timedelta(seconds=10 * n)))
    flushed(store)
    keeper = store.housekeeper(RetentionSettings(rounds=30 * DAY, batch=250))
    deleted: dict[str, int] = {}
    housekeeping = threading.Thread(target=lambda: deleted.update(keeper.run_once()))
    housekeeping.start()
    fresh = 0
    while housekeeping.is_alive() and fresh < 5000:
        store.add_round(a_round(NOW - timedelta(seconds=fresh)))
        fresh += 1
        time.sleep(0.001)
    housekeeping.join(120)
    flushed(store)

    assert fresh > 100  # the writer really wrote while the housekeeper deleted
    assert deleted == {"probe_rounds": 6000}
    assert keeper.batches >= 24
    assert len(store.rounds()) == fresh  # every round written meanwhile is there
    assert store.stats.write_errors_total == 0  # no batch waited out the lock


def test_it_counts_rows_sizes_and_oldest_rows_for_db_stats(store: Store) -> None:
    for day in (3, 2, 1):
        store.add_round(a_round(days_ago(day)))
    flushed(store)
    found = store.figures()
    tables = {t.name: t for t in found.tables}
    assert (tables["probe_rounds"].rows, tables["probe_rounds"].oldest) == (3, days_ago(3))
    assert (tables["state_changes"].rows, tables["state_changes"].oldest) == (0, None)
    assert tables["targets"].rows == 2
    assert all(t.size is not None and t.size > 0 for t in found.tables)
    assert found.size >= sum(t.size or 0 for t in found.tables)
