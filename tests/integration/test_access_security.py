"""Issue 13's security acceptance, parametrised over every route and page of a real `examnet run`.

ROUTES classifies every API route the HTTP port serves (checked against the
OpenAPI schema the monitor itself publishes) and PAGES every web page
(checked against the pages' router), so a new route or page that is not
classified here fails `test_every_route_and_page_is_classified`. For each:

- no token, a wrong, an expired or a revoked token → 401;
- a carrier token writing (ack, note, silence, token) → 403;
- a carrier token reading anything (lists, details, filters, free text,
  exports, availability, status) never meets another carrier's name or
  incident: another carrier's incident is a 404;
- SQL-injection and path-traversal strings in every parameter → 400 or an
  empty result, and nothing in the database changed;
- bodies over the limit → 413; tokens are never stored in clear nor logged;
- the pages the same, with the session cookie for the token: no valid
  session → back to /login; a carrier's ack or note (with its own valid
  CSRF token) → 403; what a user typed is never echoed unescaped (XSS).

Each case talks from its own loopback source address (127.0.x.y), so the
failed-login rate limit, which counts per address, does not mix the cases.
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, inspect, select

from monitor.config import load_inventory
from monitor.model.clock import SystemClock
from monitor.storage import Store
from monitor.storage.schema import metadata
from monitor.web import pages
from tests.fixtures.api import examnet, make_tokens, seeded
from tests.fixtures.inventories import TWO_CARRIER_SITE
from tests.fixtures.monitor import MonitorProcess
from tests.integration.test_incident_api import ENV_TOKEN, SEEDED

SINCE = "2026-06-25T00:00:00+00:00"
UNTIL = "2026-06-28T00:00:00+00:00"
OTHERS = ("vnpt", "mobifone")  # what a viettel token must never read
_sources = (f"127.0.{a}.{b}" for a, b in itertools.product(range(2, 250), range(2, 250)))


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with {ident} for the id of an incident (or a silence, a token)
    role: str  # the least role that may call it: "public", "any", "noc" or "admin"
    query: dict[str, str]  # a valid call's parameters


ROUTES = [
    Route("GET", "/api/openapi.json", "public", {}),
    Route("GET", "/api/incidents", "any", {"state": "closed", "sort": "-started_at"}),
    Route("GET", "/api/incidents/{ident}", "any", {}),
    Route("POST", "/api/incidents/{ident}/notes", "noc", {}),
    Route("POST", "/api/acks", "noc", {}),
    Route("GET", "/api/silences", "noc", {}),
    Route("POST", "/api/silences", "noc", {}),
    Route("DELETE", "/api/silences/{ident}", "noc", {}),
    Route("GET", "/api/tokens", "admin", {}),
    Route("POST", "/api/tokens", "admin", {}),
    Route("DELETE", "/api/tokens/{ident}", "admin", {}),
    Route("GET", "/api/availability", "any", {"by": "site", "since": SINCE, "until": UNTIL}),
    Route("GET", "/api/status", "any", {}),
    Route("GET", "/metrics", "public", {}),
    Route("GET", "/healthz", "public", {}),
]
PAGES = [
    Route("GET", "/login", "public", {}),
    Route("POST", "/login", "public", {}),
    Route("POST", "/logout", "any", {}),
    Route("GET", "/", "any", {}),
    Route("GET", "/incidents", "any", {"state": "closed"}),
    Route("GET", "/incidents/download", "any", {"format": "csv"}),
    Route("GET", "/incidents/{ident}", "any", {}),
    Route("POST", "/incidents/{ident}/ack", "noc", {}),
    Route("POST", "/incidents/{ident}/note", "noc", {}),
    Route("GET", "/availability", "any", {"since": "2026-06-25", "until": "2026-06-28"}),
]
GUARDED_PAGES = [p for p in PAGES if p.role != "public"]
PAGE_FILTERS = ("carrier", "site", "district", "kind", "severity", "state", "since", "until",
                "phase", "session", "q", "sort", "offset")  # fmt: skip
GUARDED = [r for r in ROUTES if r.role != "public"]
WRITES = [r for r in ROUTES if r.method != "GET"]
READS = [r for r in ROUTES if r.method == "GET" and r.role == "any"]
INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE incidents; --",
    '" OR 1=1 --',
    "%' OR '%'='",
    "../../../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "1 UNION SELECT digest FROM api_tokens",
    "$(reboot)",
    "<script>alert(1)</script>",
]
BODIES: dict[str, dict[str, Any]] = {
    "/api/incidents/{ident}/notes": {"note": "kiểm tra"},
    "/api/acks": {"incident": 0, "by": "Lan", "note": ""},
    "/api/silences": {"matchers": ['site="thpt-a"'], "duration": "1h", "created_by": "x",
                      "comment": "x"},
    "/api/silences/{ident}": {"by": "x"},
    "/api/tokens": {"name": "by-a-carrier", "role": "admin"},
    "/api/tokens/{ident}": {},
}  # fmt: skip


@dataclass
class Desk:
    port: int
    tokens: dict[str, str]
    monitor: MonitorProcess
    db: Path
    ids: dict[str, int]  # an incident of each carrier

    def call(
        self, method: str, path: str, token: str | None, body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:  # fmt: skip
        """One request from a loopback address of its own (the rate limit counts per address)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15,
                                          source_address=(next(_sources), 0))  # fmt: skip
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if body is not None:
            sent.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=body, headers=sent)
            answer = conn.getresponse()
            return answer.status, answer.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def url(self, route: Route, ident: str, **query: str) -> str:
        path = route.path.replace("{ident}", urllib.parse.quote(ident, safe=""))
        wanted = {**route.query, **query}
        return path + ("?" + urllib.parse.urlencode(wanted) if wanted else "")


# What the running monitor writes on its own schedule, whatever a request does: its
# rounds and polls come every 30 s, so a case that straddles one would see them.
MEASURED = frozenset({"targets", "probe_rounds", "state_changes", "snmp_polls",
                      "interface_samples", "power_samples", "device_values", "device_events",
                      "readiness_snapshots", "monitor_runs"})  # fmt: skip


def _counts(db: Path) -> dict[str, int]:
    """The rows of every table a request could write (or drop), and the tables."""
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            names = inspect(conn).get_table_names()
            return {
                t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in metadata.sorted_tables
                if t.name in names and t.name not in MEASURED
            } | {"tables": len(names)}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    tmp = tmp_path_factory.mktemp("security")
    config = tmp / "sites.toml"
    config.write_text(TWO_CARRIER_SITE, encoding="utf-8")
    db = tmp / "examnet.db"
    seeded(db, SEEDED)
    tokens = make_tokens(db, ("viettel", "vnpt"))
    tokens["admin"] = examnet("token", "create", "--role", "admin", "--name", "An", db=db).strip()
    tokens["expired"] = examnet("token", "create", "--role", "noc", "--name", "gone",
                                "--expires", "1h", db=db).strip()  # fmt: skip
    tokens["revoked"] = examnet("token", "create", "--role", "noc", "--name", "revoked",
                                db=db).strip()  # fmt: skip
    examnet("token", "revoke", "revoked", db=db)
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        from monitor.storage.schema import api_tokens, incidents  # noqa: PLC0415

        conn.execute(api_tokens.update().where(api_tokens.c.name == "gone")
                     .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))  # fmt: skip
        ids = {c: conn.execute(select(func.min(incidents.c.id)).where(incidents.c.carrier == c))
               .scalar_one() for c in ("viettel", "vnpt")}  # fmt: skip
    engine.dispose()
    monitor = MonitorProcess(
        config, db, tmp / "examnet.log", env={"EXAMNET_API_TOKEN": ENV_TOKEN}
    ).start()
    try:
        yield Desk(monitor.port, tokens, monitor, db, ids)
    finally:
        monitor.stop()


def _ident(desk: Desk, route: Route, carrier: str = "viettel") -> str:
    if "/silences/" in route.path:
        return "no-such-silence"
    if "/tokens/" in route.path:
        return "no-such-token"
    return str(desk.ids[carrier])


def _body(route: Route, desk: Desk) -> bytes | None:
    if route.method == "GET":
        return None
    body = dict(BODIES[route.path])
    if route.path == "/api/acks":
        body["incident"] = desk.ids["viettel"]
    return json.dumps(body).encode()


def test_every_route_and_page_is_classified(desk: Desk) -> None:
    status, text = desk.call("GET", "/api/openapi.json", None)
    assert status == 200
    served = {(m.upper(), p) for p, ops in json.loads(text)["paths"].items() for m in ops}
    assert served - {(r.method, r.path) for r in ROUTES} == set(), "an API route not checked"
    store = Store(f"sqlite:///{desk.db}")
    try:
        inventory = load_inventory(desk.monitor.config, {})
        router = pages.router(store.alerting, SystemClock(), lambda: None, lambda: inventory)
        served = {(m, r.path) for r in router.routes for m in getattr(r, "methods", ())}
    finally:
        store.close()
    assert served == {(p.method, p.path) for p in PAGES}, "a page not checked"


@pytest.mark.parametrize("route", GUARDED, ids=lambda r: f"{r.method} {r.path}")
@pytest.mark.parametrize("who", ["none", "wrong", "expired", "revoked", "basic"])
def test_no_wrong_expired_or_revoked_token_is_401(desk: Desk, route: Route, who: str) -> None:
    token = {"none": None, "wrong": "exn_" + "x" * 40}.get(who, desk.tokens.get(who))
    headers = {"Authorization": "Basic YWRtaW46YWRtaW4="} if who == "basic" else None
    before = _counts(desk.db)
    status, text = desk.call(route.method, desk.url(route, _ident(desk, route)),
                             token, _body(route, desk), headers)  # fmt: skip
    assert status == 401, text
    assert "viettel" not in text.lower()
    assert _counts(desk.db) == before


@pytest.mark.parametrize("route", [r for r in WRITES], ids=lambda r: f"{r.method} {r.path}")
def test_a_carrier_token_may_not_write(desk: Desk, route: Route) -> None:
    before = _counts(desk.db)
    status, text = desk.call(route.method, desk.url(route, _ident(desk, route)),
                             desk.tokens["viettel"], _body(route, desk))  # fmt: skip
    assert status == 403, text
    assert _counts(desk.db) == before


def _reads(desk: Desk) -> Iterator[tuple[str, str]]:
    """Every read a carrier may make, with filters that name the others too."""
    for route in READS:
        ident = _ident(desk, route)
        yield route.path, desk.url(route, ident)
        if route.path == "/api/incidents":
            for name in ("carrier", "site", "district", "q", "kind", "session"):
                for value in (*OTHERS, "thpt-a", "fibre", "Cao Lộc"):
                    yield f"{route.path}?{name}", desk.url(route, ident, **{name: value})
            yield route.path, desk.url(route, ident, state="open")
        if route.path == "/api/availability":
            for by in ("link", "site", "carrier"):
                for more in ({}, {"exclude_silenced": "true"}, {"sessions_only": "true"}):
                    yield route.path, desk.url(route, ident, by=by, **more)


def test_a_carrier_never_reads_another_carrier(desk: Desk) -> None:
    token = desk.tokens["viettel"]
    seen = 0
    for what, url in _reads(desk):
        status, text = desk.call("GET", url, token)
        assert status == 200, (what, url, text)
        lowered = text.lower()
        for other in OTHERS:
            assert other not in lowered, (what, url, text[:500])
        seen += 1
    assert seen > 40
    # the same reads name the others for the NOC: the check above could fail
    named = "".join(desk.call("GET", url, desk.tokens["noc"])[1] for _, url in _reads(desk))
    assert all(other in named.lower() for other in OTHERS)
    # another carrier's incident does not exist for it, by id or through its fingerprint
    status, _ = desk.call("GET", f"/api/incidents/{desk.ids['vnpt']}", token)
    assert status == 404
    status, own = desk.call("GET", f"/api/incidents/{desk.ids['viettel']}", token)
    assert status == 200
    assert json.loads(own)["carrier"] == "viettel"


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_and_traversal_in_every_parameter_change_nothing(
    desk: Desk, payload: str
) -> None:
    status, text = desk.call("GET", "/api/openapi.json", None)
    schema = json.loads(text)
    before = _counts(desk.db)
    tried = 0
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            for param in op.get("parameters", []):
                route = next(r for r in ROUTES if (r.method, r.path) == (method.upper(), path))
                if param["in"] == "path":
                    url = desk.url(route, payload)
                else:
                    url = desk.url(route, _ident(desk, route), **{param["name"]: payload})
                status, text = desk.call(method.upper(), url, desk.tokens["admin"],
                                         _body(route, desk))  # fmt: skip
                tried += 1
                assert status in (400, 404) or _empty(status, text, route), (url, status, text)
    assert tried > 20
    assert _counts(desk.db) == before


def _empty(status: int, text: str, route: Route) -> bool:
    """A 200 that found nothing (no incident; every availability row untouched)."""
    if status != 200:
        return False
    answer = json.loads(text)
    if route.path == "/api/incidents":
        return bool(answer["total"] == 0)
    return False


@pytest.mark.parametrize("route", WRITES, ids=lambda r: f"{r.method} {r.path}")
def test_an_oversized_body_is_refused_unread(desk: Desk, route: Route) -> None:
    before = _counts(desk.db)
    big = json.dumps({"note": "x" * (128 * 1024)}).encode()
    status, _ = desk.call(route.method, desk.url(route, _ident(desk, route)),
                          desk.tokens["admin"], big)  # fmt: skip
    assert status == 413
    assert _counts(desk.db) == before


def test_tokens_are_neither_stored_in_clear_nor_logged(desk: Desk) -> None:
    for token in desk.tokens.values():
        desk.call("GET", "/api/incidents", token)
    stored = desk.db.read_bytes()
    told = desk.monitor.log() + desk.monitor.metrics_text()
    for token in [*desk.tokens.values(), ENV_TOKEN]:
        secret = token.removeprefix("exn_")
        assert secret.encode() not in stored
        assert secret not in told


# -- the pages -----------------------------------------------------------------------


def _page(desk: Desk, method: str, url: str, token: str | None,
          form: dict[str, str] | None = None) -> tuple[int, str, str]:  # fmt: skip
    """A page as a browser asks for it: the session cookie, a urlencoded form."""
    headers = {"Cookie": f"examnet_session={token}"} if token else {}
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn = http.client.HTTPConnection("127.0.0.1", desk.port, timeout=15,
                                      source_address=(next(_sources), 0))  # fmt: skip
    try:
        conn.request(method, url, body=body, headers=headers)
        answer = conn.getresponse()
        text = answer.read().decode("utf-8", "replace")
        return answer.status, text, answer.getheader("Location") or ""
    finally:
        conn.close()


def _csrf(desk: Desk, token: str) -> str:
    """The session's own CSRF token, as its pages carry it."""
    _, text, _ = _page(desk, "GET", "/", token)
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', text)
    assert found is not None, text[:300]
    return found[1]


def _page_url(desk: Desk, page: Route, ident: str | None = None, **query: str) -> str:
    return desk.url(page, ident if ident is not None else str(desk.ids["viettel"]), **query)


@pytest.mark.parametrize("page", GUARDED_PAGES, ids=lambda p: f"{p.method} {p.path}")
@pytest.mark.parametrize("who", ["none", "wrong", "expired", "revoked"])
def test_a_page_without_a_valid_session_goes_back_to_login(
    desk: Desk, page: Route, who: str
) -> None:
    token = {"none": None, "wrong": "exn_" + "x" * 40}.get(who, desk.tokens.get(who))
    before = _counts(desk.db)
    form = {"csrf": "0" * 64, "note": "x", "by": "x"} if page.method == "POST" else None
    status, text, location = _page(desk, page.method, _page_url(desk, page), token, form)
    assert (status, location) == (303, "/login"), text[:300]
    assert _counts(desk.db) == before


@pytest.mark.parametrize("action", ["ack", "note"])
def test_a_carrier_may_not_ack_or_note_on_a_page(desk: Desk, action: str) -> None:
    token = desk.tokens["viettel"]
    form = {"csrf": _csrf(desk, token), "note": "Viettel đã sửa", "by": "Viettel"}
    before = _counts(desk.db)
    status, _, _ = _page(desk, "POST", f"/incidents/{desk.ids['viettel']}/{action}", token, form)
    assert status == 403
    assert _counts(desk.db) == before
    # and a NOC page's form needs its own session's CSRF token, not another's
    forged = {**form, "csrf": _csrf(desk, token)}
    status, _, _ = _page(desk, "POST", f"/incidents/{desk.ids['viettel']}/{action}",
                         desk.tokens["noc"], forged)  # fmt: skip
    assert status == 403
    assert _counts(desk.db) == before


def _page_reads(desk: Desk) -> Iterator[str]:
    for page in GUARDED_PAGES:
        if page.method != "GET":
            continue
        yield _page_url(desk, page)
        if page.path in ("/incidents", "/incidents/download"):
            for name in ("carrier", "site", "district", "q", "kind", "session"):
                for value in (*OTHERS, "thpt-a", "fibre"):
                    yield _page_url(desk, page, **{name: value})
        if page.path == "/incidents/download":
            yield _page_url(desk, page, format="json")
        if page.path == "/availability":
            yield _page_url(desk, page, sessions_only="1", exclude_silenced="1")


def _without_echo(text: str) -> str:
    """The page without what the user typed given back to it (form values, the links kept)."""
    return re.sub(r'(value|href)="[^"]*"', "", text)


def test_a_carrier_never_reads_another_carrier_on_a_page(desk: Desk) -> None:
    token = desk.tokens["viettel"]
    read = 0
    for url in _page_reads(desk):
        status, text, _ = _page(desk, "GET", url, token)
        assert status == 200, (url, text[:300])
        for other in OTHERS:
            shown = _without_echo(text) if other in url else text
            assert other not in shown.lower(), (url, text[:500])
        read += 1
    assert read > 25
    status, text, _ = _page(desk, "GET", f"/incidents/{desk.ids['vnpt']}", token)
    assert status == 404
    named = "".join(_page(desk, "GET", url, desk.tokens["noc"])[1] for url in _page_reads(desk))
    assert all(other in named.lower() for other in OTHERS)


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_traversal_and_markup_on_every_page_change_nothing(
    desk: Desk, payload: str
) -> None:
    token = desk.tokens["noc"]
    before = _counts(desk.db)
    tried = 0
    for page in GUARDED_PAGES:
        urls = [_page_url(desk, page, payload)] if "{ident}" in page.path else []
        if page.method == "GET":
            urls += [_page_url(desk, page, **{name: payload}) for name in PAGE_FILTERS]
        for url in urls:
            form = {"csrf": "0" * 64, "note": payload} if page.method == "POST" else None
            status, text, _ = _page(desk, page.method, url, token, form)
            tried += 1
            assert status in (200, 303, 400, 403, 404), (url, status)
            assert "<script>alert(1)</script>" not in text, url
            if status == 200 and page.method == "GET" and _names_a_match(url):
                assert _nothing_found(page, text), (url, text[:300])
    assert tried > 40
    assert _counts(desk.db) == before


def _names_a_match(url: str) -> bool:
    """A filter that selects incidents by what they are: a strange value selects none."""
    given = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    return bool(set(given) & {"carrier", "site", "district", "kind", "severity", "phase",
                              "session", "q"})  # fmt: skip


def _nothing_found(page: Route, text: str) -> bool:
    if page.path == "/incidents":
        return re.search(r'href="/incidents/[0-9]+"', text) is None
    if page.path == "/incidents/download":
        return text.count("\n") <= 1  # the CSV's header line only
    return True


@pytest.mark.parametrize("page", [p for p in PAGES if p.method == "POST"],
                         ids=lambda p: f"{p.method} {p.path}")  # fmt: skip
def test_an_oversized_form_is_refused_unread(desk: Desk, page: Route) -> None:
    before = _counts(desk.db)
    status, _, _ = _page(desk, "POST", _page_url(desk, page), desk.tokens["noc"],
                         {"note": "x" * (128 * 1024)})  # fmt: skip
    assert status == 413
    assert _counts(desk.db) == before


def test_a_page_opened_before_a_restart_still_writes_after_it(desk: Desk) -> None:
    """An exam-morning restart must not turn the NOC's open page's buttons into 403s;
    and a forged token is still refused after it."""
    token = desk.tokens["noc"]
    form = {"csrf": _csrf(desk, token), "note": "ghi trước khi khởi động lại", "by": "Lan"}
    assert desk.monitor.stop() == 0
    desk.monitor.start()
    url = f"/incidents/{desk.ids['viettel']}/note"
    before = _counts(desk.db)["incident_notes"]
    status, text, location = _page(desk, "POST", url, token, form)
    assert (status, location) == (303, url.removesuffix("/note")), text[:300]
    assert _counts(desk.db)["incident_notes"] == before + 1
    status, _, _ = _page(desk, "POST", url, token, {**form, "csrf": "0" * 64})
    assert status == 403
    assert _counts(desk.db)["incident_notes"] == before + 1


def _set_cookie(desk: Desk, method: str, url: str, token: str, form: dict[str, str]) -> str:
    headers = {"Cookie": f"examnet_session={token}"}
    body = None
    if method == "POST":
        body = urllib.parse.urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    conn = http.client.HTTPConnection("127.0.0.1", desk.port, timeout=15,
                                      source_address=(next(_sources), 0))  # fmt: skip
    try:
        conn.request(method, url, body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        return answer.getheader("Set-Cookie") or ""
    finally:
        conn.close()


def test_a_session_is_kept_by_the_browser_for_a_shift_after_the_last_page_opened(
    desk: Desk,
) -> None:
    token = desk.tokens["viettel"]
    for method, url in (("POST", "/login"), ("GET", "/"), ("GET", "/incidents")):
        cookie = _set_cookie(desk, method, url, token, {"token": token})
        assert cookie.startswith(f"examnet_session={token};"), (url, cookie)
        assert "Max-Age=28800" in cookie, (url, cookie)  # 8 h, from this page on
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
