"""examnet's HTTP port: uvicorn on an event loop and thread of its own.

Its own loop, so /metrics and /healthz answer while the probing loop is
busy. uvicorn (h11) refuses malformed requests, but leaves three doors open
that a monitor listening on a network cannot (issue 10.6): it times out
only *idle keep-alive* connections, so a client that connects and sends
nothing, or sends its head a byte at a time, or never reads the answer,
holds a socket for ever; it caps connections only by answering 503 after a
request arrives, still holding every socket; and TLS handshakes wait 60 s.
`_GuardedH11` adds, per connection:

- a deadline for the whole request (head and body), from the connection or
  its first byte: `REQUEST_TIMEOUT`;
- a deadline for the client to take the answer: `ANSWER_TIMEOUT`;
- a hard cap of `MAX_CONNECTIONS`; at the cap the oldest connection that
  is not being answered (waiting for its request, or idle between two) is
  closed to make room, so idle sockets cannot lock Prometheus out;
- one log line per client refused, closed or cut off: never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
import time
from enum import Enum
from ipaddress import ip_address
from typing import Any

import anyio.to_thread
import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from monitor.web.config import TlsSettings

log = logging.getLogger("examnet.http")

DEFAULT_LISTEN = "127.0.0.1:9108"
MAX_CONNECTIONS = 64
REQUEST_TIMEOUT = 10.0  # seconds for a whole request, head and body, and a TLS handshake
ANSWER_TIMEOUT = 60.0  # seconds for the client to read the answer
KEEP_ALIVE = 20  # seconds idle between requests: above Prometheus's usual 10-15 s scrapes
THREADS = 4  # for blocking handlers (the database); the default of 40 is far too many here
BACKLOG = 128


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port`, `:port` (all interfaces) or `[v6]:port`; port 0 picks a free one."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"expected HOST:PORT like {DEFAULT_LISTEN}, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - only when asked for with ":port"
    return host, int(port)


def is_loopback(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return all(ip_address(str(info[4][0])).is_loopback for info in infos)


class Phase(Enum):
    REQUEST = "request"  # reading a request: the request deadline runs
    ANSWER = "answer"  # answering: the answer deadline runs
    IDLE = "idle"  # between two requests: uvicorn's keep-alive timeout runs


class Guard:
    """The connections of one server, in the order they became waiting."""

    def __init__(self, limit: int, request_timeout: float, answer_timeout: float) -> None:
        self.limit = limit
        self.timeouts = {Phase.REQUEST: request_timeout, Phase.ANSWER: answer_timeout}
        self.open: set[_GuardedH11] = set()

    def admit(self, new: _GuardedH11) -> bool:
        if len(self.open) >= self.limit:
            waiting = [c for c in self.open if c.phase is not Phase.ANSWER]
            if not waiting:
                new.refuse(f"{len(self.open)} connections are being answered")
                return False
            oldest = min(waiting, key=lambda c: c.since)
            oldest.refuse(f"closed to make room: {self.limit} connections open")
        self.open.add(new)
        return True


class _GuardedH11(H11Protocol):
    def __init__(self, *args: Any, guard: Guard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = guard
        self.phase = Phase.IDLE
        self.since = time.monotonic()
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.guard.admit(self):
            self._settle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._arm(None)
        self.guard.open.discard(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._settle()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._settle()

    def send_400_response(self, msg: str) -> None:
        log.warning("HTTP client %s: malformed request refused (400)", self._who())
        super().send_400_response(msg)

    def refuse(self, why: str) -> None:
        log.warning("HTTP client %s: %s", self._who(), why)
        self._arm(None)
        self.guard.open.discard(self)  # now: connection_lost comes a loop turn later
        self.transport.abort()

    def _who(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "?"

    def _current(self) -> Phase:
        theirs = self.conn.their_state
        answering = self.cycle is not None and not self.cycle.response_complete
        if theirs is h11.SEND_BODY:
            return Phase.REQUEST
        if answering:
            return Phase.ANSWER
        started = self.cycle is None or bool(self.conn.trailing_data[0])
        return Phase.REQUEST if theirs is h11.IDLE and started else Phase.IDLE

    def _settle(self) -> None:
        """Start the deadline of the phase the connection entered; a trickle never extends it."""
        if self.transport is None or self.transport.is_closing():
            self._arm(None)
            return
        phase = self._current()
        if phase is self.phase and (self._deadline is not None or phase is Phase.IDLE):
            return
        self.phase, self.since = phase, time.monotonic()
        self._arm(self.guard.timeouts.get(phase))

    def _arm(self, timeout: float | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if timeout is not None:
            self._deadline = self.loop.call_later(timeout, self._expired, timeout)

    def _expired(self, timeout: float) -> None:
        self._deadline = None
        if self.phase is Phase.REQUEST:
            self.refuse(f"no complete request within {timeout:.0f} s: closed")
        else:
            self.refuse(f"answer not taken within {timeout:.0f} s: closed")


class _QuietUvicorn(logging.Filter):
    """uvicorn's own line for a bad request names no client; ours does."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Invalid HTTP request received."


class _Server(uvicorn.Server):
    """uvicorn's server on our socket, with our protocol and a bounded TLS handshake."""

    def __init__(
        self, config: uvicorn.Config, sock: socket.socket, tls: ssl.SSLContext | None, guard: Guard
    ) -> None:
        super().__init__(config)
        self._socket = sock
        self._tls = tls
        self._guard = guard

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await self.lifespan.startup()
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        loop = asyncio.get_running_loop()
        state: ServerState = self.server_state

        def protocol() -> asyncio.Protocol:
            return _GuardedH11(
                config=self.config, server_state=state, app_state={}, guard=self._guard
            )

        server = await loop.create_server(
            protocol,
            sock=self._socket,
            ssl=self._tls,
            backlog=BACKLOG,
            ssl_handshake_timeout=REQUEST_TIMEOUT if self._tls is not None else None,
        )
        self.servers = [server]
        self.started = True


class WebServer:
    """The HTTP port: an ASGI app served by uvicorn from its own thread."""

    def __init__(
        self,
        listen: tuple[str, int],
        app: Any,
        *,
        tls: TlsSettings | None = None,
        max_connections: int = MAX_CONNECTIONS,
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        self._socket = _bind(listen)  # here, so a taken port fails the start, not a thread
        self.tls = tls
        config = uvicorn.Config(
            app,
            http="h11",
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_keep_alive=KEEP_ALIVE,
            timeout_graceful_shutdown=5,
        )
        guard = Guard(max_connections, request_timeout, ANSWER_TIMEOUT)
        context = tls.context() if tls is not None else None
        self._server = _Server(config, self._socket, context, guard)
        self._thread = threading.Thread(target=self._serve, name="examnet-http", daemon=True)
        self._failed: BaseException | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    def start(self) -> None:
        uvicorn_log = logging.getLogger("uvicorn.error")
        uvicorn_log.setLevel(max(uvicorn_log.getEffectiveLevel(), logging.WARNING))
        uvicorn_log.addFilter(_QuietUvicorn())
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("the HTTP server did not start within 10 s")
            # not time.sleep: an absolute clock_nanosleep, which clock-faking tools (and
            # the clock-step test's libfaketime) refuse with EINVAL
            self._thread.join(0.01)
        if not self._server.started:
            raise RuntimeError(f"the HTTP server failed to start: {self._failed!r}")

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._socket.close()

    def _serve(self) -> None:
        try:
            asyncio.run(self._server.serve())
        except BaseException as exc:  # a SystemExit from uvicorn's start-up, too
            self._failed = exc
            log.exception("the HTTP server stopped")


def _bind(listen: tuple[str, int]) -> socket.socket:
    host, port = listen
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock
