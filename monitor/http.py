"""examnet's HTTP port: /metrics, /healthz, and the small API.

A threaded stdlib server, so scrapes are answered even while the event loop
is busy probing. Routes are one table of (method, path) → handler; a path
ending in `/*` takes the rest as an argument. Writes need the bearer token
from EXAMNET_API_TOKEN: with none configured, the API is read-only (a safe
default on a machine that may listen beyond loopback).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

Response = tuple[int, str, bytes]
MAX_BODY = 64 * 1024

DEFAULT_LISTEN = "127.0.0.1:9108"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    argument: str  # what `/*` matched
    query: str
    body: bytes


Handler = Callable[[Request], Response]


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port`, `:port` (all interfaces) or `[v6]:port`; port 0 picks a free one."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"expected HOST:PORT like {DEFAULT_LISTEN}, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - only when asked for with ":port"
    return host, int(port)


def json_response(status: int, data: object) -> Response:
    body = json.dumps(data, ensure_ascii=False, default=str, indent=1).encode()
    return status, "application/json", body


def metrics_handler(registry: CollectorRegistry) -> Handler:
    def handle(_request: Request) -> Response:
        return 200, CONTENT_TYPE_LATEST, generate_latest(registry)

    return handle


def health_handler(check: Callable[[], tuple[bool, Mapping[str, Any]]]) -> Handler:
    def handle(_request: Request) -> Response:
        healthy, details = check()
        return json_response(
            200 if healthy else 503, {"status": "ok" if healthy else "failing", **details}
        )

    return handle


class HttpServer:
    def __init__(
        self,
        listen: tuple[str, int],
        routes: Mapping[str, Handler] | Mapping[tuple[str, str], Handler],
        *,
        token: str | None = None,
    ) -> None:
        self._routes: dict[tuple[str, str], Handler] = {
            (key if isinstance(key, tuple) else ("GET", key)): handler
            for key, handler in routes.items()
        }
        self._token = token
        self._server = ThreadingHTTPServer(listen, self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="examnet-http", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _find(self, method: str, path: str) -> tuple[Handler | None, str]:
        handler = self._routes.get((method, path))
        if handler is not None:
            return handler, ""
        for (m, pattern), candidate in self._routes.items():
            if m == method and pattern.endswith("/*") and path.startswith(pattern[:-1]):
                return candidate, path[len(pattern) - 1 :]
        return None, ""

    def _allowed(self, method: str, authorization: str | None) -> Response | None:
        if method == "GET":
            return None
        if not self._token:
            return json_response(
                403, {"error": "the API is read-only: set EXAMNET_API_TOKEN to allow changes"}
            )
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), self._token.encode()):
            return json_response(401, {"error": "a valid bearer token is required"})
        return None

    def _respond(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        path, _, query = raw_path.partition("?")
        handler, argument = self._find(method, path)
        if handler is None:
            return 404, "text/plain", b"not found\n"
        refused = self._allowed(method, headers.get("Authorization"))
        if refused is not None:
            return refused
        try:
            return handler(Request(method, path, argument, query, body))
        except Exception:
            log.exception("HTTP %s %s failed", method, path)
            return 500, "text/plain", b"internal error\n"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
                body = self.rfile.read(length) if length else b""
                status, kind, payload = server._respond(
                    method, self.path, dict(self.headers.items()), body
                )
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s - %s", self.address_string(), format % args)

        return _Handler
