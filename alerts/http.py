"""All of examnet's outbound HTTP: one POST, its errors sorted, its secrets hidden.

The standard library's urllib is enough for a few small JSON POSTs a
minute and adds no dependency. Each call runs in a thread of its own (not
the shared default executor): a receiver that hangs until its timeout can
tie up only its own calls, never the database calls or another receiver's.

Errors become `DeliveryError`: the network, a timeout, HTTP 5xx and 429 are
transient (try again later); other 4xx, redirects, a bad URL and a
certificate that does not verify are permanent (retrying will not help).
No message names a secret: the URL is shown as the notifier says
(`shown_url`), and every secret is replaced in whatever text remains — as
written, percent-encoded and in base64, and so is any long prefix of one.
Text is redacted first and cut after: cut first, a secret split by the cut
is no longer found whole, and its first characters go out (a receiver that
echoed request headers leaked 15 of a password's 18 characters, issue 10.5).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import json
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from alerts.model import DeliveryError

T = TypeVar("T")

USER_AGENT = "examnet/0.1"
JSON = "application/json"
REDACTED = "<secret>"
# What an error message may quote of an answer's body.
BODY_EXCERPT = 200
# A secret's prefix this long is hidden too, wherever it appears: whoever cut
# the text (the receiver quoting what it got, a log line) may have left only
# the start of one. Shorter secrets are hidden whole.
SECRET_PREFIX = 6
# More than any receiver's acknowledgement needs; the rest is not read.
MAX_ANSWER = 64 * 1024


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One POST, ready to go; its repr shows neither the URL nor the body."""

    url: str = field(repr=False)
    body: bytes = field(repr=False)
    headers: Mapping[str, str]
    timeout: float
    shown_url: str  # the URL as messages may show it
    secrets: tuple[str, ...] = field(default=(), repr=False)
    # `Authorization` from the URL's user:password, kept out of `headers` and the repr
    authorization: str | None = field(default=None, repr=False)

    def json(self) -> Any:
        """The body decoded (for tests and the log)."""
        return json.loads(self.body)


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes


def json_request(
    url: str,
    payload: object,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    shown_url: str | None = None,
    secrets: Iterable[str] = (),
) -> HttpRequest:
    """A POST of `payload` as compact UTF-8 JSON.

    A `user:password@` in the URL becomes HTTP Basic authentication (RFC 7617):
    urllib would otherwise take it for part of the host name, and the call
    would fail as "name not resolved" (transient) forever.
    """
    bare, authorization, credentials = split_userinfo(url)
    return HttpRequest(
        url=bare,
        body=encode_json(payload),
        headers={"Content-Type": JSON, **(headers or {})},
        timeout=timeout,
        shown_url=shown_url if shown_url is not None else hide_userinfo(url),
        secrets=tuple(s for s in (*secrets, *credentials) if s),
        authorization=authorization,
    )


def split_userinfo(url: str) -> tuple[str, str | None, tuple[str, ...]]:
    """The URL without `user:password@`, its Basic `Authorization` value, and the secrets in it."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, ()
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    bare = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return bare, f"Basic {token}", (password, token)


def encode_json(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


async def post(request: HttpRequest) -> HttpResponse:
    """POST the request; a 2xx answer is returned, anything else raises DeliveryError."""
    try:
        return await run_blocking(_post, request)
    except DeliveryError:
        raise
    except Exception as exc:
        raise delivery_error(request, exc) from None


def delivery_error(request: HttpRequest, exc: BaseException) -> DeliveryError:
    """The exception as a DeliveryError whose message names no secret."""
    text = f"POST {request.shown_url}: {describe(exc)}"
    return DeliveryError(redact(text, request.secrets), permanent=is_permanent(exc))


def _post(request: HttpRequest) -> HttpResponse:
    headers = {"User-Agent": USER_AGENT, **request.headers}
    if request.authorization is not None:
        headers["Authorization"] = request.authorization
    outgoing = urllib.request.Request(request.url, request.body, headers, method="POST")  # noqa: S310 - http(s) only, checked by validate()
    try:
        with _OPENER.open(outgoing, timeout=request.timeout) as answer:
            return HttpResponse(answer.status, answer.read(MAX_ANSWER))
    except urllib.error.HTTPError as exc:
        body = exc.read(MAX_ANSWER) if exc.fp is not None else b""
        exc.close()
        text = status_text(exc.code, body, request.secrets)
        raise DeliveryError(
            redact(f"POST {request.shown_url}: {text}", request.secrets),
            permanent=is_permanent_status(exc.code),
        ) from None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A receiver that redirects a POST is misconfigured: say so, do not follow it.

    urllib would turn the POST into a GET without its body (RFC 9110 15.4
    allows it), and the new location might not deserve the signature.
    """

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


def is_permanent_status(status: int) -> bool:
    """5xx, 429 (too many requests) and 408 (request timeout) pass; other codes will not."""
    return not (status >= 500 or status in (408, 429))


def is_permanent(exc: BaseException) -> bool:
    """Will sending the same thing again fail the same way?"""
    if isinstance(exc, DeliveryError):
        return exc.permanent
    if isinstance(exc, urllib.error.HTTPError):
        return is_permanent_status(exc.code)
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        return is_permanent(exc.reason)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return True  # a wrong or untrusted certificate stays wrong until someone fixes it
    if isinstance(exc, OSError | http.client.HTTPException):
        return False  # refused, reset, timed out, unreachable, name not resolved, bad answer
    return isinstance(exc, ValueError | urllib.error.URLError)  # a bad URL or scheme


def describe(exc: BaseException) -> str:
    """One line about a failure, without the traceback."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        return describe(exc.reason)
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate not trusted: {exc.verify_message or exc}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def status_text(status: int, body: bytes, secrets: Iterable[str] = ()) -> str:
    """`HTTP 401: <what the body says>`: redacted whole, then cut to an excerpt."""
    answer = redact(body.decode("utf-8", "replace"), secrets).strip()
    return f"HTTP {status}" + (f": {excerpt(answer)}" if answer else "")


def excerpt(text: str, limit: int = BODY_EXCERPT) -> str:
    """At most `limit` characters of text that is already redacted."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def secret_forms(secret: str) -> set[str]:
    """How a secret may be written in what a receiver answers."""
    encoded = base64.b64encode(secret.encode()).decode()
    return {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote(secret),
        encoded,
        encoded.rstrip("="),
        base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
    }


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret, in each of its forms, and any long prefix of one."""
    forms = sorted({f for s in secrets if s for f in secret_forms(s)}, key=len, reverse=True)
    for form in forms:
        text = text.replace(form, REDACTED)
    for form in forms:
        # a URL's scheme and host are no secret (a chat webhook's path is given on its own)
        if len(form) > SECRET_PREFIX and "://" not in form:
            text = _redact_prefixes(text, form)
    return text


def _redact_prefixes(text: str, secret: str) -> str:
    """Replace each run of text that is the start of `secret`, SECRET_PREFIX long or more."""
    head = secret[:SECRET_PREFIX]
    out: list[str] = []
    start = 0
    while (found := text.find(head, start)) != -1:
        end = found + SECRET_PREFIX
        while end < len(text) and end - found < len(secret) and text[end] == secret[end - found]:
            end += 1
        out += [text[start:found], REDACTED]
        start = end
    return "".join([*out, text[start:]])


def hide_userinfo(url: str) -> str:
    """The URL without a password in it (`https://user:pw@host/` → `https://user:<secret>@host/`)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    netloc = f"{parts.username}:{REDACTED}@{host}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def origin_only(url: str) -> str:
    """`scheme://host/<secret>`: for URLs that are secrets as a whole (chat webhooks)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}/{REDACTED}"


def check_url(url: str, what: str = "url") -> list[str]:
    """Problems with an http(s) URL; its text is not repeated (it may be a secret)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return [f"{what} must start with http:// or https://"]
    if not parts.hostname:
        return [f"{what} has no host"]
    return []


async def run_blocking(function: Callable[..., T], *args: Any) -> T:
    """Run blocking I/O in a thread of its own and await its result.

    Cancelling the await leaves the thread to finish on its own (it is
    bounded by the call's timeout); its result is then dropped.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]  # T when no error

    def body() -> None:
        try:
            result = function(*args)
        except BaseException as exc:  # handed to the awaiting task
            _call_soon(loop, settle, None, exc)
        else:
            _call_soon(loop, settle, result, None)

    threading.Thread(target=body, name="examnet-delivery", daemon=True).start()
    return await future


def _call_soon(loop: asyncio.AbstractEventLoop, *args: Any) -> None:
    # the loop may have closed while the call ran: nobody is waiting any more
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(*args)
