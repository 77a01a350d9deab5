"""Who may do what on the HTTP port: readers and writers.

- Writes (silences, acknowledgements) need the bearer token of
  `EXAMNET_API_TOKEN`; with none configured the API is read-only (403).
- Reads (/metrics, /healthz, GET /api/...) are open, unless the web config
  names `basic_auth_users`: then every request needs one of those users'
  password or the bearer token (Prometheus scrapes with basic auth).

The Authorization scheme is matched case-insensitively (RFC 9110 §11.1,
RFC 6750 §2.1: `bearer x` is `Bearer x`); a bare token without a scheme is
refused. Tokens are compared in constant time, as SHA-256 digests, so not
even the length leaks. A bcrypt check costs ~60 ms of CPU at cost 10, so
successes are remembered (under a keyed digest, never the password), run in
a worker thread, and at most two at a time: a scrape every 10 s must not
cost a bcrypt each, nor a guessing client the event loop.

The incident API (`monitor.api`) authenticates each request as a
`Principal`: the token of `EXAMNET_API_TOKEN` is an admin, a stored token
(`examnet token create`) has its role and, for a carrier, its carrier.
Failed attempts are counted per client address (`FailedLogins`): past
`MAX_FAILURES` in `FAILURE_WINDOW` seconds the address gets 429 until the
window has passed, before its token is even looked at.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

import anyio
import anyio.to_thread
import bcrypt
from fastapi import Depends, HTTPException, Request

MIN_TOKEN_LENGTH = 32
TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 6750 §2.1 b64token
REMEMBERED = 256  # verified basic-auth credentials kept; the cache starts over when full
REALM = 'realm="examnet"'
MAX_FAILURES = 10  # failed authentications per client address ...
FAILURE_WINDOW = 60.0  # ... in this many seconds, then 429
MAX_CLIENTS = 10_000  # addresses remembered; the table starts over when full
ENV_TOKEN_NAME = "EXAMNET_API_TOKEN"  # noqa: S105 - the name the audit gives it
Role = Literal["admin", "noc", "carrier"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is: a token's name (never the token), its role, a carrier's scope."""

    name: str
    role: Role
    carrier: str | None = None

    @property
    def scope(self) -> str | None:
        """The carrier whose incidents alone it sees; None: everything."""
        return self.carrier if self.role == "carrier" else None


class FailedLogins:
    """Failed authentications per client address in a sliding window."""

    def __init__(
        self,
        limit: int = MAX_FAILURES,
        window: float = FAILURE_WINDOW,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window
        self._monotonic = monotonic
        self._seen: dict[str, deque[float]] = {}

    def _recent(self, client: str) -> deque[float]:
        now = self._monotonic()
        seen = self._seen.get(client, deque())
        while seen and seen[0] <= now - self._window:
            seen.popleft()
        return seen

    def blocked(self, client: str) -> float | None:
        """Seconds until `client` may try again, or None when it may now."""
        seen = self._recent(client)
        if len(seen) < self._limit:
            return None
        return max(1.0, seen[0] + self._window - self._monotonic())

    def failed(self, client: str) -> None:
        if len(self._seen) >= MAX_CLIENTS and client not in self._seen:
            self._seen.clear()
        seen = self._recent(client)
        seen.append(self._monotonic())
        self._seen[client] = seen


class TokenError(ValueError):
    """The configured API token is unusable; the message says why."""


def check_token(token: str) -> str:
    """The token, or why it cannot protect the API (refused at start, never truncated)."""
    if len(token) < MIN_TOKEN_LENGTH:
        raise TokenError(
            f"EXAMNET_API_TOKEN is {len(token)} characters long; at least {MIN_TOKEN_LENGTH} "
            "are needed, random (e.g. `openssl rand -hex 32`)"
        )
    if not TOKEN.fullmatch(token):
        raise TokenError(
            "EXAMNET_API_TOKEN may contain only letters, digits and -._~+/ "
            "(a bearer token, RFC 6750 §2.1)"
        )
    return token


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


@dataclass(frozen=True, slots=True)
class Credentials:
    scheme: str  # lower case
    value: str


def credentials(header: str | None) -> Credentials | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if not value:
        return None  # a bare token: no scheme
    return Credentials(scheme.lower(), value)


class Access:
    def __init__(self, token: str | None = None, users: Mapping[str, bytes] | None = None) -> None:
        self._token = _digest(check_token(token).encode()) if token else None
        self._users = dict(users or {})
        self._key = secrets.token_bytes(32)
        self._remembered: set[bytes] = set()
        self._checks = anyio.CapacityLimiter(2)
        self._dummy = bcrypt.hashpw(b"examnet", bcrypt.gensalt(10)) if users else b""
        self.failures = FailedLogins()

    @property
    def writable(self) -> bool:
        return self._token is not None

    @property
    def reads_need_auth(self) -> bool:
        return bool(self._users)

    def is_token(self, given: Credentials | None) -> bool:
        if self._token is None or given is None or given.scheme != "bearer":
            return False
        return hmac.compare_digest(_digest(given.value.encode()), self._token)

    async def is_user(self, given: Credentials | None) -> bool:
        if given is None or given.scheme != "basic" or not self._users:
            return False
        try:
            user, sep, password = (
                base64.b64decode(given.value, validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return False
        if not sep:
            return False
        remembered = hmac.new(self._key, f"{user}:{password}".encode(), "sha256").digest()
        if remembered in self._remembered:
            return True
        # an unknown user costs a bcrypt too: timing must not tell names apart
        hashed = self._users.get(user, self._dummy)
        ok = await anyio.to_thread.run_sync(
            bcrypt.checkpw, password.encode(), hashed, limiter=self._checks
        )
        if ok and user in self._users:
            if len(self._remembered) >= REMEMBERED:
                self._remembered.clear()
            self._remembered.add(remembered)
            return True
        return False


def _refused(status: int, message: str, scheme: str) -> HTTPException:
    return HTTPException(status, message, headers={"WWW-Authenticate": f"{scheme} {REALM}"})


def _access(request: Request) -> Access:
    access: Access = request.app.state.access
    return access


async def reader(request: Request) -> None:
    """Reads are open unless basic-auth users are configured; the token reads too."""
    access = _access(request)
    if not access.reads_need_auth:
        return
    given = credentials(request.headers.get("authorization"))
    if access.is_token(given) or await access.is_user(given):
        return
    raise _refused(401, "valid credentials are required (basic auth or the bearer token)", "Basic")


async def writer(request: Request) -> None:
    access = _access(request)
    if not access.writable:
        raise HTTPException(403, "the API is read-only: set EXAMNET_API_TOKEN to allow changes")
    if not access.is_token(credentials(request.headers.get("authorization"))):
        raise _refused(401, "a valid bearer token is required", "Bearer")


Reader = Annotated[None, Depends(reader)]
Writer = Annotated[None, Depends(writer)]
