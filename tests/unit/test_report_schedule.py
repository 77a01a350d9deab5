"""Scheduled reports: when each is due (pure), what a restart sends, how receivers carry one.

The plan's calendar is tests/fixtures/inventories.py's province: `during`
2027-06-03 to 06-06 (Hà Nội time), one session "Ngữ văn" 07:30–09:30 on
06-03. Times below are local (UTC+7) unless they say otherwise.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.model import Notification, Reason
from alerts.notifiers.email import EmailNotifier, EmailSettings
from alerts.notifiers.log import LogNotifier
from alerts.notifiers.webhook import WebhookNotifier, WebhookSettings
from monitor.model.inventory import Inventory
from monitor.model.notifiers import LogSettings
from monitor.model.reports import ScheduledReport, latest_run, runs_between
from monitor.model.vocabulary import Phase
from monitor.reporting import Reports, notification_id
from tests.fixtures.inventories import inventory_from, province

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAILY = ScheduledReport("daily", ("log",), at=time(18, 0))
SESSIONS = ScheduledReport("sessions", ("log",), after_sessions=True, delay=600)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 6, day, hour, minute, tzinfo=HANOI)


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    return inventory_from(province(2), tmp_path)


def test_a_daily_report_is_due_at_its_time_on_the_days_of_its_phases(
    inventory: Inventory,
) -> None:
    runs = runs_between(DAILY, inventory.calendar, HANOI, local(1, 0), local(10, 0))
    assert [r.due for r in runs] == [local(3, 18), local(4, 18), local(5, 18)]  # `during` only
    assert (runs[0].since, runs[0].until) == (local(2, 18), local(3, 18))  # the day before it
    before = ScheduledReport("before", ("log",), at=time(18, 0), phases=(Phase.BEFORE,))
    assert runs_between(before, inventory.calendar, HANOI, local(2, 0), local(10, 0))[0].due == (
        local(2, 18)
    )


def test_a_session_report_is_due_after_the_session_with_its_delay(inventory: Inventory) -> None:
    [run] = runs_between(SESSIONS, inventory.calendar, HANOI, local(1, 0), local(10, 0))
    assert (run.due, run.since, run.until, run.session) == (
        local(3, 9, 40), local(3, 7, 30), local(3, 9, 30), "Ngữ văn"
    )  # fmt: skip


def test_a_restart_sends_only_the_latest_run_missed_within_a_day(inventory: Inventory) -> None:
    assert latest_run(DAILY, inventory.calendar, HANOI, local(5, 17)).due == local(4, 18)  # type: ignore[union-attr]
    assert latest_run(DAILY, inventory.calendar, HANOI, local(7, 12)) is None  # too long ago


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment

    def monotonic(self) -> float:
        return 0.0


def reports(inventory: Inventory, *wanted: ScheduledReport) -> Reports:
    made = replace(inventory, reports=wanted)
    return Reports(made, None, _Clock(local(1, 0)), lambda *_: {}, lambda _n: None)  # type: ignore[arg-type]


def test_the_tick_sends_each_run_once_whatever_the_clock_does(inventory: Inventory) -> None:
    sender = reports(inventory, DAILY, SESSIONS)
    assert [(r.name, run.due) for r, run in sender.due(local(3, 9, 0))] == []  # start: none missed
    assert sender.due(local(3, 9, 30)) == []
    assert [
        run.due
        for _, run in sender.due(
            local(
                3,
                9,
                40,
            )
        )
    ] == [local(3, 9, 40)]
    assert sender.due(local(3, 9, 30)) == []  # the clock stepped back: not again
    assert sender.due(local(3, 9, 41)) == []
    # the clock jumps two days ahead: the latest run of each report, not a burst
    assert [run.due for _, run in sender.due(local(5, 19))] == [local(5, 18)]


def test_a_restart_in_the_evening_sends_the_days_report_it_missed(inventory: Inventory) -> None:
    sender = reports(inventory, DAILY, SESSIONS)
    found = [(r.name, run.due) for r, run in sender.due(local(3, 20))]
    assert found == [("daily", local(3, 18)), ("sessions", local(3, 9, 40))]


def test_ids_are_stable_per_run_and_receiver(inventory: Inventory) -> None:
    [run] = runs_between(SESSIONS, inventory.calendar, HANOI, local(1, 0), local(10, 0))
    assert notification_id(run, "log") == notification_id(run, "log")
    assert notification_id(run, "log") != notification_id(run, "noc")


REPORT = Notification(
    id="report-1", receiver="noc", group_key="report:daily", group_labels={"report": "daily"},
    reason=Reason.REPORT, alerts=(), created_at=local(3, 18), language="vi",
    report={"name": "daily", "title": "Báo cáo: daily — 03/06", "format": "html",
            "content": "<!doctype html><p>Điểm thi</p>", "since": "a", "until": "b"},
)  # fmt: skip


def test_receivers_carry_a_report_as_json_html_mail_or_a_log_line() -> None:
    again = Notification.from_json(REPORT.to_json())  # as the outbox keeps it
    assert again == REPORT
    hook = WebhookNotifier(WebhookSettings(url="https://noc.example/hook"), "vi").render(again)
    body = json.loads(hook.body)
    assert (body["status"], body["reason"], body["alerts"]) == ("report", "report", [])
    assert body["report"]["content"] == "<!doctype html><p>Điểm thi</p>"
    mail = EmailNotifier(
        EmailSettings(host="smtp.example", sender="e@x.example", to=("n@x.example",)), "vi"
    ).render(again)
    assert mail["Subject"] == "Báo cáo: daily — 03/06"
    html = mail.get_body(("html",))
    assert html is not None
    assert "Điểm thi" in html.get_content()
    [line] = LogNotifier(LogSettings(), "vi").render(again)
    assert line.startswith("report 'daily' (html, 30 characters) to noc:")


def test_check_and_run_warn_of_a_pdf_report_on_a_machine_without_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor import cli  # noqa: PLC0415 - the command line's own check

    inventory = inventory_from(province(2) + '''
[[reports]]
name = "Báo cáo buổi thi"
after_sessions = true
format = "pdf"
receivers = ["log"]
''', tmp_path)  # fmt: skip
    assert inventory.reports[0].form == "pdf"
    monkeypatch.setattr(cli, "has_browser", lambda: False)
    [warning] = cli.with_machine_warnings(inventory).warnings[-1:]
    assert 'report "Báo cáo buổi thi": field "format": a PDF needs headless Chromium' in warning
    monkeypatch.setattr(cli, "has_browser", lambda: True)
    assert cli.with_machine_warnings(inventory).warnings == inventory.warnings
