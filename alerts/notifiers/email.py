"""E-mail over SMTP: STARTTLS with a verified certificate, AUTH, a plain UTF-8 body.

smtplib blocks, so each message goes out in a thread of its own. The
connection is never downgraded: a server that offers no STARTTLS when it is
required is a permanent error, as is a certificate that does not verify
(against `ca_file` when set, else the system's trust store). SMTP says
itself what is worth retrying: 4xx replies are transient, 5xx permanent
(RFC 5321 4.2.1).
"""

from __future__ import annotations

import base64
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from email.header import Header
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime
from pathlib import Path
from typing import ClassVar

from alerts import http
from alerts.model import DeliveryError, Notification
from alerts.notifiers import text
from alerts.notifiers.webhook import NOTIFICATION_HEADER
from monitor.model.notifiers import duration
from monitor.model.secrets import Secret


@dataclass(frozen=True, slots=True)
class EmailSettings:
    host: str
    sender: str = field(metadata={"key": "from"})
    to: tuple[str, ...] = ()
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password: Secret | None = None
    ca_file: str | None = None  # trust this CA for STARTTLS (default: the system's)
    timeout: float = duration(20.0)


log = logging.getLogger("examnet.alerts")
# What an error message may say of a refusal: redacted first, then cut to this.
ERROR_LIMIT = 300


def validate(settings: EmailSettings) -> list[str]:
    problems = []
    if not settings.host:
        problems.append("host is empty")
    if "@" not in settings.sender:
        problems.append(f"from must be an e-mail address, not {settings.sender!r}")
    if not settings.to:
        problems.append("to names no recipient")
    problems += [f"to: {a!r} is not an e-mail address" for a in settings.to if "@" not in a]
    if not 0 < settings.port < 65536:
        problems.append(f"port {settings.port} is not a TCP port")
    if (settings.username is None) != (settings.password is None):
        problems.append("username and password go together")
    if settings.password is not None and not settings.starttls:
        problems.append("a password needs starttls = true (it would cross the network in clear)")
    if settings.ca_file is not None and not Path(settings.ca_file).is_file():
        problems.append(f"ca_file {settings.ca_file} is not a readable file")
    return problems


class _Policy(EmailPolicy):
    """SMTP's policy, but a non-ASCII Subject is folded by `email.header.Header`.

    The modern folder drops the space where it breaks a line between two
    encoded words (RFC 2047 ignores whitespace between them): a Vietnamese
    subject read "mấtkết nối". Header splits inside the words instead.
    """

    def fold(self, name: str, value: str) -> str:
        if name.lower() != "subject" or str(value).isascii():
            folded: str = super().fold(name, value)
            return folded
        encoded = Header(str(value), "utf-8", header_name=name).encode(linesep=self.linesep)
        return f"{name}: {encoded}{self.linesep}"

    def fold_binary(self, name: str, value: str) -> bytes:
        return self.fold(name, value).encode("ascii")


_SMTP = _Policy(linesep="\r\n")


def message(
    notification: Notification, settings: EmailSettings, zone: tzinfo = UTC
) -> EmailMessage:
    """The e-mail: headline as subject, summaries as a plain UTF-8 body (a report: its page)."""
    mail = EmailMessage(policy=_SMTP)
    report = notification.report
    mail["Subject"] = (
        text.headline(notification) if report is None else text.one_line(report["title"])
    )
    mail["From"] = settings.sender
    mail["To"] = ", ".join(settings.to)
    mail["Date"] = format_datetime(notification.created_at)
    # The id again: a mail system or a person can spot a retry's duplicate.
    mail["Message-ID"] = f"<{notification.id}@examnet>"
    mail[NOTIFICATION_HEADER] = notification.id
    if report is None:
        mail.set_content(text.body(notification, details=True, zone=zone), charset="utf-8")
    elif report.get("encoding") == "base64":  # a PDF: the title as the body, the file attached
        mail.set_content(report["title"] + "\n", charset="utf-8")
        mail.add_attachment(
            base64.b64decode(report["content"]), maintype="application",
            subtype=report["format"], filename=report.get("filename", f"report.{report['format']}"),
        )  # fmt: skip
    elif report["format"] == "html":  # the page is the body; mail readers show HTML
        mail.set_content(report["title"] + "\n", charset="utf-8")
        mail.add_alternative(report["content"], subtype="html", charset="utf-8")
    else:
        mail.set_content(report["content"], charset="utf-8")
    return mail


def is_permanent(exc: BaseException) -> bool:
    """4xx and lost connections pass; 5xx, no STARTTLS, an untrusted certificate do not."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return False
    if isinstance(exc, smtplib.SMTPException | ssl.SSLCertVerificationError):
        return True  # STARTTLS or AUTH not offered, no usable AUTH method, bad certificate
    return not isinstance(exc, OSError)  # refused, reset, timed out, unreachable: transient


def describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{rcpt}: {code} {_text(reply)}" for rcpt, (code, reply)
                         in sorted(exc.recipients.items()))  # fmt: skip
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return http.describe(exc)


def secrets_of(settings: EmailSettings) -> list[str]:
    """The password, and what AUTH PLAIN sends (RFC 4616: base64 of NUL user NUL password).

    A server that quotes the client's AUTH line in its refusal must not put
    the password in our log: the base64 forms of the password alone (AUTH
    LOGIN) are covered by `http.redact`.
    """
    if settings.password is None:
        return []
    password = settings.password.reveal()
    plain = f"\0{settings.username or ''}\0{password}"
    return [password, plain, base64.b64encode(plain.encode()).decode()]


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


class EmailNotifier:
    kind: ClassVar[str] = "email"

    def __init__(self, settings: EmailSettings, language: str, zone: tzinfo = UTC) -> None:
        self.settings = settings
        self.language = language
        self.zone = zone  # the plan's: times in the body are shown in it

    @property
    def deadline(self) -> float:
        """The whole send: `timeout` bounds each SMTP step (connect, TLS, AUTH, DATA)."""
        return 5 * self.settings.timeout

    def render(self, notification: Notification) -> EmailMessage:
        return message(text.in_language(notification, self.language), self.settings, self.zone)

    async def send(self, rendered: EmailMessage) -> None:
        s = self.settings
        try:
            refused = await http.run_blocking(_deliver, s, rendered)
        except Exception as exc:
            reason = http.redact(f"SMTP {s.host}:{s.port}: {describe(exc)}", secrets_of(s))
            raise DeliveryError(
                http.excerpt(reason, ERROR_LIMIT), permanent=is_permanent(exc)
            ) from None
        if refused:  # some took it: sending again would duplicate it for them
            log.warning("e-mail %s: refused by %s for %s", rendered["Message-ID"], s.host,
                        ", ".join(sorted(refused)))  # fmt: skip


def _deliver(settings: EmailSettings, mail: EmailMessage) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        smtp.ehlo()
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=settings.ca_file))
            smtp.ehlo()
        if settings.username is not None and settings.password is not None:
            smtp.login(settings.username, settings.password.reveal())
        return smtp.send_message(mail)
