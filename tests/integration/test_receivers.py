"""examnet's notifiers against real receivers on 127.0.0.1.

A real Alertmanager v0.25 takes the pushes and answers its v2 API; aiosmtpd
takes e-mail over STARTTLS and AUTH; recording HTTP servers stand for a
webhook endpoint, a chat incoming webhook and the Telegram Bot API. The
notification is the one the rules make when Viettel's gateway goes down and
cuts three exam sites during the Ngữ văn session, firing and then resolved.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import socketserver
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.model import DeliveryError, Notification, Notifier, Reason
from alerts.notifiers import build
from alerts.notifiers.alertmanager import AlertmanagerSettings
from alerts.notifiers.chat import ChatSettings
from alerts.notifiers.email import EmailNotifier, EmailSettings
from alerts.notifiers.telegram import TelegramSettings
from alerts.notifiers.webhook import WebhookSettings
from monitor.model.secrets import Secret
from tests.fixtures.monitor import free_port, wait_for
from tests.fixtures.receivers import (
    ENDPOINT,
    GROUP,
    SITES,
    Alertmanager,
    FakeTelegram,
    Received,
    RecordingServer,
    SmtpServer,
    outage_notification,
    serving,
)

HMAC_KEY = "whk-5b1e0c7d9a2f4e6b"
CHAT_PATH = "/hooks/T0EXAM42/B0NOC7/9fXk2LmQ7pRsVw3Z"
CHAT_ID = "-1001234567890"
SITE_IDS = {site for site, _, _ in SITES}


def moments() -> tuple[datetime, datetime]:
    """Seven minutes ago (whole seconds, as Alertmanager keeps milliseconds) and a second ago."""
    now = datetime.now(UTC).replace(microsecond=0)
    return now - timedelta(minutes=7), now - timedelta(seconds=1)


def send(notifier: Notifier, notification: Notification) -> None:
    asyncio.run(notifier.send(notifier.render(notification)))


def refused(notifier: Notifier, notification: Notification) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        send(notifier, notification)
    return caught.value


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --------------------------------------------------------------------------
# Alertmanager


def alertmanager_notifier(alertmanager: Alertmanager, language: str = "vi") -> Notifier:
    return build(AlertmanagerSettings(url=alertmanager.url, timeout=5), language)


def active_alerts(alertmanager: Alertmanager, count: int) -> list[dict[str, Any]]:
    """The active alerts once there are `count` of them (an API read may lag a push)."""
    wait_for(lambda: len(alertmanager.alerts(active=True)) == count, 5, f"{count} active alerts")
    return alertmanager.alerts(active=True)


def test_it_shows_pushed_alerts_in_alertmanager_with_labels_and_summary(
    alertmanager: Alertmanager,
) -> None:
    started, _ = moments()
    notification = outage_notification(language="vi", started=started)
    send(alertmanager_notifier(alertmanager), notification)

    found = active_alerts(alertmanager, 4)
    by_name = {a["labels"]["alertname"]: a for a in found if "site" not in a["labels"]}
    endpoint = by_name["examnet_endpoint_down"]
    assert endpoint["labels"] == {
        "alertname": "examnet_endpoint_down",
        "kind": "endpoint_down",
        "severity": "critical",
        "phase": "during",
        "session": "Ngữ văn",
        "group": GROUP,
        "subject": f"endpoint:{ENDPOINT}",
        "subject_kind": "target",
        "carrier": "viettel",
        "endpoint": ENDPOINT,
    }
    source = notification.alerts[0]
    assert endpoint["annotations"]["summary"] == source.summary["vi"]
    assert "ảnh hưởng 3 điểm thi" in endpoint["annotations"]["summary"]
    assert source.summary["en"] in endpoint["annotations"]["description"]
    assert endpoint["annotations"]["incident_id"] == "41"
    assert parse_time(endpoint["startsAt"]) == started
    assert endpoint["status"]["state"] == "active"
    # no endsAt sent: Alertmanager gives it resolve_timeout from now
    assert parse_time(endpoint["endsAt"]) > datetime.now(UTC)

    sites = [a for a in found if "site" in a["labels"]]
    assert {a["labels"]["site"] for a in sites} == SITE_IDS
    assert {(a["labels"]["kind"], a["labels"]["carrier"], a["labels"]["link"]) for a in sites} == {
        ("down", "viettel", "viettel-fibre")
    }
    viet_bac = next(a for a in sites if a["labels"]["site"] == "thpt-viet-bac")
    assert viet_bac["labels"]["district"] == "TP Lạng Sơn"
    assert viet_bac["annotations"]["summary"].startswith("THPT Việt Bắc (TP Lạng Sơn) mất kết nối")


def test_it_resolves_alerts_in_alertmanager_when_examnet_pushes_their_end(
    alertmanager: Alertmanager,
) -> None:
    started, ended = moments()
    notifier = alertmanager_notifier(alertmanager, "en")
    firing = outage_notification(language="en", started=started)
    send(notifier, firing)
    active_alerts(alertmanager, 4)

    # the gateway is back first; its sites' alerts still fire
    endpoint, *sites = firing.alerts
    update = replace(
        firing, reason=Reason.UPDATE, alerts=(replace(endpoint, ends_at=ended), *sites)
    )
    send(notifier, update)
    still = alertmanager.alerts(active=True)
    assert {a["labels"].get("site") for a in still} == SITE_IDS

    send(notifier, outage_notification(language="en", started=started, ended=ended))
    # Alertmanager lists no alert whose endsAt has passed: resolved, not merely quiet
    assert alertmanager.alerts() == []
    assert alertmanager.alerts(active=True, silenced=True, inhibited=True) == []


def test_it_lets_an_alertmanager_silence_match_examnet_site_labels(
    alertmanager: Alertmanager,
) -> None:
    started, _ = moments()
    alertmanager.silence("site", "thcs-chi-lang")
    send(alertmanager_notifier(alertmanager), outage_notification(started=started))

    shown = alertmanager.alerts(silenced=False)
    assert len(shown) == 3
    assert "thcs-chi-lang" not in {a["labels"].get("site") for a in shown}
    [silenced] = [a for a in alertmanager.alerts() if a["status"]["state"] == "suppressed"]
    assert silenced["labels"]["site"] == "thcs-chi-lang"


def test_it_gets_a_permanent_error_when_alertmanager_refuses_an_alert(
    alertmanager: Alertmanager,
) -> None:
    started, _ = moments()
    notification = outage_notification(started=started, ended=started - timedelta(minutes=1))
    error = refused(alertmanager_notifier(alertmanager), notification)
    assert error.permanent
    assert "HTTP 400" in str(error)
    assert "start time must be before end time" in str(error)
    assert alertmanager.alerts() == []


def test_it_gets_a_transient_error_when_alertmanager_is_down(alertmanager: Alertmanager) -> None:
    started, _ = moments()
    alertmanager.stop()
    error = refused(alertmanager_notifier(alertmanager), outage_notification(started=started))
    assert not error.permanent
    assert f"POST {alertmanager.url}/api/v2/alerts" in str(error)


# --------------------------------------------------------------------------
# Webhook


def webhook_notifier(url: str, *, secret: str | None = HMAC_KEY, timeout: float = 5) -> Notifier:
    settings = WebhookSettings(url=url, secret=Secret(secret) if secret else None, timeout=timeout)
    return build(settings, "vi")


def test_it_signs_the_exact_body_the_webhook_receiver_gets(
    webhook_receiver: RecordingServer,
) -> None:
    started, _ = moments()
    notification = outage_notification(started=started)
    send(webhook_notifier(webhook_receiver.url + "/examnet"), notification)

    [got] = webhook_receiver.wait_for(1)
    assert got.path == "/examnet"
    # the receiver's own check, as docs/alerting.md tells it
    expected = "sha256=" + hmac.new(HMAC_KEY.encode(), got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["X-Examnet-Signature"], expected)
    assert got.headers["X-Examnet-Notification"] == notification.id
    assert got.headers["Content-Type"] == "application/json"
    assert "Việt Bắc".encode() in got.body  # UTF-8 as it is, not \u escapes

    body = got.json()
    assert set(body) == {
        "version", "id", "receiver", "status", "reason", "group_key", "group_labels",
        "created_at", "language", "alerts",
    }  # fmt: skip
    assert (body["version"], body["id"], body["status"], body["reason"]) == (
        "1", notification.id, "firing", "new",
    )  # fmt: skip
    assert body["group_key"] == GROUP
    assert len(body["alerts"]) == 4
    first = body["alerts"][0]
    assert set(first) == {
        "fingerprint", "status", "labels", "summary", "starts_at", "ends_at", "incident_id",
        "details",
    }  # fmt: skip
    assert first["summary"] == notification.alerts[0].summary
    assert first["ends_at"] is None
    assert parse_time(first["starts_at"]) == started


def test_it_sends_the_resolution_with_the_same_fingerprints(
    webhook_receiver: RecordingServer,
) -> None:
    started, ended = moments()
    notifier = webhook_notifier(webhook_receiver.url)
    send(notifier, outage_notification(started=started))
    send(notifier, outage_notification(started=started, ended=ended))

    firing, resolved = (r.json() for r in webhook_receiver.wait_for(2))
    assert (firing["status"], resolved["status"], resolved["reason"]) == (
        "firing", "resolved", "resolved",
    )  # fmt: skip
    assert [a["fingerprint"] for a in firing["alerts"]] == [
        a["fingerprint"] for a in resolved["alerts"]
    ]
    assert {a["status"] for a in resolved["alerts"]} == {"resolved"}
    assert {parse_time(a["ends_at"]) for a in resolved["alerts"]} == {ended}
    assert firing["id"] != resolved["id"]


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(503, False), (500, False), (429, False), (400, True), (401, True), (404, True)],
)
def test_it_sorts_webhook_answers_into_transient_and_permanent(
    webhook_receiver: RecordingServer, status: int, permanent: bool
) -> None:
    started, _ = moments()
    webhook_receiver.status = status
    # a receiver that quotes its key back (it has it: the key is shared)
    webhook_receiver.error_body = f"signature does not match key {HMAC_KEY}".encode()
    error = refused(webhook_notifier(webhook_receiver.url), outage_notification(started=started))

    assert error.permanent is permanent
    assert f"HTTP {status}: signature does not match key <secret>" in str(error)
    assert HMAC_KEY not in str(error)
    assert HMAC_KEY not in repr(error)
    assert len(webhook_receiver.requests) == 1


def test_it_gives_up_on_a_silent_webhook_receiver_after_its_timeout_as_transient(
    webhook_receiver: RecordingServer,
) -> None:
    started, _ = moments()
    webhook_receiver.delay = 10
    notifier = webhook_notifier(webhook_receiver.url, timeout=0.5)
    began = time.monotonic()
    error = refused(notifier, outage_notification(started=started))

    assert time.monotonic() - began < 3
    assert not error.permanent
    assert "timed out" in str(error)
    assert HMAC_KEY not in str(error)


def test_it_delivers_once_the_webhook_receiver_is_back_on_its_port(
    webhook_receiver: RecordingServer,
) -> None:
    started, _ = moments()
    notifier = webhook_notifier(webhook_receiver.url)
    notification = outage_notification(started=started)
    webhook_receiver.stop()
    error = refused(notifier, notification)
    assert not error.permanent
    assert "Connection refused" in str(error)

    webhook_receiver.start()
    send(notifier, notification)
    [got] = webhook_receiver.wait_for(1)
    assert got.headers["X-Examnet-Notification"] == notification.id


def test_it_sends_url_credentials_as_basic_auth_and_never_shows_them(
    webhook_receiver: RecordingServer,
) -> None:
    started, _ = moments()
    password = "am-Pw-73kq"  # noqa: S105 - made up
    url = f"http://examnet:{password}@127.0.0.1:{webhook_receiver.port}/hook"
    notifier = webhook_notifier(url, secret=None)
    send(notifier, outage_notification(started=started))
    [got] = webhook_receiver.wait_for(1)
    token = base64.b64encode(f"examnet:{password}".encode()).decode()
    assert got.headers["Authorization"] == f"Basic {token}"
    assert "X-Examnet-Signature" not in got.headers

    webhook_receiver.status = 401
    webhook_receiver.error_body = f"bad credentials: {token}".encode()
    error = refused(notifier, outage_notification(started=started))
    assert error.permanent
    assert password not in str(error)
    assert token not in str(error)
    assert "http://examnet:<secret>@127.0.0.1" in str(error)


# --------------------------------------------------------------------------
# E-mail


def email_notifier(
    server: SmtpServer, language: str, *, password: str | None = None, trusted: bool = True
) -> Notifier:
    settings = EmailSettings(
        host=server.host,
        port=server.port,
        sender="examnet <examnet@langson.example>",
        to=("noc@langson.example", "oncall@viettel.example"),
        username=server.username,
        password=Secret(password or server.password),
        ca_file=str(server.ca_file) if trusted else None,
        timeout=10,
    )
    return build(settings, language)


@pytest.mark.parametrize(
    ("language", "firing_words", "resolved_words"),
    [
        ("vi", ("4 cảnh báo", "Đang xảy ra (4):"), "Đã hết (4):"),
        ("en", ("4 alerts", "Firing (4):"), "Resolved (4):"),
    ],
)
def test_it_mails_firing_then_resolved_through_starttls_and_auth(
    smtp_server: SmtpServer, language: str, firing_words: tuple[str, str], resolved_words: str
) -> None:
    started, ended = moments()
    notifier = email_notifier(smtp_server, language)
    firing = outage_notification(language=language, started=started)
    send(notifier, firing)
    send(notifier, outage_notification(language=language, started=started, ended=ended))

    assert len(smtp_server.received) == 2
    first, second = smtp_server.received
    assert (first.tls, first.login) == (True, smtp_server.username)
    assert first.mail_from == "examnet@langson.example"
    assert first.rcpt_tos == ("noc@langson.example", "oncall@viettel.example")
    mail = first.message
    # the subject: severity, count, the first summary, cut at 160 characters
    whole = f"[CRITICAL] {firing_words[0]}: {firing.alerts[0].summary[language]}"
    subject = str(mail["Subject"])
    assert len(subject) <= 160
    assert subject == whole or (subject.endswith("…") and whole.startswith(subject[:-1]))
    assert mail["X-Examnet-Notification"] == firing.id
    text = mail.get_content()
    assert firing_words[1] in text
    for alert in firing.alerts:
        assert alert.summary[language] in text

    assert str(second.message["Subject"]).startswith(f"[RESOLVED] {firing_words[0]}: ")
    assert resolved_words in second.message.get_content()


def test_it_refuses_a_wrong_smtp_password_without_showing_it(smtp_server: SmtpServer) -> None:
    started, _ = moments()
    wrong = "not-the-Pw-4u"
    error = refused(
        email_notifier(smtp_server, "vi", password=wrong), outage_notification(started=started)
    )
    assert error.permanent
    assert "535" in str(error)
    assert wrong not in str(error)
    assert wrong not in repr(error)
    assert smtp_server.received == []


def test_it_refuses_an_smtp_server_whose_certificate_is_not_trusted(
    smtp_server: SmtpServer,
) -> None:
    started, _ = moments()
    error = refused(
        email_notifier(smtp_server, "vi", trusted=False), outage_notification(started=started)
    )
    assert error.permanent
    assert "certificate not trusted" in str(error)
    assert smtp_server.received == []


def test_it_reports_an_smtp_server_that_is_down_as_transient(smtp_server: SmtpServer) -> None:
    started, _ = moments()
    down = replace(smtp_server, port=free_port())
    error = refused(email_notifier(down, "vi"), outage_notification(started=started))
    assert not error.permanent
    assert smtp_server.password not in str(error)


# --------------------------------------------------------------------------
# Telegram


def telegram_notifier(api: FakeTelegram, token: str = FakeTelegram.token) -> Notifier:
    settings = TelegramSettings(token=Secret(token), chat_id=CHAT_ID, api_url=api.url, timeout=5)
    return build(settings, "vi")


def test_it_posts_send_message_to_the_telegram_bot_api(telegram_api: FakeTelegram) -> None:
    started, _ = moments()
    notification = outage_notification(language="vi", started=started)
    send(telegram_notifier(telegram_api), notification)

    [got] = telegram_api.wait_for(1)
    assert got.path == f"/bot{FakeTelegram.token}/sendMessage"
    message = got.json()
    assert message["chat_id"] == CHAT_ID
    assert message["text"].startswith("[CRITICAL] 4 cảnh báo: ")
    for alert in notification.alerts:
        assert alert.summary["vi"] in message["text"]
    assert telegram_api.sent == 1


@pytest.mark.parametrize(
    ("status", "token", "permanent"),
    [
        (401, FakeTelegram.token, True),
        (500, FakeTelegram.token, False),
        (200, "7012345678:AAH-a-token-revoked-last-week-0000", True),  # the fake's 404
    ],
)
def test_it_never_shows_the_telegram_token_in_errors(
    telegram_api: FakeTelegram, status: int, token: str, permanent: bool
) -> None:
    started, _ = moments()
    telegram_api.status = status
    error = refused(telegram_notifier(telegram_api, token), outage_notification(started=started))

    assert error.permanent is permanent
    # the fake's description quotes the path, token and all: it must come out hidden
    assert "/bot<secret>/sendMessage" in str(error)
    assert token not in str(error)
    assert token.split(":")[1] not in str(error)
    assert token not in repr(error)


# --------------------------------------------------------------------------
# Chat (Slack, Mattermost incoming webhooks)


def chat_notifier(receiver: RecordingServer, flavour: str) -> Notifier:
    url = Secret(receiver.url + CHAT_PATH)
    return build(ChatSettings(url=url, flavour=flavour, timeout=5), "en")


@pytest.mark.parametrize("flavour", ["slack", "mattermost"])
def test_it_posts_the_text_to_a_chat_incoming_webhook(
    webhook_receiver: RecordingServer, flavour: str
) -> None:
    started, _ = moments()
    notification = outage_notification(language="en", started=started)
    send(chat_notifier(webhook_receiver, flavour), notification)

    [got] = webhook_receiver.wait_for(1)
    assert got.path == CHAT_PATH
    message: dict[str, Any] = got.json()
    assert message["text"].startswith("[CRITICAL] 4 alerts: Viettel: vt-gw-langson is down")
    [attachment] = message["attachments"]
    assert attachment["color"] == "danger"
    for alert in notification.alerts:
        assert alert.summary["en"] in attachment["text"]
    assert message.get("username") == ("examnet" if flavour == "mattermost" else None)


def test_it_never_shows_the_chat_webhook_path_in_errors(webhook_receiver: RecordingServer) -> None:
    started, _ = moments()
    webhook_receiver.status = 404  # its default error text quotes the path
    error = refused(chat_notifier(webhook_receiver, "slack"), outage_notification(started=started))
    assert error.permanent
    assert CHAT_PATH not in str(error)
    assert "9fXk2LmQ7pRsVw3Z" not in str(error)
    assert str(error).startswith("POST http://127.0.0.1/<secret>: HTTP 404")


# --------------------------------------------------------------------------
# receivers that echo what they were sent: no secret, nor any long part of one (issue 10.5)

PASSWORD = "Zq8-wP3r-Tx7-mK2vN"  # noqa: S105 - made up; 18 characters, as in the issue


class EchoingReceiver(RecordingServer):
    """A careless receiver: its 401 quotes the request's headers after `pad` characters.

    With `cut`, it shortens each header value by that many characters itself, as a
    receiver that truncates its own echo does; with `only`, it quotes that header alone.
    """

    def __init__(self, pad: int = 0, cut: int = 0, only: str | None = None) -> None:
        super().__init__()
        self.pad, self.cut, self.only = pad, cut, only

    def answer(self, request: Received) -> tuple[int, bytes]:
        headers = [(k, v) for k, v in request.headers.items() if self.only in (None, k)]
        echoed = "".join(f"{k}: {v[: len(v) - self.cut]}; " for k, v in headers)
        return 401, ("." * self.pad + "not authorised; you sent: " + echoed).encode()


def leaked(text: str, secret: str, window: int = 6) -> list[str]:
    """The runs of `window` characters of `secret` found in `text`."""
    return [
        secret[i : i + window]
        for i in range(len(secret) - window + 1)
        if secret[i : i + window] in text
    ]


def basic_url(receiver: RecordingServer) -> str:
    return f"http://examnet:{PASSWORD}@127.0.0.1:{receiver.port}/hook"


def test_it_redacts_an_echoed_password_before_cutting_the_answer_to_an_excerpt() -> None:
    """Found in the field: the excerpt cut the echoed Basic token in two, and 15 of the
    password's 18 characters reached the log and outbox.last_error."""
    started, _ = moments()
    token = base64.b64encode(f"examnet:{PASSWORD}".encode()).decode()
    for pad in range(0, 200, 4):  # the cut falls anywhere, the token's middle included
        with serving(EchoingReceiver(pad=pad, only="Authorization")) as receiver:
            error = str(
                refused(
                    webhook_notifier(basic_url(receiver), secret=None),
                    outage_notification(started=started),
                )
            )
        assert error.startswith("POST http://examnet:<secret>@127.0.0.1"), error
        assert "HTTP 401: " in error
        assert not leaked(error, PASSWORD), (pad, error)
        assert not leaked(error, token), (pad, error)


@pytest.mark.parametrize("cut", [1, 3, 8])
def test_it_redacts_a_secret_the_receiver_cut_short_itself(cut: int) -> None:
    started, _ = moments()
    token = base64.b64encode(f"examnet:{PASSWORD}".encode()).decode()
    with serving(EchoingReceiver(cut=cut, only="Authorization")) as receiver:
        error = str(
            refused(webhook_notifier(basic_url(receiver)), outage_notification(started=started))
        )
        assert receiver.requests[0].headers["Authorization"] == f"Basic {token}"
    assert "Authorization: Basic <secret>" in error, error
    assert not leaked(error, token)
    assert not leaked(error, HMAC_KEY)  # the signature key was never sent: nothing to hide


class _EchoingSmtp(socketserver.StreamRequestHandler):
    """Offers AUTH PLAIN and LOGIN over plain SMTP and refuses both, quoting what it got."""

    def handle(self) -> None:
        self.reply("220 echo.test ESMTP")
        while line := self.rfile.readline():
            said = line.decode(errors="replace").strip()
            verb = said.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-echo.test\r\n250 AUTH PLAIN LOGIN")
            elif said.upper() == "AUTH LOGIN" or (verb == "AUTH" and "LOGIN" in said.upper()):
                self.reply("334 UGFzc3dvcmQ6")  # "Password:"
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:  # the AUTH PLAIN line, or the password's line of AUTH LOGIN
                self.reply(f"535 5.7.8 refused, you sent: {said}")

    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")


@contextlib.contextmanager
def echoing_smtp() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _EchoingSmtp)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_it_never_shows_a_password_an_smtp_server_quotes_back() -> None:
    started, _ = moments()
    with echoing_smtp() as port:
        settings = EmailSettings(
            host="127.0.0.1",
            port=port,
            sender="examnet@example.org",
            to=("noc@example.org",),
            starttls=False,
            username="noc",
            password=Secret(PASSWORD),
            timeout=5,
        )
        # built directly: validate() rightly refuses a password without STARTTLS
        error = refused(EmailNotifier(settings, "vi"), outage_notification(started=started))
    text = str(error)
    assert error.permanent
    assert "535 5.7.8 refused, you sent: <secret>" in text, text
    plain = base64.b64encode(f"\0noc\0{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, plain, base64.b64encode(PASSWORD.encode()).decode()):
        assert not leaked(text, secret), text
