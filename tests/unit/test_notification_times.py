"""Times in notifications: the plan's zone with its offset where a person reads them,
UTC (RFC 3339) where a program does."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerts.notifiers import build, text
from alerts.notifiers.alertmanager import AlertmanagerSettings
from alerts.notifiers.chat import ChatSettings
from alerts.notifiers.email import EmailSettings
from alerts.notifiers.telegram import TelegramSettings
from alerts.notifiers.webhook import WebhookSettings
from monitor.alerting import Alerting
from monitor.evaluation import Evaluator
from monitor.model.clock import FakeClock
from monitor.model.notifiers import LogSettings
from monitor.model.secrets import Secret
from monitor.storage import Store
from tests.fixtures.inventories import TWO_CARRIER_SITE, inventory_from
from tests.fixtures.receivers import outage_notification

PLAN_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2027, 6, 3, 0, 23, tzinfo=UTC)  # 07:23 in Lạng Sơn
T1 = T0 + timedelta(minutes=22)
START, END = "2027-06-03T00:23:00Z", "2027-06-03T00:45:00Z"
RESOLVED = outage_notification(language="en", started=T0, ended=T1)


def read(settings: Any, zone: ZoneInfo) -> str:
    """What a person reads of RESOLVED from a receiver built with `zone`."""
    rendered = build(settings, "en", zone).render(RESOLVED)
    if isinstance(rendered, list):  # log lines
        return "\n".join(rendered)
    if isinstance(rendered, email.message.EmailMessage):
        parsed = email.message_from_bytes(rendered.as_bytes(), policy=email.policy.default)
        return str(parsed.get_body().get_content())  # type: ignore[union-attr]
    sent = rendered.json()
    return str(sent.get("text", "")) + "".join(a["text"] for a in sent.get("attachments", []))


HUMAN_KINDS = [
    LogSettings(),
    EmailSettings(host="smtp.example", sender="examnet@x.example", to=("noc@x.example",)),
    TelegramSettings(token=Secret("7012345678:AAH-unit-test-token"), chat_id="1"),
    ChatSettings(url=Secret("https://hooks.slack.example/services/T0/B0/x")),
]


@pytest.mark.parametrize("settings", HUMAN_KINDS, ids=["log", "email", "telegram", "chat"])
def test_it_shows_times_in_the_plans_zone_with_the_offset(settings: Any) -> None:
    shown = read(settings, PLAN_ZONE)

    assert "(2027-06-03 07:23 +07:00 → 2027-06-03 07:45 +07:00)" in shown
    assert "UTC" not in shown


def test_it_says_the_offset_of_the_day_in_a_zone_with_summer_time() -> None:
    berlin = ZoneInfo("Europe/Berlin")

    assert text.when(T0, berlin) == "2027-06-03 02:23 +02:00"
    assert text.when(datetime(2027, 1, 4, 6, 0, tzinfo=UTC), berlin) == "2027-01-04 07:00 +01:00"


@pytest.mark.parametrize(
    "settings",
    [
        WebhookSettings(url="https://noc.example/hooks/examnet", secret=None),
        AlertmanagerSettings(url="http://127.0.0.1:9093"),
    ],
    ids=["webhook", "alertmanager"],
)
def test_it_keeps_utc_in_the_json_receivers_read(settings: Any) -> None:
    sent = build(settings, "en", PLAN_ZONE).render(RESOLVED).json()

    if isinstance(sent, dict):  # webhook: its own body
        first = sent["alerts"][0]
        assert (first["starts_at"], first["ends_at"]) == (START, END)
    else:  # Alertmanager's API v2
        assert (sent[0]["startsAt"], sent[0]["endsAt"]) == (START, END)


def test_it_gives_every_receiver_the_plans_zone(tmp_path: Path) -> None:
    inventory = inventory_from(
        TWO_CARRIER_SITE.replace('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Europe/Berlin"'),
        tmp_path,
    )
    store = Store(f"sqlite:///{tmp_path / 'examnet.db'}")
    store.upgrade()
    try:
        alerting = Alerting(inventory, store, Evaluator(inventory, {}, []), FakeClock(T0))
        [line, *_] = alerting.notifiers["log"].render(RESOLVED)
    finally:
        store.close()

    assert "(2027-06-03 02:23 +02:00 → 2027-06-03 02:45 +02:00)" in line
