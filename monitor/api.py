"""The HTTP API for on-call: silences and acknowledgements (docs/alerting.md).

    GET    /api/silences           every silence, newest last (?state=active)
    POST   /api/silences           {"matchers": [...], "duration": "2h" | "ends_at": ...,
                                    "starts_at"?, "created_by", "comment"}
    DELETE /api/silences/<id>      {"by": "..."}: end it now
    GET    /api/incidents          open incidents with their acknowledgements
    POST   /api/acks               {"incident": "<id or fingerprint>", "by", "note"}

A thin layer over `monitor.operations`: it turns the wire into arguments
and OperationError into 400. Writes need the bearer token
(`monitor.web.access`); a change takes effect at once. The schema is served
at /api/openapi.json.

Every answer to a bad request is a 400 with {"error": why}, never a 500:
bodies are parsed here whatever their Content-Type (as before), nesting
deeper than `MAX_DEPTH` and strings with NUL or lone surrogates (which
PostgreSQL or UTF-8 refuse later) are refused, and times or durations
beyond what a datetime holds are out of range, not an OverflowError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.config.values import duration
from monitor.model.clock import Clock
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
from monitor.web.access import Reader, Writer

MAX_DEPTH = 8  # the deepest body is two levels; anything far deeper is abuse
MAX_ID = 2**63 - 1  # incident ids are 64-bit integers in both databases
INCIDENT = re.compile(r"[0-9]{1,19}|[0-9a-f]{16}")
SILENCE_ID = r"^[A-Za-z0-9._-]{1,100}$"
_M = TypeVar("_M", bound=BaseModel)


class SilenceIn(BaseModel):
    """A silence: alerts whose labels match every matcher are not notified until it ends."""

    model_config = ConfigDict(extra="forbid", strict=True)
    matchers: list[str] = Field(min_length=1, examples=[['site="thpt-a"', 'carrier="viettel"']])
    created_by: str = Field(min_length=1, description="who (audited)")
    comment: str = Field(min_length=1, description="why (audited)")
    starts_at: str | None = Field(None, description="ISO 8601 with a zone; default now")
    ends_at: str | None = Field(None, description="ISO 8601 with a zone; or give a duration")
    duration: str | None = Field(None, examples=["2h"])


class ExpireIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    by: str = Field(min_length=1, description="who ends it (audited)")


class AckIn(BaseModel):
    """An acknowledgement: the incident's alert stops repeating and escalating."""

    model_config = ConfigDict(extra="forbid", strict=True)
    incident: int | str = Field(description="the incident id, or its alert's fingerprint")
    by: str = Field(min_length=1)
    note: str = ""


def router(store: AlertingStore, clock: Clock, changed: Callable[[], None]) -> APIRouter:
    """The API's routes; `changed` is called after a write (the monitor re-reads)."""
    api = APIRouter(prefix="/api", tags=["on-call"])

    @api.get("/silences")
    def list_silences(
        _: Reader, state: Literal["active", "pending", "expired"] | None = None
    ) -> Any:
        now = clock.now()
        found = [silence_json(s, now) for s in store.silences()]
        return [s for s in found if state in (None, s["state"])]

    @api.post("/silences", status_code=201, openapi_extra=_body_schema(SilenceIn))
    def create_silence(_: Writer, body: Annotated[Any, Depends(_json)]) -> Any:
        wanted = _model(SilenceIn, body)
        with _as_bad_request():
            silence = add_silence(store, _silence_request(wanted), clock.now())
        changed()
        return JSONResponse(silence_json(silence, clock.now()), status_code=201)

    @api.delete("/silences/{ident}", openapi_extra=_body_schema(ExpireIn))
    def end_silence(
        _: Writer,
        ident: Annotated[str, Path(pattern=SILENCE_ID)],
        body: Annotated[Any, Depends(_json)],
    ) -> Any:
        wanted = _model(ExpireIn, body)
        with _as_bad_request():
            ended = expire_silence(store, ident, wanted.by, clock.now())
        changed()
        return silence_json(ended, clock.now())

    @api.get("/incidents")
    def list_incidents(_: Reader) -> Any:
        return [incident_json(s) for s in store.incident_rows(open_only=True)]

    @api.post("/acks", openapi_extra=_body_schema(AckIn))
    def ack(_: Writer, body: Annotated[Any, Depends(_json)]) -> Any:
        wanted = _model(AckIn, body)
        with _as_bad_request():
            acked = acknowledge(
                store, _incident(wanted.incident), wanted.by, wanted.note, clock.now()
            )
        changed()
        return incident_json(acked)

    return api


def bad(message: str) -> HTTPException:
    return HTTPException(400, message)


class _as_bad_request:  # noqa: N801 - used as a `with` statement
    """OperationError is the caller's mistake; so is a time past what datetime holds."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        if isinstance(exc, OperationError):
            raise bad(str(exc)) from None
        if isinstance(exc, OverflowError):
            raise bad("a time or duration is out of range (years 1–9999)") from None


async def _json(request: Request) -> Any:
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except (ValueError, RecursionError):
        raise bad("the body is not JSON") from None
    _check_values(body)
    if not isinstance(body, dict):
        raise bad("the body must be a JSON object")
    return body


def _check_values(body: object) -> None:
    """Depth, and strings every database can store: walked without recursion."""
    pending: list[tuple[object, int]] = [(body, 0)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise bad(f"the body is nested deeper than {MAX_DEPTH} levels")
        for text in _strings(value):
            if "\x00" in text:
                raise bad("the body contains a NUL character")
            try:
                text.encode()
            except UnicodeEncodeError:
                raise bad("the body contains a lone surrogate (not UTF-8)") from None
        if isinstance(value, dict):
            pending += [(v, depth + 1) for v in value.values()]
        elif isinstance(value, list):
            pending += [(v, depth + 1) for v in value]


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        yield from (k for k in value if isinstance(k, str))


def _model(model: type[_M], body: object) -> _M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise bad("; ".join(_describe(e) for e in exc.errors())) from None


def _describe(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"]) or "body"
    return f'"{where}": {error["msg"]}'


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The request body, documented in OpenAPI (the body itself is parsed by `_json`)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def _silence_request(wanted: SilenceIn) -> SilenceRequest:
    return SilenceRequest(
        matchers=tuple(wanted.matchers),
        by=wanted.created_by,
        comment=wanted.comment,
        starts_at=_moment(wanted.starts_at, "starts_at"),
        ends_at=_moment(wanted.ends_at, "ends_at"),
        duration=None if wanted.duration is None else _duration(wanted.duration),
    )


def _moment(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise bad(f'"{name}" is not an ISO 8601 time') from None
    if moment.tzinfo is None:
        raise bad(f'"{name}" needs a time zone, e.g. 2026-06-07T07:30:00+07:00')
    try:
        moment.astimezone(UTC)  # 9999-12-31T23:00-05:00 is past year 9999 in UTC
    except OverflowError:
        raise bad(f'"{name}" is out of range (years 1–9999 in UTC)') from None
    return moment


def _duration(value: str) -> timedelta:
    try:
        return timedelta(seconds=duration()(value))
    except ValueError as exc:
        raise bad(f'"duration": {exc}') from None
    except OverflowError:
        raise bad('"duration" is out of range') from None


def _incident(value: int | str) -> str:
    text = str(value)
    if isinstance(value, int) and not 0 < value <= MAX_ID:
        raise bad(f"no incident {text}")
    if not INCIDENT.fullmatch(text):
        raise bad(
            f"{text[:40]!r} is neither an incident id (a number) nor an alert fingerprint "
            "(16 hexadecimal digits)"
        )
    if text.isdigit() and not 0 < int(text) <= MAX_ID:
        raise bad(f"no incident {text}")
    return text
