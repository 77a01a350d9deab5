"""Storage on SQLite in a temp dir: schema, round trips, replays, reads, URLs."""

from __future__ import annotations

import argparse
import logging
import random
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, ProgrammingError

from monitor.model.inventory import Target
from monitor.model.records import RoundRecord, StateChange
from monitor.model.retry import backoff_delay
from monitor.model.vocabulary import SubjectKind, TargetKind
from monitor.storage import Store, database_url, migrate
from monitor.storage import cli as storage_cli
from monitor.storage.schema import metadata, portable, probe_rounds, state_changes
from monitor.storage.spool import Spool, SpoolClosedError
from monitor.storage.writer import is_transient

HEAD = migrate.head_revision()  # the newest migration, whatever its number

ICT = timezone(timedelta(hours=7))
START = datetime(2024, 6, 1, 7, 30, 0, 123456, tzinfo=ICT)

TARGETS = (
    Target("endpoint:vt-core", TargetKind.ENDPOINT, "10.90.0.1", "viettel", endpoint="vt-core"),
    Target(
        "link:lso-01/vt",
        TargetKind.LINK,
        "10.91.1.2",
        "viettel",
        site="lso-01",
        link="vt",
        endpoint="vt-core",
    ),
)


def a_round(target: str = "link:lso-01/vt", seconds: float = 0, **figures: object) -> RoundRecord:
    values: dict[str, object] = {
        "duration_ms": 1004.5,
        "sent": 5,
        "received": 5,
        "loss": 0.0,
        "rtt_min_ms": 0.21,
        "rtt_avg_ms": 0.35,
        "rtt_median_ms": 0.33,
        "rtt_max_ms": 0.61,
        "jitter_ms": 0.08,
    }
    values.update(figures)
    return RoundRecord(target, START + timedelta(seconds=seconds), **values)  # type: ignore[arg-type]


def a_change(subject: str, state: str, seconds: float = 0, **kw: object) -> StateChange:
    kind = kw.pop("kind", SubjectKind.TARGET)
    return StateChange(
        subject_kind=kind,  # type: ignore[arg-type]
        subject=subject,
        at=START + timedelta(seconds=seconds),
        previous=str(kw.pop("previous", "UP")),
        state=state,
        reason=str(kw.pop("reason", "2 rounds with 100% loss")),
        figures={"loss": 1.0, "rounds": 2},
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "examnet.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store(str(db_path), flush_interval=0.01, retry_initial=0.01, retry_max=0.05)
    s.upgrade()
    s.register_targets(TARGETS)
    s.start()
    yield s
    s.close()


def written(store: Store, *records: RoundRecord | StateChange) -> Store:
    """Add the records through the writer thread and wait for them (close flushes)."""
    for rec in records:
        if isinstance(rec, RoundRecord):
            store.add_round(rec)
        else:
            store.add_state_change(rec)
    assert store.close() == 0
    return store


# -- schema ---------------------------------------------------------------------


def test_it_applies_migrations_that_match_the_metadata(db_path: Path) -> None:
    Store(str(db_path)).upgrade()
    engine = create_engine(f"sqlite:///{db_path}")
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": portable}
        )
        assert compare_metadata(context, metadata) == []
        assert context.get_current_revision() == HEAD


def test_it_upgrades_an_upgraded_database_without_change(db_path: Path) -> None:
    s = Store(str(db_path))
    s.upgrade()
    s.upgrade()
    assert s.current_revision() == HEAD


def test_it_puts_sqlite_in_wal_mode_with_foreign_keys(store: Store, db_path: Path) -> None:
    engine = store._engine
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


# -- round trips -------------------------------------------------------------------


def test_it_returns_rounds_as_written_with_aware_utc_datetimes(store: Store) -> None:
    sent = [a_round(seconds=0), a_round("endpoint:vt-core", 1, loss=1.0, received=0,
            rtt_min_ms=None, rtt_avg_ms=None, rtt_median_ms=None, rtt_max_ms=None,
            jitter_ms=None, error="timeout")]  # fmt: skip
    got = written(store, *sent).rounds()
    assert got == sent  # equal instants, microseconds kept
    assert all(r.started_at.tzinfo is UTC for r in got)
    assert got[0].started_at.hour == 0  # 07:30 in Hanoi is 00:30 UTC


def test_it_returns_state_changes_with_their_figures(store: Store) -> None:
    change = a_change("lso-01", "ISOLATED", kind=SubjectKind.SITE)
    [got] = written(store, change).state_changes()
    assert got == change
    assert got.at.tzinfo is UTC
    assert got.subject_kind is SubjectKind.SITE


def test_it_filters_rounds_by_target_and_time(store: Store) -> None:
    written(
        store, *(a_round(t, s) for s in range(4) for t in ("link:lso-01/vt", "endpoint:vt-core"))
    )
    since = START + timedelta(seconds=2)
    got = store.rounds(target="endpoint:vt-core", since=since)
    assert [(r.target, r.started_at) for r in got] == [
        ("endpoint:vt-core", since),
        ("endpoint:vt-core", since + timedelta(seconds=1)),
    ]


def test_it_does_not_duplicate_replayed_rows(db_path: Path, store: Store) -> None:
    rows = [a_round(seconds=0), a_round(seconds=1), a_change("link:lso-01/vt", "DOWN")]
    written(store, *rows, *rows)
    again = Store(str(db_path))
    again.register_targets(TARGETS)
    again.start()
    written(again, *rows)
    assert len(again.rounds()) == 2
    assert len(again.state_changes()) == 1
    assert again.stats.dropped_total == 0


def test_it_does_not_duplicate_a_batch_whose_commit_outcome_was_lost(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = store._writer._commit
    calls = []

    def commit_then_lose_the_answer(rows: Sequence[RoundRecord | StateChange]) -> None:
        commit(rows)
        calls.append(len(rows))
        if len(calls) == 1:  # committed, but the client never heard back
            raise OperationalError("COMMIT", {}, ConnectionError("server closed the connection"))

    monkeypatch.setattr(store._writer, "_commit", commit_then_lose_the_answer)
    written(store, a_round(seconds=0), a_round(seconds=1))
    assert len(calls) == 2  # the batch was replayed
    assert len(store.rounds()) == 2
    assert store.stats.write_errors_total == 1


def test_it_returns_the_newest_state_per_subject(store: Store) -> None:
    written(
        store,
        a_change("link:lso-01/vt", "UP", 5, previous="DOWN"),
        a_change("link:lso-01/vt", "DOWN", 0),
        a_change("lso-01", "LOST_REDUNDANCY", 0, kind=SubjectKind.SITE),
        a_change("lso-01", "ISOLATED", 3, kind=SubjectKind.SITE),
        # same name, other kind: a separate subject
        a_change("lso-01", "DOWN", 9, kind=SubjectKind.TARGET),
    )
    assert store.latest_states() == {
        ("target", "link:lso-01/vt"): "UP",
        ("site", "lso-01"): "ISOLATED",
        ("target", "lso-01"): "DOWN",
    }


def test_it_keeps_target_ids_and_updates_targets_registered_again(db_path: Path) -> None:
    s = Store(str(db_path))
    s.upgrade()
    s.register_targets(TARGETS)
    ids = dict(s._target_ids)
    moved = Target("endpoint:vt-core", TargetKind.ENDPOINT, "10.90.0.9", "viettel")
    s.register_targets([moved])
    assert s._target_ids == ids  # targets that left the file keep their rows
    with s._engine.connect() as conn:
        address = conn.exec_driver_sql(
            "SELECT address FROM targets WHERE key = 'endpoint:vt-core'"
        ).scalar()
    assert address == "10.90.0.9"


# -- what callers get wrong -------------------------------------------------------


def test_it_refuses_naive_times_and_unregistered_targets_at_once(store: Store) -> None:
    with pytest.raises(ValueError, match="aware"):
        store.add_round(RoundRecord("link:lso-01/vt", datetime(2024, 6, 1), 1.0, 5, 5, 0.0))
    with pytest.raises(ValueError, match="unregistered target 'link:nowhere/x'"):
        store.add_round(a_round("link:nowhere/x"))
    assert store.stats.queued == 0


def test_it_refuses_rows_after_close(store: Store) -> None:
    store.close()
    with pytest.raises(SpoolClosedError):
        store.add_round(a_round())


def test_it_drops_a_row_the_database_refuses_and_writes_the_rest(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="monitor.storage")
    poison = a_round(seconds=1, loss=1.5)  # a loss above 100 %: the CHECK refuses it
    written(store, a_round(seconds=0), poison, a_round(seconds=2))
    assert [r.started_at for r in store.rounds()] == [START, START + timedelta(seconds=2)]
    assert store.stats.dropped_total == 1
    assert "dropped the round of link:lso-01/vt at 2024-06-01T07:30:01.123456+07:00" in caplog.text


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://u@localhost/x"])
def test_it_refuses_databases_it_cannot_share_or_replay_on(url: str) -> None:
    with pytest.raises(ValueError, match=r"in-memory|unsupported"):
        Store(url)


def test_it_never_logs_the_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="monitor.storage")
    # nothing listens on port 1 of loopback: the connection is refused at once
    s = Store("postgresql+psycopg://examnet:s3cr3t-pw@127.0.0.1:1/examnet", retry_initial=0.01)
    s.add_state_change(a_change("lso-01", "ISOLATED"))
    assert s.close(timeout=0.5) == 1
    assert "s3cr3t-pw" not in caplog.text
    assert "***" in caplog.text
    assert s.stats.last_error is not None
    assert "s3cr3t-pw" not in s.stats.last_error
    assert "s3cr3t-pw" not in s.url


# -- the spool and the retry policy ---------------------------------------------


def test_it_drops_the_oldest_rows_past_the_spool_limit() -> None:
    spool: Spool[int] = Spool(3)
    for n in range(5):
        spool.put(n)
    assert spool.take(10, 0.0) == [2, 3, 4]
    assert spool.dropped_total == 2
    assert spool.drops_to_report() == {"int": 2}
    assert spool.drops_to_report() == {}


def _audit_spool(limit: int, audit_limit: int) -> Spool[str]:
    """Rows are strings: "r…" a measurement, "s…" a state change (the audit trail)."""
    return Spool(
        limit,
        audit_limit=audit_limit,
        is_audit=lambda row: row.startswith("s"),
        kind_of=lambda row: "state_change" if row.startswith("s") else "round",
    )


def test_it_drops_measurements_and_keeps_the_audit_trail_when_the_spool_is_full() -> None:
    spool = _audit_spool(3, 100)
    for n in range(10):
        spool.put(f"r{n}")
        if n % 3 == 0:
            spool.put(f"s{n}")
    assert spool.take(100, 0.0) == ["s0", "s3", "s6", "s9", "r7", "r8", "r9"]
    assert spool.dropped() == {"round": 7}
    assert spool.drops_to_report() == {"round": 7}


def test_it_bounds_the_audit_trail_on_its_own_and_says_which_kind_it_dropped() -> None:
    spool = _audit_spool(100, 2)
    for row in ("s1", "r1", "s2", "s3"):
        spool.put(row)
    assert spool.take(100, 0.0) == ["s2", "s3", "r1"]
    assert spool.dropped() == {"state_change": 1}


def test_it_gives_a_failed_batch_back_to_the_lanes_it_came_from() -> None:
    spool = _audit_spool(2, 10)
    for row in ("r1", "s1", "r2"):
        spool.put(row)
    batch = spool.take(10, 0.0)
    assert batch == ["s1", "r1", "r2"]
    spool.put("r3")
    spool.put("s2")
    spool.give_back(batch)  # r1 r2 r3 for 2 places: r1 goes; s1 s2 stay
    assert spool.take(10, 0.0) == ["s1", "s2", "r2", "r3"]
    assert spool.dropped() == {"round": 1}


def test_it_gives_a_failed_batch_back_at_the_front_and_drops_it_first_when_full() -> None:
    spool: Spool[int] = Spool(3)
    for n in range(3):
        spool.put(n)
    batch = spool.take(2, 0.0)
    assert batch == [0, 1]
    spool.put(3)
    spool.put(4)  # 2, 3, 4 queued, 0 and 1 in flight: 5 rows for 3 places
    assert len(spool) == 5
    spool.give_back(batch)
    assert spool.take(10, 0.0) == [2, 3, 4]
    assert spool.dropped_total == 2


def test_it_takes_a_partial_batch_after_the_flush_interval() -> None:
    spool: Spool[int] = Spool(100)
    spool.put(1)
    assert spool.take(500, 0.01) == [1]


def test_it_ends_the_writer_loop_when_closed_and_empty() -> None:
    spool: Spool[int] = Spool(10)
    taken: list[list[int] | None] = []
    reader = threading.Thread(target=lambda: taken.append(spool.take(5, 60.0)))
    reader.start()
    spool.close(deadline=float("inf"))
    reader.join(10)
    assert taken == [None]


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (OperationalError("INSERT", {}, Exception("database is locked")), True),
        (OperationalError("INSERT", {}, Exception("attempt to write a readonly database")), True),
        (ProgrammingError("INSERT", {}, Exception("permission denied for table")), True),
        (IntegrityError("INSERT", {}, Exception("NOT NULL constraint failed")), False),
        (DataError("INSERT", {}, Exception("invalid byte sequence")), False),
        (ConnectionRefusedError(), True),
        (KeyError("link:gone/x"), False),
    ],
)
def test_it_retries_what_the_database_causes_and_isolates_what_the_row_causes(
    error: Exception, transient: bool
) -> None:
    assert is_transient(error) is transient


def test_it_backs_off_exponentially_with_jitter_up_to_the_maximum() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(n, 0.5, 10.0, rng) for n in range(1, 12)]
    assert 0.25 <= delays[0] <= 0.5
    assert 4.0 <= delays[4] <= 8.0
    assert all(5.0 <= d <= 10.0 for d in delays[6:])
    assert backoff_delay(10_000, 0.5, 10.0, rng) <= 10.0


# -- URLs and the CLI -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cli", "env", "expected"),
    [
        (None, {}, "sqlite:///examnet.db"),
        (None, {"EXAMNET_DB": "postgresql+psycopg://u@db/examnet"}, "postgresql+psycopg://u@db/examnet"),
        ("sqlite:///cli.db", {"EXAMNET_DB": "sqlite:///env.db"}, "sqlite:///cli.db"),
        ("", {"EXAMNET_DB": ""}, "sqlite:///examnet.db"),
        ("var/examnet.db", {}, "sqlite:///var/examnet.db"),
        (None, {"EXAMNET_DB": "/srv/examnet/examnet.db"}, "sqlite:////srv/examnet/examnet.db"),
    ],
)  # fmt: skip
def test_it_resolves_the_database_url_from_flag_then_environment_then_default(
    cli: str | None, env: dict[str, str], expected: str
) -> None:
    assert database_url(cli, env) == expected


def _examnet(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="examnet")
    storage_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_it_upgrades_the_database_from_the_command_line(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _examnet("db", "current", "--db", str(db_path))
    assert args.func(args) == 0
    assert f"revision none (head is {HEAD}" in capsys.readouterr().out
    args = _examnet("db", "upgrade", "--db", str(db_path))
    assert args.func(args) == 0
    assert f"schema at revision {HEAD} (head)" in capsys.readouterr().out
    engine = create_engine(f"sqlite:///{db_path}")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(probe_rounds)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(state_changes)).scalar() == 0


def test_it_reports_a_database_it_cannot_reach_without_the_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _examnet("db", "upgrade", "--db", "postgresql+psycopg://u:pw-9f3@127.0.0.1:1/x")
    assert args.func(args) == 1
    err = capsys.readouterr().err
    assert "cannot upgrade postgresql+psycopg://u:***@127.0.0.1:1/x" in err
    assert "pw-9f3" not in err


@pytest.mark.parametrize("url", ["mysql://root@localhost/examnet", "not a url://"])
def test_it_refuses_an_unusable_url_on_the_command_line(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _examnet("db", "upgrade", "--db", url)
    assert args.func(args) == 2
    assert "unusable database URL" in capsys.readouterr().err
