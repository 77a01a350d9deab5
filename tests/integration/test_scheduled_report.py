"""A scheduled report, end to end: a real `examnet run` sends it to a real webhook receiver.

Three exam sites and their carriers' gateways live on loopback addresses
(tests/fixtures/inventories.py province); a session of 20 seconds starts
as the monitor does, and `[[reports]]` asks for a report after each
session. The database holds, before the monitor starts, an incident that
isolated s1 during the session: the report the receiver gets must say so.
A restart after the report went out must not send it again.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.model.records import IncidentRecord
from monitor.storage import Store
from tests.fixtures.inventories import province
from tests.fixtures.monitor import MonitorProcess, calendar_around, wait_for
from tests.fixtures.receivers import RecordingServer


def _config(directory: Path, hook: RecordingServer, now: datetime) -> Path:
    text = province(3)
    head, _, rest = text.partition("[calendar]")
    rest = rest[rest.index("[probe]"):]
    calendar = calendar_around(now, timedelta(seconds=3), timedelta(seconds=20))
    path = directory / "sites.toml"
    path.write_text(head + calendar + rest + f'''
[alerting]
language = "en"

[[notifiers]]
id = "noc"
kind = "webhook"
url = "{hook.url}/reports"

[[reports]]
name = "after each session"
after_sessions = true
delay = "0s"
receivers = ["noc"]
''', encoding="utf-8")
    return path


def _isolated_during_the_session(db: Path, start: datetime) -> None:
    store = Store(f"sqlite:///{db}", flush_interval=0.01)
    store.upgrade()
    store.add(IncidentRecord(
        subject_kind="site", subject="s1", kind="isolated", started_at=start + timedelta(seconds=5),
        ended_at=start + timedelta(seconds=9), severity="critical", phase="during",  # type: ignore[arg-type]
        reason="no link up: vt, vnpt down", updated_at=start + timedelta(seconds=9), site="s1",
        sessions=("Ngữ văn",),
    ))  # type: ignore[arg-type]  # fmt: skip
    assert store.close() == 0


def test_a_running_monitor_sends_the_sessions_report_to_the_webhook_once(
    webhook_receiver: RecordingServer, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    config = _config(tmp_path, webhook_receiver, now)
    db = tmp_path / "db.sqlite"
    _isolated_during_the_session(db, now + timedelta(seconds=3))
    monitor = MonitorProcess(config, db, tmp_path / "log").start()
    try:
        [request] = wait_for(lambda: webhook_receiver.requests, 90, "the session's report")
        body = request.json()
        assert (body["status"], body["reason"], body["receiver"]) == ("report", "report", "noc")
        report = body["report"]
        assert report["name"] == "after each session"
        assert report["format"] == "html"
        assert "Ngữ văn" in report["title"]
        page = report["content"]
        assert page.startswith("<!doctype html>")
        r1 = dict(re.findall(r'<tr data-site="([^"]+)"><td>[^<]*</td><td>[^<]*</td>'
                             r'<td class="[a-z_]+" data-requirement="r1" data-outcome="([a-z_]+)"',
                             page))  # fmt: skip
        # s1 as stored; "shared" leases both carriers over one gateway: never redundant
        assert r1 == {"s0": "met", "s1": "violated", "s2": "met", "shared": "at_risk"}
        assert "queued for noc" in monitor.log()
        assert monitor.stop() == 0
        monitor.start()  # the latest run is within a day, and already in the outbox
        wait_for(lambda: monitor.log().count("metrics at") >= 2, 30, "the restart")
        time.sleep(5)  # its first calendar tick, and the outbox worker's polls
        assert len(webhook_receiver.requests) == 1
        assert monitor.log().count("queued for noc") == 1
    finally:
        monitor.stop()
