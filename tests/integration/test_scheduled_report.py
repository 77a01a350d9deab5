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
from tests.fixtures.environment import need_programs
from tests.fixtures.inventories import province
from tests.fixtures.monitor import MonitorProcess, calendar_around, wait_for
from tests.fixtures.pdf import first_page_ink
from tests.fixtures.receivers import RecordingServer, SmtpServer


def _config(directory: Path, hook: RecordingServer, smtp: SmtpServer, now: datetime) -> Path:
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

{smtp.notifier("dept-mail", "so-gddt@example.org", "EXAMNET_REPORT_SMTP_PASSWORD")}
[[reports]]
name = "after each session"
after_sessions = true
delay = "0s"
receivers = ["noc"]

[[reports]]
name = "Báo cáo buổi thi"
after_sessions = true
delay = "0s"
format = "pdf"
receivers = ["dept-mail"]
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
    webhook_receiver: RecordingServer, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    need_programs("chromium", "pdftoppm")
    now = datetime.now(UTC).replace(microsecond=0)
    config = _config(tmp_path, webhook_receiver, smtp_server, now)
    db = tmp_path / "db.sqlite"
    _isolated_during_the_session(db, now + timedelta(seconds=3))
    password = {"EXAMNET_REPORT_SMTP_PASSWORD": smtp_server.password}
    monitor = MonitorProcess(config, db, tmp_path / "log", env=password).start()
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
        # the Department's copy: the same page printed, attached to an e-mail
        [mail] = wait_for(lambda: smtp_server.received, 120, "the PDF report's e-mail")
        assert "report for the exam plan: Báo cáo buổi thi — Ngữ văn" in mail.message["Subject"]
        [attached] = list(mail.message.iter_attachments())
        assert attached.get_content_type() == "application/pdf"
        assert re.fullmatch(r"bao-cao-buoi-thi-\d{8}-\d{4}\.pdf", attached.get_filename() or "")
        pdf = tmp_path / "attached.pdf"
        pdf.write_bytes(attached.get_content())
        assert 0.01 < first_page_ink(pdf, tmp_path) < 0.6  # printed on, not a blank sheet
        assert monitor.stop() == 0
        monitor.start()  # the latest run is within a day, and already in the outbox
        wait_for(lambda: monitor.log().count("metrics at") >= 2, 30, "the restart")
        time.sleep(5)  # its first calendar tick, and the outbox worker's polls
        assert len(webhook_receiver.requests) == 1
        assert monitor.log().count("queued for noc") == 1
        assert len(smtp_server.received) == 1
    finally:
        monitor.stop()
