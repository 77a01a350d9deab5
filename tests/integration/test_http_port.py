"""The HTTP port of a running `examnet run`, attacked and used by real clients (issue 10).

Raw sockets send what HTTP libraries refuse to (a negative Content-Length,
a head one byte a second, hundreds of idle connections); memory, threads
and file descriptors are read from /proc/PID of the monitor. The monitor
probes loopback addresses only (tests.fixtures.inventories).
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import select
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from tests.fixtures.environment import need_programs, need_root
from tests.fixtures.inventories import TWO_CARRIER_SITE, province
from tests.fixtures.monitor import MonitorProcess, calendar_around, wait_for
from tests.fixtures.receivers import RecordingServer, self_signed_certificate

TOKEN = "a-test-token-of-forty-characters-0123456789"  # noqa: S105 - the test's own
PUSH_LIMIT = 200 * 2**20  # what an abusive client may push: 200 MiB ...
PUSH_SECONDS = 10.0  # ... within 10 s
RSS_SLACK = 30 * 2**20
IDLE_CLIENTS = 500
REQUEST_TIMEOUT = 10.0  # monitor.web.server.REQUEST_TIMEOUT, as a user sees it


@pytest.fixture
def monitor(tmp_path: Path) -> Iterator[MonitorProcess]:
    config = tmp_path / "sites.toml"
    config.write_text(TWO_CARRIER_SITE, encoding="utf-8")
    process = MonitorProcess(
        config, tmp_path / "examnet.db", tmp_path / "examnet.log", env={"EXAMNET_API_TOKEN": TOKEN}
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def rss(pid: int) -> int:
    return _status(pid, "VmRSS") * 1024


def threads(pid: int) -> int:
    return _status(pid, "Threads")


def descriptors(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def pid_of(monitor: MonitorProcess) -> int:
    assert monitor.process is not None
    return monitor.process.pid


def push(port: int, head: bytes, pid: int, chunked: bool = False) -> tuple[bytes, int]:
    """Send `head`, then junk body bytes (bounded) while reading the answer.

    Returns the answer's first bytes and the monitor's largest RSS growth seen.
    """
    before = rss(pid)
    grown = 0
    answer = b""
    chunk = (b"100000\r\n" + b"x" * 0x100000 + b"\r\n") if chunked else b"x" * 2**20
    sent = 0
    deadline = time.monotonic() + PUSH_SECONDS
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head)
        s.setblocking(False)
        view = memoryview(chunk)
        while sent < PUSH_LIMIT and time.monotonic() < deadline and b"\r\n\r\n" not in answer:
            readable, writable, _ = select.select([s], [s], [], 0.2)
            try:
                if readable:
                    data = s.recv(65536)
                    if not data:
                        break
                    answer += data
                if writable:
                    n = s.send(view)
                    sent += n
                    view = view[n:] or memoryview(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            grown = max(grown, rss(pid) - before)
        with contextlib.suppress(OSError):
            s.setblocking(True)
            s.settimeout(2)
            while b"\r\n\r\n" not in answer and (data := s.recv(65536)):
                answer += data
    return answer, max(grown, rss(pid) - before)


@pytest.mark.parametrize(
    ("head", "chunked", "status"),
    [
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", False, b"400"),
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n", False, b"400"),
        (b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 209715200\r\n\r\n", False, b"400"),
        (
            b"POST /api/silences HTTP/1.1\r\nHost: x\r\nContent-Length: 209715200\r\n\r\n",
            False,
            b"413",
        ),
        (b"POST /api/acks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", True, b"413"),
    ],
    ids=[
        "negative-length",
        "non-numeric-length",
        "get-with-a-body",
        "post-over-the-limit",
        "chunked-without-end",
    ],
)
def test_an_unauthenticated_client_cannot_fill_the_monitors_memory(
    monitor: MonitorProcess, head: bytes, chunked: bool, status: bytes
) -> None:
    answer, grown = push(monitor.port, head, pid_of(monitor), chunked)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
    assert grown < RSS_SLACK, f"RSS grew by {grown / 2**20:.0f} MiB"
    assert monitor.metrics_text()  # and it still answers
    log = monitor.log()
    assert "Traceback" not in log
    assert "HTTP client 127.0.0.1:" in log  # one line for the bad client


def _open_idle(port: int, count: int) -> list[socket.socket]:
    """Connections that send nothing, half a head, or hang up at once."""
    opened = []
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if i % 3 == 1:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
        opened.append(s)
    return opened


def _closed_by_server(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_five_hundred_idle_clients_hold_neither_threads_nor_descriptors_and_are_cut_off(
    monitor: MonitorProcess,
) -> None:
    pid = pid_of(monitor)
    base_fds, base_threads = descriptors(pid), threads(pid)
    opened = _open_idle(monitor.port, IDLE_CLIENTS)
    try:
        # what the monitor holds while they stay: a bounded handful, and it still answers
        assert monitor.metrics_text()
        assert descriptors(pid) <= base_fds + 70, (base_fds, descriptors(pid))
        assert threads(pid) <= base_threads + 6, (base_threads, threads(pid))
        # every idle one is closed by the monitor once the request deadline passes
        wait_for(
            lambda: all(_closed_by_server(s) for s in opened),
            REQUEST_TIMEOUT + 10,
            "the monitor to close every idle connection",
        )
        assert descriptors(pid) <= base_fds + 5
    finally:
        for s in opened:
            s.close()
    # clients that hang up abruptly (RST) are no trouble either
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", monitor.port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        s.close()
    assert monitor.metrics_text()
    log = monitor.log()
    assert "Traceback" not in log
    lines = [line for line in log.splitlines() if "HTTP client" in line]
    assert IDLE_CLIENTS - 5 <= len(lines) <= IDLE_CLIENTS + 55  # one line per bad client


def test_a_client_sending_its_head_a_byte_at_a_time_is_cut_off(monitor: MonitorProcess) -> None:
    head = b"GET /metrics HTTP/1.1\r\nHost: slow.example\r\nX-Pad: " + b"a" * 100
    started = time.monotonic()
    closed_after = None
    with socket.create_connection(("127.0.0.1", monitor.port), timeout=5) as s:
        for byte in head:
            try:
                s.sendall(bytes([byte]))
            except OSError:
                closed_after = time.monotonic() - started
                break
            time.sleep(0.5)
            if _closed_by_server(s):
                closed_after = time.monotonic() - started
                break
            s.setblocking(True)
            if time.monotonic() - started > REQUEST_TIMEOUT + 5:
                break
    assert closed_after is not None, "the slow client was never cut off"
    assert closed_after < REQUEST_TIMEOUT + 3
    assert "no complete request within 10 s" in monitor.log()


def _request(
    monitor: MonitorProcess,
    method: str,
    path: str,
    body: bytes | None = None,
    authorization: str | None = None,
) -> tuple[int, Any]:
    headers = {"Authorization": authorization} if authorization else {}
    request = urllib.request.Request(
        f"http://127.0.0.1:{monitor.port}{path}", data=body, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


SILENCE = {"matchers": ['site="thpt-a"'], "created_by": "an", "comment": "works", "duration": "1h"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/silences",
            {
                **SILENCE,
                "duration": None,
                "starts_at": "9999-12-30T00:00:00+00:00",
                "ends_at": "9999-12-31T23:00:00-05:00",
            },
        ),
        ("/api/silences", {**SILENCE, "starts_at": "9999-12-31T00:00:00+00:00", "duration": "48h"}),
        ("/api/silences", {**SILENCE, "duration": "99999999999999h"}),
        ("/api/acks", {"incident": 99999999999999999999, "by": "an"}),
        ("/api/acks", {"incident": "99999999999999999999", "by": "an"}),
        ("/api/acks", {"incident": "²", "by": "an"}),
        ("/api/silences", "[" * 30000 + "]" * 30000),
        ("/api/silences", {**SILENCE, "created_by": "an\u0000"}),
        (
            "/api/silences",
            '{"matchers": ["site=\\"a\\""], "created_by": "\\ud800", '
            '"comment": "x", "duration": "1h"}',
        ),
        ("/api/silences", {**SILENCE, "matchers": "site=a"}),
        ("/api/silences", [1, 2]),
        ("/api/silences", b"\xff\xfe not utf-8"),
    ],
    ids=[
        "end-past-9999",
        "start-before-year-1",
        "huge-duration",
        "huge-incident-id",
        "huge-incident-id-text",
        "unicode-digit",
        "deeply-nested",
        "nul-byte",
        "lone-surrogate",
        "matchers-not-a-list",
        "not-an-object",
        "not-utf8",
    ],
)
def test_bad_input_is_a_400_that_says_why_never_a_500(
    monitor: MonitorProcess, path: str, body: object
) -> None:
    raw = (
        body
        if isinstance(body, bytes)
        else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
    )
    status, answer = _request(monitor, "POST", path, raw, f"Bearer {TOKEN}")
    assert status == 400, answer
    assert answer["error"]
    assert "Traceback" not in monitor.log()


def test_the_bearer_scheme_is_case_insensitive_and_a_bare_token_is_refused(
    monitor: MonitorProcess,
) -> None:
    body = json.dumps(SILENCE).encode()
    for good in (f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER   {TOKEN}"):
        assert _request(monitor, "POST", "/api/silences", body, good)[0] == 201, good
    for bad in (TOKEN, f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", "Bearer "):
        status, answer = _request(monitor, "POST", "/api/silences", body, bad)
        assert status == 401, bad
        assert TOKEN not in json.dumps(answer)
    assert TOKEN not in monitor.log()


def test_it_refuses_to_start_with_a_short_api_token(tmp_path: Path) -> None:
    config = tmp_path / "sites.toml"
    config.write_text(TWO_CARRIER_SITE, encoding="utf-8")
    process = MonitorProcess(
        config, tmp_path / "db", tmp_path / "log", env={"EXAMNET_API_TOKEN": "short-secret"}
    )
    try:
        with pytest.raises(AssertionError, match="exited early"):
            process.start()
    finally:
        code = process.stop()
    assert code == 2
    log = process.log()
    assert "EXAMNET_API_TOKEN is 12 characters long; at least 32" in log
    assert "short-secret" not in log


def test_the_openapi_document_describes_every_route(monitor: MonitorProcess) -> None:
    status, document = _request(monitor, "GET", "/api/openapi.json")
    assert status == 200
    paths = document["paths"]
    assert set(paths["/api/silences"]) == {"get", "post"}
    assert set(paths["/api/silences/{ident}"]) == {"delete"}
    assert set(paths["/api/acks"]) == {"post"}
    assert "/metrics" in paths
    assert "/healthz" in paths
    schema = paths["/api/silences"]["post"]["requestBody"]["content"]["application/json"]
    assert "created_by" in schema["schema"]["properties"]


def _scrape(monitor: MonitorProcess, gzipped: bool) -> tuple[bytes, str]:
    headers = {"Accept-Encoding": "gzip"} if gzipped else {}
    request = urllib.request.Request(f"http://127.0.0.1:{monitor.port}/metrics", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
        return answer.read(), answer.headers.get("Content-Encoding", "")


def test_scrapes_share_one_render_per_interval_and_get_gzip_when_they_ask(
    monitor: MonitorProcess,
) -> None:
    plain, encoding = _scrape(monitor, gzipped=False)
    assert encoding == ""
    packed, encoding = _scrape(monitor, gzipped=True)
    assert encoding == "gzip"
    assert len(packed) < len(plain) / 3
    assert gzip.decompress(packed) == plain
    # rounds every 30 s here: a burst of scrapes is served from one or two renders
    bodies = {_scrape(monitor, gzipped=False)[0] for _ in range(30)}
    assert len(bodies) <= 2
    assert (monitor.sample("examnet_exposition_renders_total") or 0) <= 3


def test_it_answers_while_the_probing_loop_is_busy() -> None:
    """The web server keeps its own loop and thread: a CPU-bound loop elsewhere does not stop it."""
    from monitor.web import WebServer, web_app  # noqa: PLC0415 - the rest runs on older trees

    server = WebServer(("127.0.0.1", 0), web_app(health=lambda: (True, {"event_loop": "ok"})))
    server.start()
    stop = threading.Event()

    def busy() -> None:  # pure Python, holding the GIL as a probing round does
        while not stop.is_set():
            sum(i * i for i in range(10_000))

    worker = threading.Thread(target=busy)
    worker.start()
    try:
        url = f"http://127.0.0.1:{server.address[1]}/healthz"
        for _ in range(20):
            started = time.monotonic()
            with urllib.request.urlopen(url, timeout=5) as answer:
                assert answer.status == 200
            assert time.monotonic() - started < 1.0
    finally:
        stop.set()
        worker.join()
        server.stop()


SCRAPERS = 10
SCRAPE_SECONDS = 30.0


def _red_team_config(hook: RecordingServer) -> str:
    # 501 loopback targets (127.1.i.1-2 and the gateways); without the site
    # "shared", whose fake redundancy is an incident by design
    text = province(sites=249).split('\n[[sites]]\nid = "shared"')[0]
    head, _, rest = text.partition("[calendar]")
    rest = rest[rest.index("[probe]") :]
    calendar = calendar_around(datetime.now(UTC), timedelta(minutes=-5), timedelta(hours=2))
    return (
        head
        + calendar
        + rest
        + f'''
[alerting]
language = "en"
group_wait = "0s"

[[notifiers]]
id = "oncall"
kind = "webhook"
url = "{hook.url}/oncall"

[[routes]]
receivers = ["oncall"]
'''
    )


def test_ten_back_to_back_scrapers_open_no_incident_and_send_no_page(
    tmp_path: Path, webhook_receiver: RecordingServer
) -> None:
    """Red team (issue 10): scraping must never starve the probes into false outages."""
    config = tmp_path / "sites.toml"
    config.write_text(_red_team_config(webhook_receiver), encoding="utf-8")
    process = MonitorProcess(config, tmp_path / "examnet.db", tmp_path / "examnet.log")
    process.start()
    try:
        wait_for(lambda: process.sample("examnet_rounds_total") or None, 60, "a first round")
        scrapes: list[int] = []
        failures: list[str] = []
        deadline = time.monotonic() + SCRAPE_SECONDS

        def scrape() -> None:
            while time.monotonic() < deadline:
                try:
                    scrapes.append(len(_scrape(process, gzipped=False)[0]))
                except urllib.error.HTTPError as error:  # 503: over MAX_SCRAPES at once
                    if error.code != 503:
                        failures.append(str(error))
                except (OSError, urllib.error.URLError) as error:
                    failures.append(str(error))

        workers = [threading.Thread(target=scrape) for _ in range(SCRAPERS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert len(scrapes) > SCRAPERS
        assert failures == []
        assert process.incidents() == []
        assert webhook_receiver.requests == []
    finally:
        process.stop()


REDOS_TABLE = "examnet_redos_test"
CUT_ADDRESS = "127.0.9.222"  # this test's own: the rule touches no other test's traffic


@pytest.fixture
def vnpt_cut(tmp_path: Path) -> Iterator[MonitorProcess]:
    """A monitor on a 2 s cadence whose VNPT link stops answering (nft drops its echoes)."""
    need_root()
    need_programs("nft")

    def nft(script: str) -> None:
        subprocess.run(["nft", "-f", "-"], input=script, text=True, check=True,
                       capture_output=True, timeout=10)

    subprocess.run(["nft", "delete", "table", "ip", REDOS_TABLE], capture_output=True, check=False)
    nft(f"add table ip {REDOS_TABLE}\n"
        f"add chain ip {REDOS_TABLE} out {{ type filter hook output priority 0 ; }}\n"
        f"add rule ip {REDOS_TABLE} out ip daddr {CUT_ADDRESS} icmp type echo-request drop\n")
    config = tmp_path / "sites.toml"
    text = TWO_CARRIER_SITE.replace('interval = "30s"', 'interval = "2s"').replace(
        'session_interval = "10s"', 'session_interval = "2s"')
    config.write_text(text.replace('address = "127.0.2.2"', f'address = "{CUT_ADDRESS}"'),
                      encoding="utf-8")
    process = MonitorProcess(config, tmp_path / "examnet.db", tmp_path / "examnet.log",
                             env={"EXAMNET_API_TOKEN": TOKEN})
    try:
        yield process.start()
    finally:
        process.stop()
        subprocess.run(["nft", "delete", "table", "ip", REDOS_TABLE], capture_output=True,
                       check=False)


def test_a_backtracking_silence_through_the_api_freezes_nothing(vnpt_cut: MonitorProcess) -> None:
    """Issue 10.1 on a running monitor: `(.|.|.|.)*z` against a 22-character subject is
    4^22 steps for a backtracking engine; RE2 runs it in linear time, and what RE2
    cannot run (look-around, back-references) is refused with a 400 that says so."""
    monitor = vnpt_cut
    wait_for(lambda: monitor.incidents(subject="link:thpt-a/vnpt-fibre"), 60,
             "the VNPT link's incident")
    auth = f"Bearer {TOKEN}"

    def silence(*matchers: str) -> tuple[int, Any]:
        body = json.dumps({**SILENCE, "matchers": list(matchers)}).encode()
        return _request(monitor, "POST", "/api/silences", body, auth)

    status, made = silence('subject=~"(.|.|.|.)*z"')
    assert status == 201, made
    assert made["matching_alerts"] == 0
    status, made = silence('subject=~"(.|.|.|.)*fibre"')
    assert (status, made["matching_alerts"]) == (201, 1)  # the regex really ran
    for unsafe in ('subject=~"(.|.)*(?=z)"', 'site=~"(thpt)-\\\\1"'):
        status, answer = silence(unsafe)
        assert status == 400, unsafe
        assert "RE2" in answer["error"], answer
    # the silences are active and matched on every flush: the monitor keeps its pace
    before = len(monitor.rounds("link:thpt-a/viettel-fibre"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        started = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{monitor.port}/healthz", timeout=5) as a:
            assert a.status == 200
        assert time.monotonic() - started < 2
        time.sleep(0.5)
    assert len(monitor.rounds("link:thpt-a/viettel-fibre")) >= before + 3  # 2 s cadence
    assert monitor.stop() == 0  # SIGTERM is heard


def test_tls_and_basic_auth_from_a_web_config_on_a_running_monitor(tmp_path: Path) -> None:
    """Issue 10.10 with real clients: Prometheus' web config file gives the port TLS and
    basic auth; a scraper with the password reads /metrics over TLS, others get 401,
    and nothing is served in clear."""
    cert, key = self_signed_certificate(tmp_path)
    password = "scrape-password-of-the-test"  # noqa: S105 - the test's own
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: {cert.name}\n  key_file: {key.name}\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n",
        encoding="utf-8",
    )
    config = tmp_path / "sites.toml"
    config.write_text(TWO_CARRIER_SITE, encoding="utf-8")
    monitor = MonitorProcess(config, tmp_path / "examnet.db", tmp_path / "examnet.log",
                             extra=("--web-config", str(web)),
                             env={"EXAMNET_API_TOKEN": TOKEN})
    monitor.start()
    trusted = ssl.create_default_context(cafile=str(cert))
    url = f"https://127.0.0.1:{monitor.port}/metrics"

    def get(authorization: str | None, context: ssl.SSLContext = trusted) -> tuple[int, str]:
        request = urllib.request.Request(
            url, headers={"Authorization": authorization} if authorization else {})
        try:
            with urllib.request.urlopen(request, timeout=10, context=context) as answer:  # noqa: S310
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("WWW-Authenticate", "")

    try:
        basic = "Basic " + base64.b64encode(f"prometheus:{password}".encode()).decode()
        _, body = wait_for(lambda: (s := get(basic))[0] == 200 and s, 30, "a TLS scrape")
        assert "examnet_target_info" in body
        status, challenge = get(None)
        assert status == 401
        assert challenge.startswith("Basic")
        wrong = "Basic " + base64.b64encode(b"prometheus:guess").decode()
        assert get(wrong)[0] == 401
        assert get(f"Bearer {TOKEN}")[0] == 200  # the API token reads too
        with pytest.raises((urllib.error.URLError, ConnectionError)):  # nothing in clear
            urllib.request.urlopen(f"http://127.0.0.1:{monitor.port}/metrics", timeout=5)
        assert password not in monitor.log()
        assert hashed not in monitor.log()
    finally:
        monitor.stop()
