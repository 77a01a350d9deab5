"""The SQLite file under examnet: who may read it, and what happens when it goes away.

Real files in a temp dir, a real writer thread; the file is deleted or
replaced the way an operator (or a clean-up script) would.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.model import Alert
from monitor.model.inventory import Target
from monitor.model.records import RoundRecord, StateChange
from monitor.model.vocabulary import SubjectKind, TargetKind
from monitor.selfwatch import DATABASE_FILE_HOLD, Health, SelfWatch
from monitor.storage import Store
from tests.fixtures.inventories import inventory_from, province

START = datetime(2024, 6, 1, 0, 30, tzinfo=UTC)
TARGET = Target("link:lso-01/vt", TargetKind.LINK, "10.91.1.2", "viettel", site="lso-01", link="vt")
FAST = {"flush_interval": 0.01, "retry_initial": 0.01, "retry_max": 0.05}


def a_round(seconds: int, error: str | None = None) -> RoundRecord:
    return RoundRecord(TARGET.key, START + timedelta(seconds=seconds), 1000.0, 5, 5, 0.0,
                       error=error)  # fmt: skip


def wait_until(condition: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which SQLite alone would create 0644 files."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "examnet.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store(str(db_path), **FAST)  # type: ignore[arg-type]
    s.upgrade()
    s.register_targets([TARGET])
    s.start()
    yield s
    s.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- who may read it (issue 10.9) ------------------------------------------------------


def test_it_creates_the_database_and_its_wal_and_shm_readable_by_its_owner_only(
    umask_022: None, store: Store, db_path: Path
) -> None:
    store.add_round(a_round(0))
    wait_until(lambda: store.stats.written_total == 1, "the round")
    files = [db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")]
    assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}


def test_it_warns_about_an_existing_database_other_users_can_read(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="monitor.storage")
    sqlite3.connect(db_path).close()
    db_path.chmod(0o644)
    Store(str(db_path)).upgrade()
    assert "can be read by other users (mode -rw-r--r--): chmod 600" in caplog.text
    assert _mode(db_path) == 0o644  # the operator's file: told, not changed


# -- NUL characters (issue 10.9; the PostgreSQL case is in test_storage_faults.py) -----


def test_it_stores_text_with_nul_characters_replaced_and_loses_nothing(store: Store) -> None:
    change = StateChange(SubjectKind.TARGET, TARGET.key, START, "UP", "DOWN",
                         "ifDescr Gi0/1\x00\x00", {"descr": "a\x00b"})  # fmt: skip
    store.add_round(a_round(0, error="agent said \x00"))
    store.add_state_change(change)
    assert store.close() == 0
    assert store.stats.dropped_total == 0
    [got] = store.rounds()
    assert got.error == "agent said \ufffd"
    [stored] = store.state_changes()
    assert stored.reason == "ifDescr Gi0/1\ufffd\ufffd"
    assert stored.figures == {"descr": "a\ufffdb"}


# -- deleted or replaced under it (issue 10.9) -----------------------------------------


def test_it_notices_its_database_file_was_deleted_and_writes_to_a_new_one(
    umask_022: None, store: Store, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="monitor.storage")
    store.add_round(a_round(0))
    wait_until(lambda: store.stats.written_total == 1, "the first round")
    for name in (db_path.name, f"{db_path.name}-wal", f"{db_path.name}-shm"):
        (db_path.parent / name).unlink(missing_ok=True)  # rm examnet.db*

    store.add_round(a_round(10))
    wait_until(lambda: store.stats.written_total == 2, "the round after the deletion")
    stats = store.stats
    assert stats.database_file_changes == 1
    assert stats.database_file_problem is not None
    assert f"the database file {db_path} was deleted" in stats.database_file_problem
    assert f"the database file {db_path} was deleted" in caplog.text
    assert db_path.exists()
    assert _mode(db_path) == 0o600
    # the new file has the schema and the targets: the round is readable there
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM probe_rounds").fetchone() == (1,)
    assert [r.started_at for r in store.rounds()] == [START + timedelta(seconds=10)]


def test_it_writes_to_a_database_file_put_in_place_of_its_own(
    store: Store, db_path: Path, tmp_path: Path
) -> None:
    store.add_round(a_round(0))
    wait_until(lambda: store.stats.written_total == 1, "the first round")
    backup = tmp_path / "backup.db"
    with sqlite3.connect(db_path) as source, sqlite3.connect(backup) as copy:
        source.backup(copy)  # what an operator restores
    shutil.move(backup, db_path)

    store.add_round(a_round(10))
    wait_until(lambda: store.stats.written_total == 2, "the round after the replacement")
    assert "was replaced by another file" in str(store.stats.database_file_problem)
    assert [r.started_at.second for r in store.rounds()] == [0, 10]


def test_it_keeps_the_rows_while_no_new_database_file_can_be_made(
    store: Store, db_path: Path
) -> None:
    store.add_round(a_round(0))
    wait_until(lambda: store.stats.written_total == 1, "the first round")
    db_path.unlink()
    db_path.mkdir()  # a directory where the file was: nothing can be created there
    store.add_round(a_round(10))
    wait_until(lambda: store.stats.write_errors_total >= 2, "failed attempts")
    assert store.stats.queued == 1
    assert store.stats.dropped_total == 0
    db_path.rmdir()
    wait_until(lambda: store.stats.queued == 0, "the round, once a file can be made")
    assert [r.started_at.second for r in store.rounds()] == [10]
    assert store.stats.database_file_changes == 1  # one event, however many attempts


# -- examnet's self-watch raises it -----------------------------------------------------


def _health(changes: int, problem: str | None = None) -> Health:
    return Health(
        5, 0, None, 10, 0, None, 10.0, database_file_changes=changes, database_file_problem=problem
    )


def _file_alerts(watch: SelfWatch, health: Health, now: datetime) -> list[Alert]:
    return [a for a in watch.check(health, now) if a.labels["kind"] == "database_file"]


def test_a_deleted_database_file_is_an_alert_for_an_hour(tmp_path: Path) -> None:
    t0 = datetime(2027, 6, 3, 0, 0, tzinfo=UTC)
    watch = SelfWatch(inventory_from(province(2), tmp_path), t0)
    assert not _file_alerts(watch, _health(0), t0)
    problem = "the database file /srv/examnet.db was deleted at 2027-06-03T00:00:10+00:00"
    [fired] = _file_alerts(watch, _health(1, problem), t0 + timedelta(seconds=10))
    assert fired.labels["kind"] == "database_file"
    assert fired.labels["subject"] == "examnet"
    assert "/srv/examnet.db was deleted" in fired.summary["en"]
    assert not watch.database_down  # writes go on, to the new file
    later = t0 + timedelta(seconds=10 + DATABASE_FILE_HOLD - 1)
    assert not _file_alerts(watch, _health(1, problem), later)
    [resolved] = _file_alerts(watch, _health(1, problem), later + timedelta(seconds=1))
    assert resolved.ends_at is not None
