"""`[retention]` in sites.toml, the housekeeper thread, and `examnet db stats` (issue 10.8).

What the housekeeper deletes, on SQLite and PostgreSQL, is in
tests/integration/test_retention.py.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.model.clock import FakeClock
from monitor.model.inventory import (
    DAY,
    DEFAULT_KEEP_NOTIFICATIONS,
    DEFAULT_KEEP_POLLS,
    DEFAULT_KEEP_ROUNDS,
    RetentionSettings,
    Target,
)
from monitor.model.records import RoundRecord, StateChange
from monitor.model.vocabulary import SubjectKind, TargetKind
from monitor.storage import Store
from monitor.storage import cli as storage_cli
from tests.fixtures.inventories import TWO_CARRIER_SITE, inventory_from

NOW = datetime(2027, 6, 3, 0, 30, tzinfo=UTC)
LINK = Target("link:lso-01/vt", TargetKind.LINK, "10.91.1.2", "viettel", site="lso-01", link="vt")


# -- [retention] -----------------------------------------------------------------------------


def test_it_keeps_rounds_and_polls_30_days_and_notifications_90_when_left_out(
    tmp_path: Path,
) -> None:
    retention = inventory_from(TWO_CARRIER_SITE, tmp_path).retention
    assert retention == RetentionSettings()
    assert (retention.rounds, retention.polls) == (DEFAULT_KEEP_ROUNDS, DEFAULT_KEEP_POLLS)
    assert retention.rounds == 30 * DAY
    assert retention.notifications == DEFAULT_KEEP_NOTIFICATIONS == 90 * DAY


def test_it_reads_ages_in_days_or_hours_and_forever(tmp_path: Path) -> None:
    text = (
        TWO_CARRIER_SITE
        + """
[retention]
rounds = "14d"
polls = "36h"
notifications = "forever"
interval = "5m"
batch = 2000
"""
    )
    retention = inventory_from(text, tmp_path).retention
    assert retention == RetentionSettings(14 * DAY, 36 * 3600.0, None, 300.0, 2000)


# -- the housekeeper's thread ------------------------------------------------------------------


def test_it_deletes_old_rounds_in_its_own_thread_until_the_store_closes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="monitor.storage")
    store = Store(str(tmp_path / "examnet.db"), clock=FakeClock(NOW), flush_interval=0.01)
    store.upgrade()
    store.register_targets([LINK])
    for days in (40, 31, 29, 0):
        store.add_round(RoundRecord(LINK.key, NOW - timedelta(days=days), 1000.0, 5, 5, 0.0))
    store.start()
    deadline = time.monotonic() + 20
    while store.stats.queued and time.monotonic() < deadline:
        time.sleep(0.01)
    keeper = store.start_housekeeping(RetentionSettings(interval=3600.0))
    while keeper.deleted.get("probe_rounds") != 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.close() == 0
    assert [NOW - r.started_at for r in store.rounds()] == [timedelta(days=29), timedelta(0)]
    assert "retention: deleted 2 rows past their age" in caplog.text
    assert "probe_rounds 2" in caplog.text


# -- examnet db stats --------------------------------------------------------------------------


def _examnet(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="examnet")
    storage_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_it_shows_rows_size_and_oldest_row_per_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "examnet.db"
    store = Store(str(path), clock=FakeClock(NOW))
    store.upgrade()
    store.register_targets([LINK])
    for minutes in range(3):
        store.add_round(RoundRecord(LINK.key, NOW + timedelta(minutes=minutes), 1.0, 5, 5, 0.0))
    store.add_state_change(StateChange(SubjectKind.SITE, "lso-01", NOW, "OK", "ISOLATED", "x"))
    assert store.close() == 0

    args = _examnet("db", "stats", "--db", str(path))
    assert args.func(args) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert lines["probe_rounds"][1:2] == ["3"]
    assert lines["probe_rounds"][-1] == "2027-06-03T00:30:00+00:00"
    assert lines["state_changes"][1] == "1"
    assert lines["targets"][1] == "1"
    assert lines["outbox"][1] == "0"
    assert lines["outbox"][-1] == "-"
    assert lines["probe_rounds"][3] == "KiB"  # its size, indexes included
    assert out.splitlines()[-1].endswith("free for reuse")


def test_it_reports_a_database_it_cannot_read_for_stats(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _examnet("db", "stats", "--db", "postgresql+psycopg://u:pw-71@127.0.0.1:1/x")
    assert args.func(args) == 1
    err = capsys.readouterr().err
    assert "cannot read postgresql+psycopg://u:***@127.0.0.1:1/x" in err
    assert "pw-71" not in err
