"""examnet's HTTP port: /metrics for Prometheus, /healthz for supervisors.

A threaded stdlib server, so scrapes are answered even while the event loop
is busy probing. Routes are one table; handlers return (status, type, body).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

Response = tuple[int, str, bytes]
Handler = Callable[[], Response]

DEFAULT_LISTEN = "127.0.0.1:9108"


def parse_listen(value: str) -> tuple[str, int]:
    """`host:port`, `:port` (all interfaces) or `[v6]:port`; port 0 picks a free one."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"expected HOST:PORT like {DEFAULT_LISTEN}, got {value!r}")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - only when asked for with ":port"
    return host, int(port)


def metrics_handler(registry: CollectorRegistry) -> Handler:
    def handle() -> Response:
        return 200, CONTENT_TYPE_LATEST, generate_latest(registry)

    return handle


def health_handler(check: Callable[[], tuple[bool, Mapping[str, Any]]]) -> Handler:
    def handle() -> Response:
        healthy, details = check()
        body = json.dumps({"status": "ok" if healthy else "failing", **details}, default=str)
        return (200 if healthy else 503), "application/json", body.encode()

    return handle


class HttpServer:
    def __init__(self, listen: tuple[str, int], routes: Mapping[str, Handler]) -> None:
        self._routes = dict(routes)
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

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        routes = self._routes

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                handler = routes.get(self.path.split("?", 1)[0])
                if handler is None:
                    status, kind, body = 404, "text/plain", b"not found\n"
                else:
                    try:
                        status, kind, body = handler()
                    except Exception:
                        log.exception("HTTP %s failed", self.path)
                        status, kind, body = 500, "text/plain", b"internal error\n"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s - %s", self.address_string(), format % args)

        return _Handler
