"""`examnet run` against the lab's real hosts: rounds, outages, congestion, cadence.

One lab (tests/data/lab-sites.toml, prefix ext, 10.79.0.0/16) for the module;
each test runs its own monitor process with its own SQLite database and
watches it through the database, /metrics over HTTP and its log, as users do.
"""

from __future__ import annotations

import itertools
import json
import signal
import sqlite3
import statistics
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fixtures.lab import LabHandle
from tests.fixtures.monitor import (
    MonitorProcess,
    calendar_around,
    config_with,
    running_monitor,
    wait_for,
)

pytestmark = pytest.mark.lab

INTERVAL = 2.0  # the lab file's probe interval
K = 2  # down_after / up_after (defaults)
ACTIVE_TARGETS = {
    "endpoint:vt-core", "endpoint:vnpt-gw",
    "link:thpt-a/vt-fibre", "link:thpt-a/vnpt-fibre", "link:thpt-a/vt-4g",
    "link:thcs-b/vt-fibre", "link:thcs-b/vnpt-copper", "link:thcs-c/vnpt-fibre",
}
LINK_LABELS = {"kind": "link", "site": "thpt-a", "carrier": "vnpt", "link": "vnpt-fibre"}


@pytest.fixture
def monitor(clean_lab: LabHandle, tmp_path: Path) -> Iterator[MonitorProcess]:
    with running_monitor(tmp_path, clean_lab.config_file) as running:
        yield running


def scraped(monitor: MonitorProcess, metric: str, value: float, **labels: str) -> bool:
    """/metrics says `value` within two renders: it is rendered at most once per
    probe interval (monitor.web.scrape), so it may trail the database by one."""
    wait_for(lambda: monitor.sample(metric, **labels) == value, 3 * INTERVAL + 2,
             f"{metric}{labels} == {value} on /metrics")
    return True


def _targets_with_rounds(monitor: MonitorProcess, rounds: int) -> set[str]:
    counts: dict[str, int] = {}
    for r in monitor.rounds():
        counts[r.target] = counts.get(r.target, 0) + 1
    return {t for t, n in counts.items() if n >= rounds}


def test_it_stores_rounds_with_rtt_and_no_loss_for_healthy_links(
    monitor: MonitorProcess,
) -> None:
    wait_for(lambda: _targets_with_rounds(monitor, 3) >= ACTIVE_TARGETS, 30,
             "three rounds of every active target")
    rounds = monitor.rounds()
    assert {r.target for r in rounds} == ACTIVE_TARGETS  # the BTS is outside its window
    for r in rounds:
        assert r.error is None, r
        assert (r.sent, r.received, r.loss) == (3, 3, 0.0), r
        assert r.rtt_min_ms is not None
        assert r.rtt_max_ms is not None
        assert 0 < r.rtt_min_ms <= r.rtt_max_ms < 50, r
    assert monitor.state("site", "thpt-a") == "ok"
    assert scraped(monitor, "examnet_target_state_code", 0.0, target="link:thpt-a/vt-fibre")


def _change_at(monitor: MonitorProcess, subject: str, state: str,
               after: datetime) -> datetime | None:
    for change in monitor.changes(subject):
        if change.state == state and change.at >= after:
            return change.at
    return None


def test_it_sees_links_go_down_and_the_site_lose_redundancy_then_isolation(
    monitor: MonitorProcess, clean_lab: LabHandle
) -> None:
    link = "link:thpt-a/vnpt-fibre"
    wait_for(lambda: monitor.state("site", "thpt-a") == "ok", 30, "site thpt-a ok")

    cut = datetime.now(UTC)
    clean_lab.command("impair", "thpt-a/vnpt-fibre", "down")
    down_at = wait_for(lambda: _change_at(monitor, link, "down", cut), 20, f"{link} down")
    assert (down_at - cut).total_seconds() <= (K + 1) * INTERVAL
    assert scraped(monitor, "examnet_target_state_code", 2.0, target=link)  # down
    assert monitor.sample("examnet_target_info", target=link, **LINK_LABELS) == 1.0
    assert wait_for(lambda: _change_at(monitor, "thpt-a", "lost_redundancy", cut), 10,
                    "thpt-a lost redundancy")
    log = monitor.log()
    assert f"{link} (vnpt at THPT Việt Bắc) is DOWN (was up): every echo lost in 2" in log
    assert "destination unreachable: host unreachable" in log
    assert "site thpt-a (THPT Việt Bắc) is LOST_REDUNDANCY (was ok)" in log
    assert scraped(monitor, "examnet_site_state_code", 2.0, site="thpt-a")  # lost redundancy
    assert monitor.state("site", "thcs-b") == "ok"  # the others are untouched

    clean_lab.command("impair", "thpt-a/vt-fibre", "down")
    clean_lab.command("impair", "thpt-a/vt-4g", "down")
    wait_for(lambda: monitor.state("site", "thpt-a") == "isolated", 20, "thpt-a isolated")
    assert "site thpt-a (THPT Việt Bắc) is ISOLATED" in monitor.log()
    assert scraped(monitor, "examnet_site_carriers_up", 0.0, site="thpt-a")

    back = datetime.now(UTC)
    for name in ("thpt-a/vnpt-fibre", "thpt-a/vt-fibre", "thpt-a/vt-4g"):
        clean_lab.command("impair", name, "up")
    up_at = wait_for(lambda: _change_at(monitor, link, "up", back), 20, f"{link} up")
    # K answered rounds; the first may start up to one interval (+ its slot offset) later
    assert (up_at - back).total_seconds() <= (K + 2) * INTERVAL + 1
    wait_for(lambda: monitor.state("site", "thpt-a") == "ok", 20, "thpt-a ok again")
    assert scraped(monitor, "examnet_target_state_code", 0.0, target=link)  # up


def test_it_measures_rtt_rising_on_a_rate_limited_link_under_load(
    monitor: MonitorProcess, clean_lab: LabHandle
) -> None:
    link = "link:thcs-b/vt-fibre"
    wait_for(lambda: len(monitor.rounds(link)) >= 2, 20, "two calm rounds")
    calm = statistics.median(r.rtt_avg_ms for r in monitor.rounds(link) if r.rtt_avg_ms)

    clean_lab.command("impair", "thcs-b/vt-fibre", "rate", "256kbit")
    loaded_from = datetime.now(UTC)
    clean_lab.command("load", "thcs-b/vt-fibre", "--seconds", "10", "--rate", "10mbit")

    def loaded_rounds() -> list[float]:
        return [r.rtt_avg_ms for r in monitor.rounds(link)
                if r.started_at > loaded_from + timedelta(seconds=1) and r.rtt_avg_ms]

    busy = wait_for(lambda: (x := loaded_rounds()) and len(x) >= 2 and x, 20,
                    "two rounds under load")
    assert statistics.median(busy) > max(20.0, 20 * calm), (calm, busy)


def test_it_changes_cadence_when_an_exam_session_starts_and_ends(
    clean_lab: LabHandle, tmp_path: Path
) -> None:
    start_in, length = timedelta(seconds=10), timedelta(seconds=12)
    now = datetime.now(UTC)
    config = config_with(tmp_path, calendar=calendar_around(now, start_in, length))
    session_start = now.replace(microsecond=0) + start_in
    session_end = session_start + length
    target = "endpoint:vt-core"
    monitor = MonitorProcess(config, tmp_path / "db.sqlite", tmp_path / "log").start()
    try:
        assert monitor.sample("examnet_probe_interval_seconds") == 2.0
        wait_for(lambda: monitor.sample("examnet_probe_interval_seconds") == 1.0, 20,
                 "the session's 1 s cadence")
        assert monitor.sample("examnet_exam_session_active", session="Ngữ văn") == 1.0
        wait_for(lambda: datetime.now(UTC) > session_end + timedelta(seconds=5), 40,
                 "the session's end")
        assert monitor.sample("examnet_probe_interval_seconds") == 2.0
    finally:
        assert monitor.stop() == 0
    starts = [r.started_at for r in monitor.rounds(target)]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]

    def gaps_between(lo: datetime, hi: datetime) -> list[float]:
        return [g for s, g in zip(starts[1:], gaps, strict=True) if lo < s <= hi]

    before = gaps_between(starts[0], session_start)
    during = gaps_between(session_start + timedelta(seconds=2), session_end)
    after = gaps_between(session_end + timedelta(seconds=2), starts[-1])
    assert before, gaps
    assert during, gaps
    assert after, gaps
    assert statistics.median(before) == pytest.approx(2.0, abs=0.3)
    assert statistics.median(during) == pytest.approx(1.0, abs=0.2)
    assert statistics.median(after) == pytest.approx(2.0, abs=0.3)
    assert "probing 8 targets every 1 s" in monitor.log()


def test_it_loses_no_round_while_the_database_is_locked(
    clean_lab: LabHandle, tmp_path: Path
) -> None:
    monitor = MonitorProcess(clean_lab.config_file, tmp_path / "db.sqlite",
                             tmp_path / "log").start()
    try:
        wait_for(lambda: _targets_with_rounds(monitor, 2) >= ACTIVE_TARGETS, 20, "two rounds")
        locked = threading.Event()
        release = threading.Event()

        def hold_lock() -> None:
            # another program holds the database: every write fails as "locked"
            db = sqlite3.connect(tmp_path / "db.sqlite", timeout=30, isolation_level=None)
            db.execute("BEGIN EXCLUSIVE")
            locked.set()
            release.wait(30)
            db.execute("ROLLBACK")
            db.close()

        holder = threading.Thread(target=hold_lock)
        holder.start()
        locked.wait(30)
        lock_began = datetime.now(UTC)
        wait_for(lambda: (monitor.sample("examnet_db_write_errors_total") or 0) > 0, 30,
                 "a failed write")
        wait_for(lambda: datetime.now(UTC) > lock_began + timedelta(seconds=8), 20, "8 s locked")
        assert (monitor.sample("examnet_db_queue_depth") or 0) > 0
        release.set()
        holder.join()
        lock_ended = datetime.now(UTC)
        wait_for(lambda: monitor.sample("examnet_db_queue_depth") == 0, 30, "the spool drained")
        wait_for(lambda: datetime.now(UTC) > lock_ended + timedelta(seconds=2 * INTERVAL), 10,
                 "two more rounds")
        assert monitor.sample("examnet_db_rows_dropped_total") == 0
    finally:
        assert monitor.stop() == 0
    for target in ACTIVE_TARGETS:
        starts = [r.started_at for r in monitor.rounds(target)]
        in_outage = [s for s in starts if lock_began <= s <= lock_ended]
        assert len(in_outage) >= 3, (target, in_outage)
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
        assert max(gaps) < 1.5 * INTERVAL, (target, gaps)  # no round missing
    log = monitor.log()
    assert "database is locked" in log
    assert "rows could not be written" not in log


def test_it_answers_health_checks_and_stops_cleanly_on_sigint(
    clean_lab: LabHandle, tmp_path: Path
) -> None:
    monitor = MonitorProcess(clean_lab.config_file, tmp_path / "db.sqlite",
                             tmp_path / "log").start()
    try:
        url = f"http://127.0.0.1:{monitor.port}/healthz"
        with urllib.request.urlopen(url, timeout=5) as answer:
            health = json.load(answer)
        assert answer.status == 200
        assert health["status"] == "ok"
        assert health["scheduler"] == "running"
        wait_for(lambda: _targets_with_rounds(monitor, 2) >= ACTIVE_TARGETS, 20, "two rounds")
        counted = monitor.sample("examnet_rounds_total", kind="icmp", result="answered")
    finally:
        assert monitor.stop(signal.SIGINT) == 0
    log = monitor.log()
    assert "stopping" in log
    assert "stopped cleanly" in log
    assert "Traceback" not in log
    # every round counted before the stop reached the database, and nothing more was lost
    assert counted is not None
    assert len(monitor.rounds()) >= counted
