"""The notifiers' render(), without a network: signatures, bodies, words, secrets.

render() is a pure function of a notification, so everything a receiver
will read is checked here; tests/integration/test_receivers.py sends it to
real receivers.
"""

from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
import hashlib
import hmac
import re
import smtplib
import ssl
import urllib.error
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts import http
from alerts.model import Alert, DeliveryError, Notification, Reason, Refreshing
from alerts.notifiers import NOTIFIERS, SETTINGS, InvalidNotifierError, build, text, webhook
from alerts.notifiers import email as email_kind
from alerts.notifiers.alertmanager import AlertmanagerSettings, label_name
from alerts.notifiers.chat import ChatSettings
from alerts.notifiers.email import EmailSettings
from alerts.notifiers.telegram import TelegramSettings
from alerts.notifiers.webhook import WebhookSettings
from monitor.config.notifiers import setting_key
from monitor.model.notifiers import LogSettings
from monitor.model.secrets import Secret
from tests.fixtures.receivers import GROUP, SITES, outage_notification

DOCS = Path(__file__).resolve().parents[2] / "docs" / "alerting.md"
T0 = datetime(2027, 6, 3, 0, 23, tzinfo=UTC)  # 07:23 in Lạng Sơn, the Ngữ văn session
T1 = T0 + timedelta(minutes=22)
HMAC_KEY = "whk-5b1e0c7d9a2f4e6b"
TOKEN = "7012345678:AAH-unit-test-token-Zr8pQ"  # noqa: S105 - made up
PASSWORD = "pw-Xq7!mails"  # noqa: S105 - made up
CHAT_URL = "https://hooks.slack.example/services/T0EXAM42/B0NOC7/9fXk2LmQ7pRsVw3Z"

FIRING = outage_notification(language="vi", started=T0)
RESOLVED = outage_notification(language="vi", started=T0, ended=T1)


def webhook_settings(secret: str | None = HMAC_KEY) -> WebhookSettings:
    return WebhookSettings(
        url="https://noc.example/hooks/examnet", secret=None if secret is None else Secret(secret)
    )


def email_settings(**changes: Any) -> EmailSettings:
    settings = EmailSettings(
        host="smtp.example",
        sender="examnet <examnet@langson.example>",
        to=("noc@langson.example",),
        username="noc-langson",
        password=Secret(PASSWORD),
    )
    return replace(settings, **changes)


EVERY_KIND = [
    LogSettings(),
    webhook_settings(),
    AlertmanagerSettings(url="http://127.0.0.1:9093"),
    email_settings(),
    TelegramSettings(token=Secret(TOKEN), chat_id="-1001234567890"),
    ChatSettings(url=Secret(CHAT_URL)),
]
SECRETS = (HMAC_KEY, TOKEN, PASSWORD, CHAT_URL, "9fXk2LmQ7pRsVw3Z")


def section(title: str) -> str:
    """The text of docs/alerting.md under the heading `title`, to the next heading as high."""
    lines = DOCS.read_text(encoding="utf-8").splitlines()
    start = lines.index(title)
    level = len(title) - len(title.lstrip("#"))
    rest = lines[start + 1 :]
    end = next((i for i, line in enumerate(rest) if re.match(rf"#{{1,{level}}} ", line)), len(rest))
    return "\n".join(rest[:end])


# --------------------------------------------------------------------------
# the registry and the docs


def test_it_keeps_one_list_of_kinds() -> None:
    assert list(NOTIFIERS) == list(SETTINGS)
    assert all(NOTIFIERS[k].settings is SETTINGS[k] for k in SETTINGS)
    kinds = [NOTIFIERS[k].notifier(s, "vi").kind for k, s in zip(SETTINGS, EVERY_KIND, strict=True)]
    assert kinds == list(SETTINGS)


def test_it_asks_the_notifier_whether_it_keeps_alert_state() -> None:
    refreshing = [
        k for k, s in zip(SETTINGS, EVERY_KIND, strict=True)
        if isinstance(NOTIFIERS[k].notifier(s, "vi"), Refreshing)
    ]
    assert refreshing == ["alertmanager"]


@pytest.mark.parametrize("kind", list(SETTINGS))
def test_it_documents_every_key_of_every_kind(kind: str) -> None:
    documented = section(f"### `{kind}`")
    for f in dataclasses.fields(SETTINGS[kind]):
        assert f"| `{setting_key(f)}` |" in documented, f"{kind}: {setting_key(f)}"


def test_it_documents_every_field_of_the_webhook_body() -> None:
    documented = section("#### The JSON body")
    body = webhook.document(FIRING)
    for key in [*body, *body["alerts"][0]]:
        assert f"| `{key}` |" in documented, key
    report = webhook.document(replace(FIRING, alerts=(), reason=Reason.REPORT, report={
        "name": "daily", "title": "t", "format": "md", "content": "c", "since": "", "until": ""}))
    assert report["status"] == "report"
    documented_fields = set(re.findall(r"^\| `(\w+)` \|", documented, re.MULTILINE))
    assert documented_fields == {*body, *body["alerts"][0], *report}


def test_the_documented_signature_check_accepts_what_examnet_signs() -> None:
    code = section("#### Verifying the signature").split("```python\n")[1].split("```")[0]
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - our own documentation's example
    request = build(webhook_settings(), "vi").render(FIRING)
    check = namespace["examnet_signed"]
    assert len(code.strip().splitlines()) <= 5
    assert check(request.body, request.headers["X-Examnet-Signature"], HMAC_KEY)
    assert not check(request.body + b" ", request.headers["X-Examnet-Signature"], HMAC_KEY)
    assert not check(request.body, request.headers["X-Examnet-Signature"], "another key")


# --------------------------------------------------------------------------
# webhook


def test_it_signs_like_github_does() -> None:
    # the example of GitHub's "Validating webhook deliveries"
    assert webhook.signature(b"Hello, World!", "It's a Secret to Everybody") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_it_signs_the_exact_body_it_sends() -> None:
    request = build(webhook_settings(), "vi").render(FIRING)
    expected = hmac.new(HMAC_KEY.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Examnet-Signature"] == f"sha256={expected}"
    assert request.headers["X-Examnet-Notification"] == FIRING.id
    assert request.headers["Content-Type"] == "application/json"


def test_it_sends_no_signature_without_a_secret() -> None:
    request = build(webhook_settings(secret=None), "vi").render(FIRING)
    assert "X-Examnet-Signature" not in request.headers


def test_it_refuses_an_empty_webhook_secret() -> None:
    with pytest.raises(InvalidNotifierError, match="secret is empty"):
        build(webhook_settings(secret=""), "vi")


def test_it_puts_the_notification_in_the_webhook_body() -> None:
    body = build(webhook_settings(), "vi").render(RESOLVED).json()
    assert (body["version"], body["id"], body["receiver"]) == ("1", RESOLVED.id, "oncall")
    assert (body["status"], body["reason"], body["language"]) == ("resolved", "resolved", "vi")
    assert (body["group_key"], body["group_labels"]) == (GROUP, {"group": GROUP})
    assert body["created_at"] == "2027-06-03T00:45:00Z"
    [endpoint, *sites] = body["alerts"]
    assert endpoint == {
        "fingerprint": RESOLVED.alerts[0].fingerprint,
        "status": "resolved",
        "labels": RESOLVED.alerts[0].labels,
        "summary": RESOLVED.alerts[0].summary,
        "starts_at": "2027-06-03T00:23:00Z",
        "ends_at": "2027-06-03T00:45:00Z",
        "incident_id": 41,
        "details": RESOLVED.alerts[0].details,
    }
    assert [a["labels"]["site"] for a in sites] == [s for s, _, _ in SITES]


def test_it_writes_the_webhook_body_in_utf8_not_escapes() -> None:
    body = build(webhook_settings(), "vi").render(FIRING).body
    assert "mất kết nối Viettel".encode() in body
    assert b"\\u" not in body


# --------------------------------------------------------------------------
# Alertmanager


def test_it_maps_alerts_to_alertmanager_labels_and_annotations() -> None:
    firing, resolved = (
        build(AlertmanagerSettings(url="http://127.0.0.1:9093/"), "en").render(n)
        for n in (FIRING, RESOLVED)
    )
    assert firing.url == "http://127.0.0.1:9093/api/v2/alerts"
    endpoint = firing.json()[0]
    assert endpoint["labels"]["alertname"] == "examnet_endpoint_down"
    assert "site" not in endpoint["labels"]  # empty: Alertmanager would treat it as absent
    assert endpoint["annotations"]["summary"] == FIRING.alerts[0].summary["vi"]
    assert FIRING.alerts[0].summary["en"] in endpoint["annotations"]["description"]
    assert "reason: no reply to 5 of 5 echo requests" in endpoint["annotations"]["description"]
    assert endpoint["startsAt"] == "2027-06-03T00:23:00Z"
    assert "endsAt" not in endpoint
    assert {a["endsAt"] for a in resolved.json()} == {"2027-06-03T00:45:00Z"}
    assert [a["labels"] for a in resolved.json()] == [a["labels"] for a in firing.json()]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("site", "site"), ("exam-phase", "exam_phase"), ("2nd", "_2nd"), ("", "_"), ("a.b", "a_b")],
)
def test_it_makes_valid_prometheus_label_names(name: str, expected: str) -> None:
    assert label_name(name) == expected


# --------------------------------------------------------------------------
# words: firing and resolved, Vietnamese and English


def test_it_words_a_firing_group_in_vietnamese() -> None:
    headline = text.headline(FIRING)
    assert headline.startswith("[CRITICAL] 4 cảnh báo: Viettel: vt-gw-langson ngừng hoạt động")
    body = text.body(FIRING)
    assert body.startswith("Đang xảy ra (4):\n- Viettel: vt-gw-langson ngừng hoạt động")
    assert "(từ 2027-06-03 00:23 UTC) [sự cố #41]" in body
    assert "- THPT Việt Bắc (TP Lạng Sơn) mất kết nối Viettel (viettel-fibre)" in body
    assert f"Mã thông báo: {FIRING.id}" in body
    assert "Đã hết" not in body


def test_it_words_a_resolved_group_in_english() -> None:
    resolved = replace(RESOLVED, language="en")
    assert text.headline(resolved).startswith("[RESOLVED] 4 alerts: Viettel: vt-gw-langson is down")
    body = text.body(resolved)
    assert body.startswith("Resolved (4):\n")
    assert "(2027-06-03 00:23 UTC → 2027-06-03 00:45 UTC)" in body
    assert "Firing" not in body


def test_it_words_a_group_in_part_resolved_under_both_headings() -> None:
    endpoint, *sites = FIRING.alerts
    update = replace(FIRING, reason=Reason.UPDATE, alerts=(*sites, replace(endpoint, ends_at=T1)))
    body = text.body(update)
    assert "Đang xảy ra (3):" in body
    assert "Đã hết (1):" in body
    assert text.headline(update).startswith("[CRITICAL] 3 cảnh báo: THPT Việt Bắc")


def test_it_marks_an_escalation_in_the_subject() -> None:
    escalated = replace(FIRING, reason=Reason.ESCALATION)
    assert text.headline(escalated).startswith("[CRITICAL] [CHUYỂN CẤP] 4 cảnh báo")


def test_a_drills_notifications_say_so_first_in_every_language() -> None:
    def labelled(session: str) -> Notification:
        marked = (replace(a, labels={**a.labels, "rehearsal": session}) for a in FIRING.alerts)
        return replace(FIRING, alerts=tuple(marked))

    drill = labelled("Ngữ văn")
    assert text.headline(drill).startswith("[DIỄN TẬP] [CRITICAL] 4 cảnh báo")
    assert text.headline(replace(drill, language="en")).startswith("[REHEARSAL] [CRITICAL]")
    assert text.headline(labelled("")).startswith("[CRITICAL] 4 cảnh báo")


def test_it_falls_back_to_the_receivers_language_when_the_notification_names_none() -> None:
    unnamed = replace(FIRING, language="")
    telegram = build(TelegramSettings(token=Secret(TOKEN), chat_id="1"), "en").render(unnamed)
    assert telegram.json()["text"].startswith("[CRITICAL] 4 alerts: Viettel: vt-gw-langson is down")
    mail = build(email_settings(), "vi").render(unnamed)
    assert str(mail["Subject"]).startswith("[CRITICAL] 4 cảnh báo")


# --------------------------------------------------------------------------
# e-mail, Telegram, chat


def test_it_writes_an_email_that_reads_back_in_vietnamese() -> None:
    mail = build(email_settings(), "vi").render(FIRING)
    parsed = email.message_from_bytes(mail.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == text.headline(FIRING)
    assert parsed["From"] == "examnet <examnet@langson.example>"
    assert parsed["Message-ID"] == f"<{FIRING.id}@examnet>"
    assert parsed["X-Examnet-Notification"] == FIRING.id
    content = parsed.get_content()
    assert "THCS Hữu Lũng (Hữu Lũng) mất kết nối Viettel" in content
    assert "    reason: no reply to 5 of 5 echo requests" in content  # details in e-mail only


@pytest.mark.parametrize(
    "summary",
    [
        "THPT Việt Bắc (Cao Lộc) mất kết nối VNPT (vnpt-fibre) — trong buổi thi Ngữ văn",
        "Báo cáo bảo đảm thông tin liên lạc: Báo cáo buổi thi — Ngữ văn " * 3,
        "plain words " * 20,
    ],
)
def test_a_long_vietnamese_subject_keeps_every_space_where_it_is_folded(summary: str) -> None:
    """Python's folder dropped the space between two encoded words ("mấtkết nối")."""
    endpoint, *_ = FIRING.alerts
    one = replace(FIRING, alerts=(replace(endpoint, summary={"vi": summary}),))
    mail = build(email_settings(), "vi").render(one)
    wire = mail.as_bytes()
    parsed = email.message_from_bytes(wire, policy=email.policy.default)
    assert parsed["Subject"] == text.headline(one)
    assert max(len(line) for line in wire.split(b"\r\n")) <= 78


def test_a_pdf_report_is_attached_to_its_email() -> None:
    pdf = b"%PDF-1.4 a report"
    report = {"name": "Báo cáo buổi thi", "title": "Báo cáo buổi thi — Ngữ văn", "format": "pdf",
              "content": base64.b64encode(pdf).decode(), "encoding": "base64",
              "filename": "bao-cao-buoi-thi-20270603-0730.pdf",
              "since": "", "until": ""}  # fmt: skip
    sent = replace(FIRING, alerts=(), reason=Reason.REPORT, report=report)
    mail = build(email_settings(), "vi").render(sent)
    parsed = email.message_from_bytes(mail.as_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "Báo cáo buổi thi — Ngữ văn"
    [attached] = list(parsed.iter_attachments())
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_filename() == "bao-cao-buoi-thi-20270603-0730.pdf"
    assert attached.get_content() == pdf


def test_it_keeps_an_email_subject_on_one_line() -> None:
    endpoint, *sites = FIRING.alerts
    broken = replace(endpoint, summary={"vi": "SNMP said:\r\nBcc: someone@else.example"})
    mail = build(email_settings(), "vi").render(replace(FIRING, alerts=(broken, *sites)))
    assert mail["Subject"] == "[CRITICAL] 4 cảnh báo: SNMP said: Bcc: someone@else.example"
    assert mail["Bcc"] is None


def test_it_cuts_a_long_telegram_message_within_the_api_limit() -> None:
    many = tuple(
        replace(a, fingerprint=f"{a.fingerprint}-{i}") for i in range(60) for a in FIRING.alerts
    )
    message = build(TelegramSettings(token=Secret(TOKEN), chat_id="1"), "vi").render(
        replace(FIRING, alerts=many)
    )
    sent = message.json()["text"]
    assert len(sent) == 4000
    assert sent.endswith("…")
    assert sent.startswith("[CRITICAL] 240 cảnh báo: ")


@pytest.mark.parametrize(
    ("flavour", "expected"), [("slack", "&lt;b&gt; &amp; co"), ("mattermost", "<b> & co")]
)
def test_it_escapes_chat_markup_for_slack_only(flavour: str, expected: str) -> None:  # fmt: skip
    alert = Alert("fp", {"severity": "warning"}, {"vi": "<b> & co"}, T0)
    notification = Notification("n1", "chat", "g", {}, Reason.NEW, (alert,), T0)
    message = build(ChatSettings(url=Secret(CHAT_URL), flavour=flavour), "vi").render(notification)
    assert message.json()["text"] == f"[WARNING] {expected}"
    assert message.json()["attachments"][0]["color"] == "warning"


def test_it_colours_a_resolved_chat_message_good() -> None:
    message = build(ChatSettings(url=Secret(CHAT_URL)), "vi").render(RESOLVED)
    assert message.json()["attachments"][0]["color"] == "good"


def test_it_writes_one_log_line_per_alert() -> None:
    lines = build(LogSettings(), "vi").render(RESOLVED)
    assert len(lines) == 4
    assert all(" resolved: " in line for line in lines)
    assert "(2027-06-03 00:23 UTC → 2027-06-03 00:45 UTC)" in lines[0]


# --------------------------------------------------------------------------
# secrets


@pytest.mark.parametrize("settings", EVERY_KIND, ids=list(SETTINGS))
def test_it_shows_no_secret_in_settings_notifier_or_rendered_reprs(settings: Any) -> None:
    notifier = build(settings, "vi")
    rendered = notifier.render(FIRING)
    shown = " ".join([repr(settings), str(settings), repr(notifier), repr(rendered)])
    if isinstance(rendered, http.HttpRequest):
        shown += " " + rendered.shown_url
    for secret in SECRETS:
        assert secret not in shown
    assert TOKEN.split(":")[1] not in shown


def test_it_takes_url_credentials_out_of_the_url() -> None:
    request = http.json_request("https://examnet:p%40ss@am.example:9093/x", {}, timeout=1)
    assert request.url == "https://am.example:9093/x"
    assert request.authorization == "Basic ZXhhbW5ldDpwQHNz"  # examnet:p@ss
    assert request.shown_url == "https://examnet:<secret>@am.example:9093/x"
    assert "p@ss" in request.secrets
    assert "p%40ss" not in repr(request)
    assert "ZXhhbW5ldDpwQHNz" not in repr(request)


def test_it_redacts_a_secret_as_written_and_percent_encoded() -> None:
    said = f"/bot{TOKEN}/x and /bot{TOKEN.replace(':', '%3A')}/x"
    assert http.redact(said, [TOKEN]) == "/bot<secret>/x and /bot<secret>/x"


def test_it_shows_only_the_origin_of_a_chat_webhook() -> None:
    assert http.origin_only(CHAT_URL) == "https://hooks.slack.example/<secret>"


# --------------------------------------------------------------------------
# transient or permanent


@pytest.mark.parametrize(
    ("failure", "permanent"),
    [
        (ConnectionRefusedError(111, "Connection refused"), False),
        (TimeoutError("timed out"), False),
        (urllib.error.URLError(OSError(-2, "Name or service not known")), False),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), True),
        (urllib.error.URLError(ssl.SSLCertVerificationError(1, "verify failed")), True),
        (ValueError("unknown url type: 'ftp'"), True),
    ],
)
def test_it_sorts_http_failures(failure: BaseException, permanent: bool) -> None:
    assert http.is_permanent(failure) is permanent


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(500, False), (502, False), (503, False), (408, False), (429, False),
     (301, True), (400, True), (401, True), (403, True), (404, True), (413, True)],
)  # fmt: skip
def test_it_sorts_http_statuses(status: int, permanent: bool) -> None:
    assert http.is_permanent_status(status) is permanent


@pytest.mark.parametrize(
    ("failure", "permanent"),
    [
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication credentials invalid"), True),
        (smtplib.SMTPSenderRefused(451, b"4.3.0 try later", "examnet@x"), False),
        (smtplib.SMTPDataError(554, b"5.7.1 rejected"), True),
        (smtplib.SMTPRecipientsRefused({"a@x": (550, b"no"), "b@x": (451, b"later")}), False),
        (smtplib.SMTPRecipientsRefused({"a@x": (550, b"no"), "b@x": (553, b"bad")}), True),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), False),
        (smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."), True),
        (ConnectionRefusedError(111, "Connection refused"), False),
    ],
)
def test_it_sorts_smtp_failures(failure: BaseException, permanent: bool) -> None:
    assert email_kind.is_permanent(failure) is permanent


def test_a_delivery_error_says_whether_to_retry() -> None:
    error = http.delivery_error(
        http.json_request("https://x.example/", {}, timeout=1, secrets=[HMAC_KEY]),
        OSError(f"reset while sending key {HMAC_KEY}"),
    )
    assert isinstance(error, DeliveryError)
    assert not error.permanent
    assert str(error) == "POST https://x.example/: OSError: reset while sending key <secret>"
