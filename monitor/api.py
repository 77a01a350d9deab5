"""The HTTP API for on-call: silences and acknowledgements (docs/alerting.md).

    GET    /api/silences           every silence, newest last (?state=active)
    POST   /api/silences           {"matchers": [...], "duration": "2h" | "ends_at": ...,
                                    "starts_at"?, "created_by", "comment"}
    DELETE /api/silences/<id>      {"by": "..."}: end it now
    GET    /api/incidents          open incidents with their acknowledgements
    POST   /api/acks               {"incident": "<id or fingerprint>", "by", "note"}

Writes need the bearer token (monitor.http); a change takes effect at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from monitor.clock import Clock
from monitor.config.values import duration
from monitor.http import Handler, Request, Response, json_response
from monitor.operations import (
    OperationError,
    SilenceRequest,
    acknowledge,
    add_silence,
    expire_silence,
    incident_json,
    silence_json,
)
from monitor.storage.store import AlertingStore


def routes(
    store: AlertingStore, clock: Clock, changed: Callable[[], None]
) -> dict[tuple[str, str], Handler]:
    """The API's routes; `changed` is called after a write (the monitor re-reads)."""

    def list_silences(request: Request) -> Response:
        now = clock.now()
        wanted = parse_qs(request.query).get("state", [None])[0]
        found = [silence_json(s, now) for s in store.silences()]
        return json_response(200, [s for s in found if wanted in (None, s["state"])])

    def create_silence(request: Request) -> Response:
        body = _body(request)
        ends = body.get("ends_at")
        length = body.get("duration")
        silence = add_silence(
            store,
            SilenceRequest(
                matchers=tuple(_strings(body.get("matchers"), "matchers")),
                by=_text(body.get("created_by"), "created_by"),
                comment=_text(body.get("comment"), "comment"),
                starts_at=_moment(body.get("starts_at"), "starts_at"),
                ends_at=_moment(ends, "ends_at"),
                duration=None if length is None else _duration(length),
            ),
            clock.now(),
        )
        changed()
        return json_response(201, silence_json(silence, clock.now()))

    def end_silence(request: Request) -> Response:
        body = _body(request) if request.body else {}
        by = _text(body.get("by"), "by")
        ended = expire_silence(store, request.argument, by, clock.now())
        changed()
        return json_response(200, silence_json(ended, clock.now()))

    def list_incidents(_request: Request) -> Response:
        return json_response(200, [incident_json(s) for s in store.incident_rows(open_only=True)])

    def ack(request: Request) -> Response:
        body = _body(request)
        incident = body.get("incident")
        if isinstance(incident, int):
            incident = str(incident)
        acked = acknowledge(
            store,
            _text(incident, "incident"),
            _text(body.get("by"), "by"),
            str(body.get("note") or ""),
            clock.now(),
        )
        changed()
        return json_response(200, incident_json(acked))

    handlers = {
        ("GET", "/api/silences"): list_silences,
        ("POST", "/api/silences"): create_silence,
        ("DELETE", "/api/silences/*"): end_silence,
        ("GET", "/api/incidents"): list_incidents,
        ("POST", "/api/acks"): ack,
    }
    return {key: _refusing_bad_requests(handler) for key, handler in handlers.items()}


def _refusing_bad_requests(handler: Handler) -> Handler:
    """OperationError (and a bad body) is the caller's: 400 with the reason."""

    def handle(request: Request) -> Response:
        try:
            return handler(request)
        except OperationError as exc:
            return json_response(400, {"error": str(exc)})

    return handle


def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        raise OperationError("the body is not JSON") from None
    if not isinstance(body, dict):
        raise OperationError("the body must be a JSON object")
    return body


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise OperationError(f'"{name}" is required (a non-empty string)')
    return value


def _strings(value: object, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise OperationError(f'"{name}" must be a list of strings, e.g. ["site=\\"thpt-a\\""]')
    return value


def _moment(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(_text(value, name))
    except ValueError:
        raise OperationError(f'"{name}" is not an ISO 8601 time') from None
    if moment.tzinfo is None:
        raise OperationError(f'"{name}" needs a time zone, e.g. 2026-06-07T07:30:00+07:00')
    return moment


def _duration(value: object) -> timedelta:
    try:
        return timedelta(seconds=duration()(value))
    except ValueError as exc:
        raise OperationError(f'"duration": {exc}') from None
