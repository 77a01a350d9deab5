"""The HTTP API: the incident history, silences and acknowledgements (docs/api.md).

    GET    /api/incidents          the history, filtered, paged, sorted: {"total", "incidents"}
                                   (?format=csv|json: every match, as a download)
    GET    /api/incidents/<id>     one incident with its timeline
    POST   /api/incidents/<id>/notes  {"note", "by"?}                          (noc, admin)
    GET    /api/silences           every silence, newest last (?state=active)  (noc, admin)
    POST   /api/silences           {"matchers": [...], "duration": "2h" | "ends_at": ...,
                                    "starts_at"?, "created_by", "comment"}     (noc, admin)
    DELETE /api/silences/<id>      {"by": "..."}: end it now                   (noc, admin)
    POST   /api/acks               {"incident": "<id or fingerprint>", "by", "note"} (noc, admin)
    GET    /api/tokens, POST /api/tokens, DELETE /api/tokens/<name or id>     (admin)
    GET    /api/availability?by=link|site|carrier&since&until[&sessions_only][&exclude_silenced]
    GET    /api/status             what `examnet status --json` shows

Every route needs a bearer token: `EXAMNET_API_TOKEN` (an admin) or one of
`examnet token create`. A carrier token sees its own carrier's incidents
only, filtered in the database query; another carrier's incident is a 404.
Every write is audited (`audit_log`, with the token's name).

A thin layer over `monitor.operations` and the store: it turns the wire
into arguments and OperationError into 400. A change takes effect at once.
The schema is served at /api/openapi.json.

Every answer to a bad request is a 400 with {"error": why}, never a 500:
bodies are parsed here whatever their Content-Type (as before), nesting
deeper than `MAX_DEPTH` and strings with NUL or lone surrogates (which
PostgreSQL or UTF-8 refuse later) are refused, and times or durations
beyond what a datetime holds are out of range, not an OverflowError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

import anyio.to_thread
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alerts.rules import incident_fingerprint
from monitor.availability import By, Calculator, Options, report, served_sites
from monitor.config.values import duration
from monitor.model.clock import Clock
from monitor.model.inventory import Inventory
from monitor.operations import (
    OperationError,
    SilenceRequest,
    acknowledge,
    add_silence,
    expire_silence,
    incident_json,
    silence_json,
)
from monitor.storage.access_store import AccessStore
from monitor.storage.availability import OutageQuery
from monitor.storage.history import MAX_EXPORT, MAX_LIMIT, SORTS, IncidentQuery
from monitor.storage.store import AlertingStore
from monitor.storage.tokens import TokenStoreError
from monitor.views import (
    export_csv,
    export_json,
    history_json,
    incident_detail_json,
    lifetime,
    token_json,
)
from monitor.web.access import (
    ENV_TOKEN_NAME,
    REALM,
    Access,
    Credentials,
    Principal,
    credentials,
)

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


class NoteIn(BaseModel):
    """A note on an incident: what was found or done (audited)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    note: str = Field(min_length=1, max_length=4000)
    by: str | None = Field(None, min_length=1, description="who; default the token's name")


class TokenIn(BaseModel):
    """A new API token; the answer holds it, once."""

    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=200)
    role: Literal["admin", "noc", "carrier"]
    carrier: str | None = Field(None, min_length=1)
    expires: str | None = Field(None, examples=["30d"], description="lifetime; default never")


Districts = Callable[[], Mapping[str, str]]  # site id → its district, from the inventory
Inventories = Callable[[], Inventory]  # the running inventory (its calendar, as rehearsed)
Statuses = Callable[[str | None], dict[str, Any]]  # `status --json` now, for a carrier scope


def router(
    store: AlertingStore,
    clock: Clock,
    changed: Callable[[], None],
    districts: Districts | None = None,
    *,
    inventory: Inventories | None = None,
    status: Statuses | None = None,
) -> APIRouter:
    """The API's routes; `changed` is called after a write (the monitor re-reads)."""
    api = APIRouter(prefix="/api", tags=["on-call"])
    guards = Guards(store, clock)
    _silence_routes(api, store, clock, changed, guards)
    _incident_routes(api, store, clock, changed, guards, districts)
    _report_routes(api, store, clock, guards, inventory, status)
    _token_routes(api, store, clock, guards, inventory)
    return api


class Guards:
    """Who a request is (`who`), and the roles a route needs (`noc`, `admin`)."""

    def __init__(self, store: AlertingStore, clock: Clock) -> None:
        self.history = store.access
        self.clock = clock

    async def who(self, request: Request) -> Principal:
        return await self.principal(request, credentials(request.headers.get("authorization")))

    async def principal(self, request: Request, given: Credentials | None) -> Principal:
        """Who `given` is (429 while its address is blocked, 401 for a bad token)."""
        access: Access = request.app.state.access
        client = request.client.host if request.client else "?"
        wait = access.failures.blocked(client)
        if wait is not None:
            raise HTTPException(
                429, "too many failed authentications", headers={"Retry-After": str(int(wait))}
            )
        if given is None:
            raise _unauthorized()
        if access.is_token(given):
            return Principal(ENV_TOKEN_NAME, "admin")
        if given.scheme == "bearer":
            info = await anyio.to_thread.run_sync(
                self.history.token_for, given.value, self.clock.now()
            )
            if info is not None:
                return Principal(info.name, info.role, info.carrier)  # type: ignore[arg-type]
        access.failures.failed(client)
        raise _unauthorized()

    async def noc(self, request: Request) -> Principal:
        principal = await self.who(request)
        if principal.role not in ("noc", "admin"):
            raise HTTPException(403, "this needs a noc or admin token")
        return principal

    async def admin(self, request: Request) -> Principal:
        principal = await self.who(request)
        if principal.role != "admin":
            raise HTTPException(403, "this needs an admin token")
        return principal

    def audit(
        self, principal: Principal, action: str, subject: str, detail: dict[str, Any]
    ) -> None:
        self.history.audit(
            actor=principal.name, action=action, subject=subject, detail=detail,
            now=self.clock.now(),
        )  # fmt: skip


def _silence_routes(
    api: APIRouter,
    store: AlertingStore,
    clock: Clock,
    changed: Callable[[], None],
    guards: Guards,
) -> None:
    noc = Depends(guards.noc)
    audit = guards.audit

    @api.get("/silences")
    def list_silences(
        *, _: Principal = noc, state: Literal["active", "pending", "expired"] | None = None
    ) -> Any:
        now = clock.now()
        found = [silence_json(s, now) for s in store.silences()]
        return [s for s in found if state in (None, s["state"])]

    @api.post("/silences", status_code=201, openapi_extra=_body_schema(SilenceIn))
    def create_silence(*, principal: Principal = noc, body: Annotated[Any, Depends(_json)]) -> Any:
        wanted = _model(SilenceIn, body)
        with _as_bad_request():
            silence = add_silence(store, _silence_request(wanted), clock.now())
        audit(principal, "silence.add", silence.record.id, {"matchers": wanted.matchers})
        changed()
        return JSONResponse(silence_json(silence, clock.now()), status_code=201)

    @api.delete("/silences/{ident}", openapi_extra=_body_schema(ExpireIn))
    def end_silence(
        *,
        principal: Principal = noc,
        ident: Annotated[str, Path(pattern=SILENCE_ID)],
        body: Annotated[Any, Depends(_json)],
    ) -> Any:
        wanted = _model(ExpireIn, body)
        with _as_bad_request():
            ended = expire_silence(store, ident, wanted.by, clock.now())
        audit(principal, "silence.expire", ident, {"by": wanted.by})
        changed()
        return silence_json(ended, clock.now())


def _incident_routes(  # noqa: PLR0917 - one router's parts
    api: APIRouter,
    store: AlertingStore,
    clock: Clock,
    changed: Callable[[], None],
    guards: Guards,
    districts: Districts | None,
) -> None:
    anyone = Depends(guards.who)
    noc = Depends(guards.noc)
    history = store.access
    audit = guards.audit

    @api.get("/incidents")
    def list_incidents(
        *,
        principal: Principal = anyone,
        carrier: Annotated[str | None, Query(max_length=200)] = None,
        site: Annotated[str | None, Query(max_length=200)] = None,
        district: Annotated[str | None, Query(max_length=200)] = None,
        kind: Annotated[str | None, Query(max_length=100)] = None,
        severity: Annotated[str | None, Query(max_length=100)] = None,
        state: Literal["open", "closed"] | None = None,
        since: Annotated[str | None, Query(description="ISO 8601 with a zone")] = None,
        until: Annotated[str | None, Query(description="ISO 8601 with a zone")] = None,
        phase: Annotated[str | None, Query(max_length=100)] = None,
        session: Annotated[str | None, Query(max_length=200)] = None,
        q: Annotated[str | None, Query(max_length=200, description="free text")] = None,
        sort: Annotated[str, Query(description=", ".join(SORTS))] = "-started_at",
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
        format: Annotated[
            Literal["csv", "json"] | None,
            Query(description=f"a download of every match (up to {MAX_EXPORT}): csv or json"),
        ] = None,
    ) -> Any:
        """The incident history, newest first; a carrier token sees its own carrier's only.

        With `format`, a download (an attachment) of every incident the filters
        find, up to MAX_EXPORT, whatever `limit` and `offset` say.
        """
        filters = Filters(carrier, site, district, kind, severity, state, since, until, phase,
                          session, q)  # fmt: skip
        if format is not None:
            limit, offset = MAX_EXPORT, 0
        query = filters.query(principal.scope, districts, sort, limit, offset)
        page = history.search(query)
        found = [history_json(i, principal.scope) for i in page.incidents]
        if format is not None:
            return download(found, page.total, format)
        return {"total": page.total, "limit": limit, "offset": offset, "incidents": found}

    @api.get("/incidents/{ident}")
    def incident_detail(
        *, principal: Principal = anyone, ident: Annotated[int, Path(ge=1, le=MAX_ID)]
    ) -> Any:
        """An incident with its timeline: state changes, notifications, acks, notes."""
        found = history.incident(ident, principal.scope)
        if found is None:
            raise HTTPException(404, f"no incident {ident}")
        timeline = history.timeline(
            found, incident_fingerprint(found.record), scope=principal.scope, now=clock.now()
        )
        return incident_detail_json(found, timeline, principal.scope)

    @api.post("/incidents/{ident}/notes", status_code=201, openapi_extra=_body_schema(NoteIn))
    def add_note(
        *,
        principal: Principal = noc,
        ident: Annotated[int, Path(ge=1, le=MAX_ID)],
        body: Annotated[Any, Depends(_json)],
    ) -> Any:
        wanted = _model(NoteIn, body)
        by = wanted.by or principal.name
        if not history.add_note(ident, by, principal.name, wanted.note, clock.now()):
            raise HTTPException(404, f"no incident {ident}")
        return JSONResponse({"incident": ident, "by": by, "note": wanted.note}, 201)

    @api.post("/acks", openapi_extra=_body_schema(AckIn))
    def ack(*, principal: Principal = noc, body: Annotated[Any, Depends(_json)]) -> Any:
        wanted = _model(AckIn, body)
        with _as_bad_request():
            acked = acknowledge(
                store, _incident(wanted.incident), wanted.by, wanted.note, clock.now()
            )
        audit(principal, "incident.ack", str(acked.id), {"by": wanted.by, "note": wanted.note})
        changed()
        return incident_json(acked)


def _report_routes(  # noqa: PLR0917 - one router's parts
    api: APIRouter,
    store: AlertingStore,
    clock: Clock,
    guards: Guards,
    inventory: Inventories | None,
    status: Statuses | None,
) -> None:
    anyone = Depends(guards.who)
    history = store.access

    @api.get("/availability")
    def availability(
        *,
        principal: Principal = anyone,
        by: Literal["link", "site", "carrier"] = "link",
        since: Annotated[str, Query(description="ISO 8601 with a zone")],
        until: Annotated[str, Query(description="ISO 8601 with a zone")],
        sessions_only: bool = False,
        exclude_silenced: bool = False,
    ) -> Any:
        """Availability per link, site or carrier over [since, until) (docs/api.md).

        A carrier token sees its own carrier's links and the sites it serves.
        """
        start, end = _moment(since, "since"), _moment(until, "until")
        if start is None or end is None or not start < end:
            raise bad('"since" must be before "until"')
        if inventory is None:
            raise bad("availability needs the inventory (only a running monitor has it)")
        options = Options(start, end, clock.now(), sessions_only, exclude_silenced)
        return availability_report(history, inventory(), by, options, principal.scope)

    @api.get("/status")
    def current_status(*, principal: Principal = anyone) -> Any:
        """What `examnet status --json` shows; a carrier token sees its own links only."""
        if status is None:
            raise bad("the status needs a running monitor")
        return status(principal.scope)


def _token_routes(
    api: APIRouter, store: AlertingStore, clock: Clock, guards: Guards,
    inventory: Inventories | None,
) -> None:  # fmt: skip
    admin = Depends(guards.admin)
    history = store.access

    @api.get("/tokens")
    def list_tokens(*, _: Principal = admin) -> Any:
        return [token_json(t, clock.now()) for t in history.tokens()]

    @api.post("/tokens", status_code=201, openapi_extra=_body_schema(TokenIn))
    def create_token(*, principal: Principal = admin, body: Annotated[Any, Depends(_json)]) -> Any:
        wanted = _model(TokenIn, body)
        now = clock.now()
        try:
            expires = None if wanted.expires is None else now + lifetime(wanted.expires)
        except ValueError as exc:
            raise bad(f'"expires": {exc}') from None
        if inventory is not None and wanted.carrier is not None:
            known = [c.id for c in inventory().carriers]
            if wanted.carrier not in known:  # a token that would see nothing
                raise bad(f'"carrier": the file declares no carrier {wanted.carrier!r}')
        try:
            token, info = history.create_token(
                name=wanted.name, role=wanted.role, carrier=wanted.carrier, expires_at=expires,
                by=principal.name, now=now,
            )  # fmt: skip
        except TokenStoreError as exc:
            raise bad(str(exc)) from None
        return JSONResponse({**token_json(info, now), "token": token}, 201)

    @api.delete("/tokens/{ident}")
    def revoke_token(
        *, principal: Principal = admin, ident: Annotated[str, Path(max_length=200)]
    ) -> Any:
        try:
            info = history.revoke_token(ident, principal.name, clock.now())
        except TokenStoreError as exc:
            raise HTTPException(404, str(exc)) from None
        return token_json(info, clock.now())


def availability_report(
    history: AccessStore, running: Inventory, by: By, options: Options, scope: str | None
) -> dict[str, Any]:
    """What GET /api/availability answers (the web page shows the same)."""
    query = OutageQuery(options.since, options.until, scope, served_sites(running, scope))
    outages, silences = history.outages(query)
    sessions = [(s.start, s.end) for s in running.calendar.sessions]
    districts = {s.id: s.district for s in running.sites}
    measured = history.measured(options.since, options.until, options.now)
    calc = Calculator(outages, silences, options, sessions, districts=districts, measured=measured)
    return {
        "by": by,
        "since": options.since.isoformat(),
        "until": options.until.isoformat(),
        "sessions_only": options.sessions_only,
        "exclude_silenced": options.exclude_silenced,
        "seconds": calc.total,
        "unmeasured_seconds": calc.unmeasured,
        "rows": report(calc, running, by, scope),
    }


@dataclass(frozen=True, slots=True)
class Filters:
    """The history's filters as the wire gives them (the API's query, a page's form)."""

    carrier: str | None = None
    site: str | None = None
    district: str | None = None
    kind: str | None = None
    severity: str | None = None
    state: Literal["open", "closed"] | None = None
    since: str | None = None
    until: str | None = None
    phase: str | None = None
    session: str | None = None
    q: str | None = None

    def query(
        self, scope: str | None, districts: Districts | None, sort: str, limit: int, offset: int
    ) -> IncidentQuery:
        """The query, within a carrier's `scope`; a bad filter is a 400 saying why."""
        if sort not in SORTS:
            raise bad(f'"sort" must be one of {", ".join(SORTS)}')
        texts = (self.carrier, self.site, self.district, self.kind, self.severity, self.phase,
                 self.session, self.q)  # fmt: skip
        for text in texts:
            _check_values(text)  # no NUL nor lone surrogate reaches the database
        return IncidentQuery(
            scope=scope, carrier=self.carrier, sites=_sites(self.site, self.district, districts),
            kind=self.kind, severity=self.severity, state=self.state,
            since=_moment(self.since, "since"), until=_moment(self.until, "until"),
            phase=self.phase, session=self.session, text=self.q, sort=sort, limit=limit,
            offset=offset,
        )  # fmt: skip


def download(found: list[dict[str, Any]], total: int, form: Literal["csv", "json"]) -> Response:
    """The incidents as an attachment: the shape of `examnet incidents --format csv|json`."""
    if form == "csv":
        body, media = export_csv(found), "text/csv; charset=utf-8"
    else:
        body, media = export_json(found, total), "application/json"
    headers = {
        "Content-Disposition": f'attachment; filename="examnet-incidents.{form}"',
        "X-Total-Count": str(total),  # more than the rows when past MAX_EXPORT
    }
    return Response(body.encode(), media_type=media, headers=headers)


def _unauthorized() -> HTTPException:
    return HTTPException(
        401, "a valid bearer token is required", headers={"WWW-Authenticate": f"Bearer {REALM}"}
    )


def _sites(site: str | None, district: str | None, districts: Districts | None) -> list[str] | None:
    """The sites a `site` and a `district` filter leave: both must hold."""
    if district is None:
        return None if site is None else [site]
    if districts is None:
        raise bad('"district" needs the inventory (only a running monitor has it)')
    chosen = sorted(s for s, d in districts().items() if d == district)
    return [s for s in chosen if site in (None, s)]


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
