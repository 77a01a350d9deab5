"""`examnet run` while its wall clock is stepped back and forward (issue 10, defect 4).

The monitor runs under libfaketime (Debian `faketime`), which steps the wall
clock of that one process only: CLOCK_REALTIME moves by what the test writes
to a file, CLOCK_MONOTONIC is left alone (FAKETIME_DONT_FAKE_MONOTONIC), as
an NTP correction does to a real machine. Targets are loopback addresses
(province(): 127.x), pinged over unprivileged ICMP sockets.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.storage import Store
from tests.fixtures.environment import unavailable
from tests.fixtures.inventories import province
from tests.fixtures.monitor import MonitorProcess, local, wait_for

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
INTERVAL = 2.0


def config(directory: Path) -> Path:
    now = datetime.now(UTC)
    text = province(3)
    head, _, rest = text.partition("[calendar]")
    rest = rest[rest.index("[probe]") :].replace(
        'interval = "10s"\nsession_interval = "10s"', 'interval = "2s"\nsession_interval = "2s"'
    )
    calendar = (  # the exam is weeks away: warnings, and the plain cadence
        f"[calendar]\nduring = {{ start = {local(now + timedelta(days=30))}, "
        f"end = {local(now + timedelta(days=32))} }}\n"
    )
    alerting = '\n[alerting]\ngroup_wait = "1s"\n'  # the leased site's page goes out at once
    path = directory / "sites.toml"
    path.write_text(head + calendar + rest + alerting, encoding="utf-8")
    return path


@pytest.fixture
def stepped_monitor(tmp_path: Path, ping_sockets_allowed: None) -> Iterator[MonitorProcess]:
    del ping_sockets_allowed
    if not LIBFAKETIME.exists():
        unavailable("needs libfaketime (Debian package faketime)")
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    monitor = MonitorProcess(
        config(tmp_path),
        tmp_path / "examnet.db",
        tmp_path / "examnet.log",
        extra=("--socket-mode", "unprivileged"),
        env={
            "LD_PRELOAD": str(LIBFAKETIME),
            "FAKETIME_TIMESTAMP_FILE": str(offset),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        },
    )
    monitor.start()
    try:
        yield monitor
    finally:
        monitor.stop()


def rounds(monitor: MonitorProcess) -> float:
    total = 0.0
    for result in ("answered", "lost", "failed"):
        total += monitor.sample("examnet_rounds_total", kind="icmp", result=result) or 0.0
    return total


def healthy(monitor: MonitorProcess) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{monitor.port}/healthz", timeout=5) as r:
            return bool(json.load(r)["status"] == "ok")
    except urllib.error.HTTPError:
        return False


def incidents(monitor: MonitorProcess) -> set[tuple[str, str, str | None]]:
    return {
        (i.subject, i.kind, None if i.ended_at is None else "ended") for i in monitor.incidents()
    }


def outbox(monitor: MonitorProcess) -> list[tuple[str, str]]:
    store = Store(monitor.db_url)
    try:
        return sorted((row.id, row.state) for row in store.alerting.outbox())
    finally:
        store.close()


def test_it_keeps_its_cadence_and_judgements_through_ntp_steps(
    stepped_monitor: MonitorProcess, tmp_path: Path
) -> None:
    monitor = stepped_monitor
    targets = 3 * 2 + 2 + 3 + 1  # links, the leased site's, endpoints, the control target
    wait_for(lambda: rounds(monitor) >= 4 * targets, 60, "the first rounds")
    # the leased site's fake redundancy: judged, and its page delivered (to the log)
    wait_for(lambda: [s for _, s in outbox(monitor)] == ["delivered"], 30, "the first page")
    before = incidents(monitor)
    sent = outbox(monitor)

    for step in ("-600", "+0"):  # back ten minutes, then forward again
        (tmp_path / "faketime").write_text(f"{step}\n")
        start, began = rounds(monitor), time.monotonic()
        for _ in range(8):  # 8 s of real time: 4 intervals
            time.sleep(1.0)
            assert healthy(monitor), monitor.log()[-3000:]
        done = rounds(monitor) - start
        expected = targets * (time.monotonic() - began) / INTERVAL
        assert done >= 0.7 * expected, f"{done:.0f} rounds for {expected:.0f} expected ({step})"

    assert monitor.sample("examnet_clock_steps_total") == 2.0
    assert incidents(monitor) == before  # nothing opened or closed because of a step
    assert outbox(monitor) == sent  # nothing sent early, nothing expired
    log = monitor.log()
    assert "the wall clock was stepped by -600" in log
    assert "Run time of job" not in log  # APScheduler's misfire warnings
    assert "was missed by" not in log
    assert monitor.stop(signal.SIGTERM) == 0


def test_healthz_fails_when_every_round_fails(tmp_path: Path, ping_sockets_denied: None) -> None:
    del ping_sockets_denied
    monitor = MonitorProcess(
        config(tmp_path),
        tmp_path / "examnet.db",
        tmp_path / "examnet.log",
        extra=("--socket-mode", "unprivileged"),
    )
    monitor.start()
    try:
        wait_for(lambda: rounds(monitor) > 0, 30, "rounds")
        wait_for(lambda: not healthy(monitor), 90, "/healthz to fail while every round fails")
        with urllib.request.urlopen(f"http://127.0.0.1:{monitor.port}/metrics", timeout=5):
            pass  # the port still answers: examnet is up, its probing is not
    finally:
        monitor.stop()
