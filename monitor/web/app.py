"""The ASGI application of the HTTP port: /metrics, /healthz, the API and the web pages.

FastAPI, so the API is declared once and documented at /api/openapi.json
(no docs UI: it would load scripts from a CDN). Errors keep the API's old
shape, `{"error": why}`. Before any route, `BodyLimit` reads the body
itself, bounded (issue 10.2): h11 has already refused a negative or
non-numeric Content-Length (400); a GET or HEAD with a body is refused
unread (400), a declared or streamed body over `MAX_BODY` is refused (413),
and both close the connection so the rest is never read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from monitor.web.access import Access, reader
from monitor.web.scrape import BusyError, Scrape

log = logging.getLogger("examnet.http")
DATABASE_RETRY_AFTER = 5  # seconds a client waits before asking again while the database is down

MAX_BODY = 64 * 1024
BODYLESS = frozenset({"GET", "HEAD"})
Health = Callable[[], tuple[bool, Mapping[str, Any]]]


def web_app(
    *,
    scrape: Scrape | None = None,
    health: Health | None = None,
    api: APIRouter | None = None,
    pages: APIRouter | None = None,
    access: Access | None = None,
) -> FastAPI:
    app = FastAPI(
        title="examnet",
        summary="Telecom availability monitor for exam sites: metrics, health, on-call API.",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.access = access or Access()
    app.add_middleware(BodyLimit, limit=MAX_BODY)
    app.add_exception_handler(HTTPException, _error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(SQLAlchemyError, _database_down)  # type: ignore[arg-type]
    if scrape is not None:
        _add_metrics(app, scrape)
    if health is not None:
        _add_health(app, health)
    if api is not None:
        app.include_router(api)
    if pages is not None:
        app.include_router(pages)
    return app


def _add_metrics(app: FastAPI, scrape: Scrape) -> None:
    @app.get("/metrics", dependencies=[Depends(reader)], response_class=Response, tags=["metrics"])
    async def metrics(request: Request) -> Response:
        """The Prometheus exposition (text 0.0.4), gzip-compressed when accepted."""
        packed = accepts_gzip(request.headers.get("accept-encoding", ""))
        try:
            body = await scrape.get(gzipped=packed)
        except BusyError as exc:
            log.warning("/metrics: %s: 503", exc)
            return Response("too many scrapes at once\n", 503, headers={"Retry-After": "1"})
        headers = {"Vary": "Accept-Encoding"}
        if packed:
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=CONTENT_TYPE_LATEST, headers=headers)


def _add_health(app: FastAPI, check: Health) -> None:
    @app.get("/healthz", dependencies=[Depends(reader)], tags=["metrics"])
    async def healthz() -> JSONResponse:
        """200 while the schedule runs and the probing loop answers, 503 otherwise."""
        healthy, details = check()
        status = "ok" if healthy else "failing"
        return JSONResponse({"status": status, **details}, 200 if healthy else 503)


def accepts_gzip(header: str) -> bool:
    """Accept-Encoding lists gzip (or *) without q=0 (RFC 9110 §12.5.3)."""
    for item in header.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        q = params.strip().lower().removeprefix("q=")
        try:
            return not params or float(q) > 0
        except ValueError:
            return False
    return False


async def _error(_request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=exc.headers)


async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
    where = [".".join(str(p) for p in e["loc"][1:]) for e in exc.errors()]
    messages = [f'"{w}": {e["msg"]}' for w, e in zip(where, exc.errors(), strict=True)]
    return JSONResponse({"error": "; ".join(messages)}, 400)


async def _database_down(request: Request, exc: SQLAlchemyError) -> Response:
    """503 and one log line, not a 500 and a traceback per request: the database
    is down or locked for a while (the probing loop spools meanwhile), and a
    client should try again. The error's class only: its text may hold the URL."""
    log.warning("%s %s: database error (%s): 503", request.method, request.url.path,
                type(exc).__name__)  # fmt: skip
    why = f"the database is unavailable ({type(exc).__name__}); try again shortly"
    headers = {"Retry-After": str(DATABASE_RETRY_AFTER)}
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": why}, 503, headers=headers)
    return Response(why + "\n", 503, media_type="text/plain; charset=utf-8", headers=headers)


class BodyLimit:
    """Reads a request's body before the app does, bounded; refuses what is too big."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = int(headers.get(b"content-length", b"0") or 0)  # h11 checked: digits only
        streamed = b"transfer-encoding" in headers
        refusal = self._refusal(scope["method"], declared, streamed)
        if refusal is None and (declared or streamed):
            body, complete = await self._read(receive)
            if not complete:
                return  # the client went away
            if body is None:
                refusal = 413, f"the body is larger than {self.limit} bytes"
            else:
                receive = _replay(body, receive)
        if refusal is not None:
            await _refuse(scope, send, *refusal)
            return
        await self.app(scope, receive, send)

    def _refusal(self, method: str, declared: int, streamed: bool) -> tuple[int, str] | None:
        if method in BODYLESS and (declared or streamed):
            return 400, f"a {method} request has no body"
        if declared > self.limit:
            return 413, f"the body is larger than {self.limit} bytes"
        return None

    async def _read(self, receive: Receive) -> tuple[bytes | None, bool]:
        """(body, True), (None, True) when over the limit, (None, False) on disconnect."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None, False
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return None, True
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), True


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(scope: Scope, send: Send, status: int, why: str) -> None:
    client = scope.get("client")
    who = f"{client[0]}:{client[1]}" if client else "?"
    log.warning("HTTP client %s: %s %s refused (%d): %s", who, scope["method"], scope["path"],
                status, why)  # fmt: skip
    response = JSONResponse({"error": why}, status, headers={"Connection": "close"})
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
