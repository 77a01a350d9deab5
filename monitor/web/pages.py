"""The web pages: server-rendered HTML on the API's app, for people with a token.

    GET  /login, POST /login     paste a token; checked as the API checks a bearer token
    POST /logout                 (CSRF)
    GET  /                       the open incidents (a carrier: its own), ack and note buttons
    GET  /incidents              the history with the API's filters, pages, sort, downloads
    GET  /incidents/<id>         an incident, its timeline and its chart (SVG, server-drawn)
    POST /incidents/<id>/ack, /incidents/<id>/note   (noc, admin; CSRF; audited)
    GET  /availability           per site, carrier and link (monitor.availability, as the API)

The session cookie holds the token itself (HttpOnly, SameSite=Strict, Secure
over HTTPS): every page checks it exactly as the API checks a bearer token
(`Guards.principal`: the failed-login limit, expiry, revocation), so a
revoked token ends its sessions at once and nothing is kept on the server.
Forms that write carry a CSRF token, an HMAC keyed by the session's token:
only that session can make it (its cookie is HttpOnly and SameSite=Strict),
and a form loaded before the monitor restarted still posts after. Scoping
is the API's: `Principal.scope` into `IncidentQuery.scope` and the figures'
query. Jinja2 with autoescape: the templates are plain HTML files, and
every value is escaped unless marked.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.parse
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from alerts.rules import incident_fingerprint
from monitor.api import Districts, Filters, Guards, Inventories, availability_report, download
from monitor.availability import Options
from monitor.model.clock import Clock
from monitor.operations import OperationError, acknowledge
from monitor.storage.history import MAX_EXPORT, IncidentQuery
from monitor.storage.store import AlertingStore
from monitor.views import history_json, incident_detail_json
from monitor.web.access import Credentials, Principal
from monitor.web.chart import Panel, Series, render
from monitor.web.i18n import Words

COOKIE = "examnet_session"
PAGE_SIZE = 50
FILTERS = ("carrier", "site", "district", "kind", "severity", "state", "since", "until", "phase",
           "session", "q")  # fmt: skip
MAX_FORM = 8_000  # characters of a form's value (a note, a token)
CSRF_PURPOSE = b"examnet web form v1"
SESSION_IDLE = 8 * 3600  # seconds without a page opened before the browser drops the session

_templates = Environment(
    loader=PackageLoader("monitor.web", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


class _Login(Exception):  # noqa: N818 - a control-flow signal, not an error
    """No valid session: the page answers with a redirect to /login."""


class _Site:
    """What every page needs: who is asking, their words and zone, a template to fill."""

    def __init__(
        self, store: AlertingStore, clock: Clock, inventory: Inventories,
        districts: Districts | None,
    ) -> None:  # fmt: skip
        self.store = store
        self.history = store.access
        self.clock = clock
        self.inventory = inventory
        self.districts = districts
        self.guards = Guards(store, clock)

    def csrf(self, token: str) -> str:
        """The CSRF token of a session: derived from its token, so it outlives a restart."""
        return hmac.new(token.encode(), CSRF_PURPOSE, hashlib.sha256).hexdigest()

    def words(self) -> Words:
        return Words(self.inventory().alerting.language)

    def zone(self) -> ZoneInfo:
        return self.inventory().plan.timezone

    async def session(self, request: Request) -> tuple[Principal, str]:
        """The session's principal and token, checked as the API checks a bearer token."""
        token = request.cookies.get(COOKIE)
        if not token:
            raise _Login
        try:
            return await self.guards.principal(request, Credentials("bearer", token)), token
        except HTTPException:
            raise _Login from None

    def show(self, request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        tz = self.zone()
        context = {
            "w": self.words(), "path": request.url.path, "zone": str(tz),
            "local": lambda text: _local(text, tz), "duration": _duration, "percent": _percent,
            **values,
        }  # fmt: skip
        html = _templates.get_template(name).render(context)
        return HTMLResponse(html, status, headers={"Cache-Control": "no-store"})

    def page(self, request: Request, name: str, session: tuple[Principal, str],
             status: int = 200, **values: Any) -> HTMLResponse:  # fmt: skip
        principal, token = session
        answer = self.show(request, name, status, me=principal, csrf=self.csrf(token), **values)
        keep_session(answer, request, token)  # each page a person opens slides the idle limit
        return answer

    def query(self, request: Request, scope: str | None, limit: int, offset: int) -> IncidentQuery:
        """The list's filters from the address (400 with why for a bad one)."""
        given = {k: request.query_params.get(k) or None for k in FILTERS}
        if given["state"] not in (None, "open", "closed"):
            raise HTTPException(400, '"state" must be open or closed')
        sort = request.query_params.get("sort") or "-started_at"
        return Filters(**given).query(scope, self.districts, sort, limit, offset)  # type: ignore[arg-type]


def router(
    store: AlertingStore,
    clock: Clock,
    changed: Callable[[], None],
    inventory: Inventories,
    districts: Districts | None = None,
) -> APIRouter:
    pages = APIRouter(include_in_schema=False)
    site = _Site(store, clock, inventory, districts)
    _login_routes(pages, site)
    _download_route(pages, site)  # before /incidents/{ident}
    _incident_routes(pages, site)
    _write_routes(pages, site, changed)
    _availability_route(pages, site)
    return pages


def _to_login() -> RedirectResponse:
    return RedirectResponse("/login", 303)


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded form's fields (the body is bounded by BodyLimit), each cut to MAX_FORM."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[:MAX_FORM] for k, v in urllib.parse.parse_qsl(body)}


def keep_session(answer: Response, request: Request, token: str) -> None:
    """The session cookie, for SESSION_IDLE from now: a browser left alone for a
    shift forgets it (the token itself lives on until it expires or is revoked)."""
    answer.set_cookie(COOKIE, token, max_age=SESSION_IDLE, httponly=True, samesite="strict",
                      path="/", secure=request.url.scheme == "https")  # fmt: skip


def _login_routes(pages: APIRouter, site: _Site) -> None:
    @pages.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request) -> Response:
        return site.show(request, "login.html")

    @pages.post("/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        token = (await _form(request)).get("token", "").strip()
        try:
            await site.guards.principal(request, Credentials("bearer", token) if token else None)
        except HTTPException as exc:
            why = "too_many" if exc.status_code == 429 else "bad_token"
            return site.show(request, "login.html", exc.status_code, error=site.words()[why])
        answer = RedirectResponse("/", 303)
        keep_session(answer, request, token)
        return answer

    @pages.post("/logout")
    async def logout(request: Request) -> Response:
        try:
            _principal, token = await site.session(request)
        except _Login:
            return _to_login()
        if not hmac.compare_digest((await _form(request)).get("csrf", ""), site.csrf(token)):
            return HTMLResponse(site.words()["forbidden"], 403)
        answer = _to_login()
        answer.delete_cookie(COOKIE, path="/")
        return answer


def _download_route(pages: APIRouter, site: _Site) -> None:
    history = site.history

    @pages.get("/incidents/download")
    async def incidents_download(request: Request) -> Response:
        """The list's download: the API's, under the session (same query, scope, shape)."""
        try:
            principal, _token = await site.session(request)
        except _Login:
            return _to_login()
        form: Literal["csv", "json"] = (
            "json" if request.query_params.get("format") == "json" else "csv"
        )
        try:
            query = site.query(request, principal.scope, MAX_EXPORT, 0)
        except HTTPException as exc:
            return HTMLResponse(str(exc.detail), 400)
        page = await anyio.to_thread.run_sync(history.search, query)
        found = [history_json(i, principal.scope) for i in page.incidents]
        return download(found, page.total, form)


def _incident_routes(pages: APIRouter, site: _Site) -> None:
    history = site.history

    @pages.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        try:
            session = await site.session(request)
        except _Login:
            return _to_login()
        scope = session[0].scope
        query = Filters(state="open").query(scope, site.districts, "-started_at", MAX_EXPORT, 0)
        page = await anyio.to_thread.run_sync(history.search, query)
        found = [history_json(i, scope) for i in page.incidents]
        return site.page(request, "home.html", session, incidents=found, total=page.total)

    @pages.get("/incidents", response_class=HTMLResponse)
    async def incidents(request: Request) -> Response:
        try:
            session = await site.session(request)
        except _Login:
            return _to_login()
        scope = session[0].scope
        offset = _number(request.query_params.get("offset"))
        error, found, total = None, [], 0
        try:
            query = site.query(request, scope, PAGE_SIZE, offset)
        except HTTPException as exc:
            error = str(exc.detail)
        else:
            page = await anyio.to_thread.run_sync(history.search, query)
            found, total = [history_json(i, scope) for i in page.incidents], page.total
        given = {k: request.query_params.get(k) or None for k in FILTERS}
        sort = request.query_params.get("sort") or "-started_at"
        kept = {k: v for k, v in given.items() if v}
        kept |= {"sort": sort} if sort != "-started_at" else {}
        return site.page(
            request, "incidents.html", session, 400 if error else 200, incidents=found,
            total=total, offset=offset, size=PAGE_SIZE, given=given, sort=sort, error=error,
            page_link=lambda at: "/incidents?" + urllib.parse.urlencode({**kept, "offset": at}),
            download_link=lambda form: "/incidents/download?"
            + urllib.parse.urlencode({**kept, "format": form}),
        )  # fmt: skip

    @pages.get("/incidents/{ident}", response_class=HTMLResponse)
    async def incident(request: Request, ident: str) -> Response:
        try:
            session = await site.session(request)
        except _Login:
            return _to_login()
        scope = session[0].scope
        found = await anyio.to_thread.run_sync(history.incident, _number(ident), scope)
        if found is None:
            return site.page(request, "missing.html", session, 404)
        fingerprint = incident_fingerprint(found.record)
        now = site.clock.now()
        timeline = await anyio.to_thread.run_sync(
            lambda: history.timeline(found, fingerprint, scope=scope, now=now)
        )
        detail = incident_detail_json(found, timeline, scope)
        figures = detail["timeline"]["figures"]
        span = (found.record.started_at, found.record.ended_at or now)
        return site.page(
            request, "incident.html", session, i=detail,
            chart=_chart(figures, span, site.zone(), site.words()),
            events=_events(detail["timeline"], site.words()), thinned=figures["every_round"],
        )  # fmt: skip


def _write_routes(pages: APIRouter, site: _Site, changed: Callable[[], None]) -> None:
    @pages.post("/incidents/{ident}/ack")
    async def ack(request: Request, ident: str) -> Response:
        return await _write(request, ident, "ack")

    @pages.post("/incidents/{ident}/note")
    async def note(request: Request, ident: str) -> Response:
        return await _write(request, ident, "note")

    async def _write(request: Request, ident: str, action: str) -> Response:
        """An ack or a note from a form: noc or admin, the session's CSRF token, audited."""
        try:
            principal, token = await site.session(request)
        except _Login:
            return _to_login()
        given = await _form(request)
        allowed = principal.role in ("noc", "admin")
        if not (allowed and hmac.compare_digest(given.get("csrf", ""), site.csrf(token))):
            return HTMLResponse(site.words()["forbidden"], 403)
        number = _number(ident)
        by = given.get("by", "").strip() or principal.name
        text = given.get("note", "").strip()
        now = site.clock.now()
        if action == "ack":
            try:
                acked = await anyio.to_thread.run_sync(
                    lambda: acknowledge(site.store, str(number), by, text, now)
                )
            except OperationError as exc:
                return HTMLResponse(str(exc), 400)
            detail = {"by": by, "note": text}
            await anyio.to_thread.run_sync(
                site.guards.audit, principal, "incident.ack", str(acked.id), detail
            )
            changed()
        elif text and not await anyio.to_thread.run_sync(
            site.history.add_note, number, by, principal.name, text, now
        ):
            return HTMLResponse(site.words()["not_found"], 404)
        return RedirectResponse("/" if given.get("back") == "/" else f"/incidents/{number}", 303)


def _availability_route(pages: APIRouter, site: _Site) -> None:
    @pages.get("/availability", response_class=HTMLResponse)
    async def availability(request: Request) -> Response:
        """Per site, carrier and link, as GET /api/availability computes them."""
        try:
            session = await site.session(request)
        except _Login:
            return _to_login()
        tz, now, running = site.zone(), site.clock.now(), site.inventory()
        today = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        since = _day(request.query_params.get("since"), tz) or today - timedelta(days=7)
        until = _day(request.query_params.get("until"), tz) or today + timedelta(days=1)
        sessions_only = request.query_params.get("sessions_only") == "1"
        exclude = request.query_params.get("exclude_silenced") == "1"
        options = Options(since, until, now, sessions_only, exclude)
        scope = session[0].scope
        tables: dict[str, Any] = {}
        for by in ("site", "carrier", "link") if since < until else ():
            tables[by] = await anyio.to_thread.run_sync(
                availability_report, site.history, running, by, options, scope
            )
        return site.page(
            request, "availability.html", session, tables=tables,
            since=since.date().isoformat(), until=until.date().isoformat(),
            sessions_only=sessions_only, exclude=exclude,
        )  # fmt: skip


def _number(text: str | None) -> int:
    try:
        value = int(text or 0)
    except ValueError:
        return 0
    return value if 0 <= value < 2**63 else 0


def _day(text: str | None, tz: ZoneInfo) -> datetime | None:
    """A date of the form (YYYY-MM-DD) as local midnight."""
    try:
        return datetime.fromisoformat(text or "").replace(tzinfo=tz) if text else None
    except ValueError:
        return None


def _local(text: str | None, tz: ZoneInfo) -> str:
    """An ISO time as the plan's local time, to the second."""
    if not text:
        return ""
    return datetime.fromisoformat(text).astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.3f} %"  # 99.999 % is 8.6 s a day


def _chart(figures: dict[str, Any], span: tuple[datetime, datetime], tz: ZoneInfo,
           w: Words) -> str:  # fmt: skip
    """The incident's panels: RTT, loss, and utilisation when it has interface samples."""

    def moment(text: str) -> datetime:
        return datetime.fromisoformat(text)

    def series(rows: list[dict[str, Any]], name_of: str, field: str, scale: float = 1.0,
               suffix: str = "") -> list[Series]:  # fmt: skip
        names = sorted({r[name_of] for r in rows})
        return [
            Series(f"{name}{suffix}", [
                (moment(r["at"]), None if r[field] is None else r[field] * scale)
                for r in rows if r[name_of] == name
            ])
            for name in names
        ]  # fmt: skip

    rounds, samples = figures["rounds"], figures["interfaces"]
    panels = [
        Panel(w["rtt"], series(rounds, "target", "rtt_median_ms")),
        Panel(w["loss"], series(rounds, "target", "loss", 100.0), bars=True, top=100.0),
    ]
    if samples:
        panels.append(Panel(w["utilisation"],
                            series(samples, "interface", "utilisation_in", 100.0, " in")
                            + series(samples, "interface", "utilisation_out", 100.0, " out"),
                            top=100.0))  # fmt: skip
    since, until = _focus(figures, span)
    return render(panels, since, until, span, tz, no_data=w["no_data"])


def _focus(figures: dict[str, Any], span: tuple[datetime, datetime]) -> tuple[datetime, datetime]:
    """The chart's time range: the incident and the figures around it, with a margin.

    The figures reach 10 min either side; a chart of a short incident with
    few rounds is more readable drawn over the time the data covers.
    """
    times = [datetime.fromisoformat(r["at"]) for r in figures["rounds"] + figures["interfaces"]]
    low = max(datetime.fromisoformat(figures["since"]), min([span[0], *times]))
    high = min(datetime.fromisoformat(figures["until"]), max([span[1], *times]))
    if high <= low:
        high = low + timedelta(minutes=1)
    margin = (high - low) * 0.04
    return low - margin, high + margin


def _events(timeline: dict[str, Any], w: Words) -> list[dict[str, str]]:
    """State changes, notifications, acks and notes in one list, oldest first."""
    found = [
        {"at": c["at"], "what": w["state_change"],
         "text": f"{w.name(c['previous'])} → {w.name(c['state'])}: {w.reason(c['reason'])}"}
        for c in timeline["state_changes"]
    ] + [
        {"at": n["created_at"], "what": w["notification"],
         "text": w.name(n["state"]) + (f" ({n['receiver']})" if "receiver" in n else "")}
        for n in timeline["notifications"]
    ] + [
        {"at": a["at"], "what": w["ack"], "text": f"{a['by']}: {a['note']}".rstrip(": ")}
        for a in timeline["acks"]
    ] + [
        {"at": n["at"], "what": w["note"], "text": f"{n['by']}: {n['note']}"}
        for n in timeline["notes"]
    ]  # fmt: skip
    return sorted(found, key=lambda e: e["at"] or "")
