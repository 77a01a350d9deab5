"""Issue 13.4: the web pages in headless Chromium against a real `examnet run`.

One monitor for every step (a 2 s cadence on loopback targets): Viettel's
link answers a few rounds, then nft drops its echoes (an address of this
test's own), so its incident has real rounds to chart. Closed incidents of
last year are seeded; tokens come from the real `examnet token create`.
Carrier A (Viettel) filters the list and opens the incident's chart;
carrier B (VNPT) finds it neither in the list nor at its address; the NOC
acknowledges it from the page, and the real `examnet status` shows the ack.

Screenshots of each page go to $EXAMNET_SCREENSHOTS (docs/screenshots when
regenerating those of the README), else to the test's temporary directory.
Chromium runs through Debian's /usr/bin/chromedriver, named explicitly so
selenium-manager downloads nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select
from selenium.webdriver.support.wait import WebDriverWait

from monitor.storage import Store
from tests.fixtures.api import examnet, make_tokens, seeded
from tests.fixtures.environment import need_programs, need_root, unavailable
from tests.fixtures.inventories import TWO_CARRIER_SITE
from tests.fixtures.monitor import REPO, MonitorProcess, calendar_around, wait_for
from tests.integration.test_incident_api import ENV_TOKEN, SEEDED

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")
TABLE = "examnet_web_test"
CUT_ADDRESS = "127.0.9.223"  # Viettel's link in this test only: the rule touches nothing else
LINK = "link:thpt-a/viettel-fibre"
DESKTOP = (1280, 900)
PHONE = (390, 844)


def _nft(script: str) -> None:
    subprocess.run(["nft", "-f", "-"], input=script, text=True, check=True,
                   capture_output=True, timeout=10)  # fmt: skip


def _drop_table() -> None:
    subprocess.run(["nft", "delete", "table", "ip", TABLE], capture_output=True, check=False)


def _open_down(monitor: MonitorProcess) -> int | None:
    """The id of the Viettel link's open `down` incident, once stored."""
    store = Store(monitor.db_url)
    try:
        found = store.alerting.incident_rows(open_only=True)
    finally:
        store.close()
    return next((i.id for i in found if i.record.subject == LINK and i.record.kind == "down"), None)


@dataclass
class Web:
    monitor: MonitorProcess
    config: Path
    db: Path
    tokens: dict[str, str]
    incident: int
    shots: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.monitor.port}{path}"


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    need_root()
    need_programs("nft")
    tmp = tmp_path_factory.mktemp("web")
    # an exam session under way ("Ngữ văn", from 5 min ago): the incident is critical and in it
    session = calendar_around(datetime.now(UTC), timedelta(minutes=-5), timedelta(hours=2))
    text = TWO_CARRIER_SITE.replace('interval = "30s"', 'interval = "2s"').replace(
        'session_interval = "10s"', 'session_interval = "2s"')  # fmt: skip
    text = text[: text.index("[calendar]")] + session + text[text.index("[probe]") :]
    config = tmp / "sites.toml"
    config.write_text(text.replace('address = "127.0.2.1"', f'address = "{CUT_ADDRESS}"'),
                      encoding="utf-8")  # fmt: skip
    db = tmp / "examnet.db"
    seeded(db, SEEDED)
    tokens = make_tokens(db)
    _drop_table()
    tokens["env"] = ENV_TOKEN  # EXAMNET_API_TOKEN signs in too: an admin
    monitor = MonitorProcess(
        config, db, tmp / "examnet.log", env={"EXAMNET_API_TOKEN": ENV_TOKEN}
    ).start()
    try:
        # a few good rounds first, so the chart has RTT before the cut
        wait_for(lambda: len(monitor.rounds(LINK)) >= 4, 30, "four rounds of Viettel's link")
        _nft(
            f"add table ip {TABLE}\n"
            f"add chain ip {TABLE} out {{ type filter hook output priority 0 ; }}\n"
            f"add rule ip {TABLE} out ip daddr {CUT_ADDRESS} icmp type echo-request drop\n"
        )
        ident = wait_for(lambda: _open_down(monitor), 60, "the Viettel link's down incident") or 0
        time.sleep(4)  # two more rounds inside the incident
        shots = Path(os.environ.get("EXAMNET_SCREENSHOTS") or tmp / "screenshots")
        shots.mkdir(parents=True, exist_ok=True)
        yield Web(monitor, config, db, tokens, ident, shots)
    finally:
        monitor.stop()
        _drop_table()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if not (CHROMEDRIVER.exists() and CHROMIUM.exists()):
        unavailable("needs chromium and chromium-driver (scripts/setup-system.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--lang=vi",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(argument)  # fmt: skip
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def log_in(driver: WebDriver, web: Web, who: str, shot: str | None = None) -> None:

    d = driver
    d.delete_all_cookies()
    d.get(web.url("/incidents"))
    assert d.current_url.endswith("/login")
    if shot:
        screenshot(d, web, shot)
    field = d.find_element(By.NAME, "token")
    field.send_keys(web.tokens[who])
    field.submit()
    wait_for(lambda: not d.current_url.endswith("/login"), 10, "the login")


def screenshot(driver: WebDriver, web: Web, name: str, size: tuple[int, int] = DESKTOP) -> None:
    """The whole page at `size`'s width (the window stretched to its height)."""
    d = driver
    d.set_window_size(size[0], size[1])
    height = d.execute_script("return document.documentElement.scrollHeight")
    d.set_window_size(size[0], max(size[1], min(int(height) + 20, 4000)))
    assert d.save_screenshot(str(web.shots / f"{name}.png"))
    d.set_window_size(*DESKTOP)


def test_the_api_gives_the_incidents_real_rounds_as_its_figures(web: Web) -> None:
    def detail(token: str) -> tuple[int, Any]:
        request = urllib.request.Request(  # noqa: S310 - loopback
            web.url(f"/api/incidents/{web.incident}"), headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, None

    status, found = detail(web.tokens["viettel"])
    assert status == 200
    rounds = found["timeline"]["figures"]["rounds"]
    assert {r["target"] for r in rounds} == {LINK}
    assert [r["loss"] for r in rounds][:4] == [0.0] * 4  # answered before the cut ...
    assert rounds[0]["rtt_median_ms"] > 0
    assert rounds[-1]["loss"] == 1.0  # ... every echo lost since
    assert rounds[-1]["rtt_median_ms"] is None
    assert found["timeline"]["figures"]["since"] < found["started_at"]
    assert detail(web.tokens["vnpt"])[0] == 404


def test_a_carrier_filters_its_incidents_and_sees_the_chart(web: Web, browser: WebDriver) -> None:
    d = browser
    log_in(d, web, "viettel", shot="login")
    d.get(web.url("/incidents"))
    Select(d.find_element(By.NAME, "state")).select_by_value("open")
    d.find_element(By.NAME, "q").send_keys("fibre")
    d.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    wait_for(lambda: "state=open" in d.current_url, 10, "the filtered list")
    page = d.page_source
    assert f'href="/incidents/{web.incident}"' in page
    assert "vnpt" not in page.lower()  # no other carrier: not its name, not its count
    csv_link = d.find_element(By.ID, "download-csv").get_attribute("href") or ""
    assert "state=open" in csv_link
    assert "q=fibre" in csv_link
    assert "format=csv" in csv_link
    screenshot(d, web, "incidents")
    d.find_element(By.CSS_SELECTOR, f'a[href="/incidents/{web.incident}"]').click()
    wait_for(lambda: d.current_url.endswith(f"/incidents/{web.incident}"), 10, "the incident")
    chart = d.find_element(By.CSS_SELECTOR, "#chart svg")
    points = chart.find_elements(By.CSS_SELECTOR, ".pt")
    assert len(points) >= 6  # rounds before the cut (RTT) and in it (loss bars)
    assert chart.find_elements(By.CSS_SELECTOR, "polyline.line")
    assert chart.find_elements(By.CSS_SELECTOR, "rect.span")
    assert not d.find_elements(By.ID, "ack-form")  # a carrier reads only
    screenshot(d, web, "incident")
    screenshot(d, web, "incident-phone", PHONE)
    d.get(web.url("/availability"))
    assert d.find_element(By.ID, "availability-link")
    assert "vnpt" not in d.page_source.lower()


def test_another_carrier_finds_it_neither_in_the_list_nor_at_its_address(
    web: Web, browser: WebDriver
) -> None:
    d = browser
    log_in(d, web, "vnpt")
    d.get(web.url("/incidents"))
    page = d.page_source
    assert f'href="/incidents/{web.incident}"' not in page
    assert "viettel" not in page.lower()
    d.get(web.url(f"/incidents/{web.incident}"))
    assert "404" in d.find_element("tag name", "h1").text
    assert "viettel" not in d.page_source.lower()


def test_the_noc_acknowledges_it_and_examnet_status_shows_the_ack(
    web: Web, browser: WebDriver
) -> None:

    d = browser
    log_in(d, web, "noc")
    d.get(web.url("/"))
    assert f'href="/incidents/{web.incident}"' in d.page_source
    d.get(web.url("/availability"))
    screenshot(d, web, "availability")
    d.get(web.url("/"))
    screenshot(d, web, "open-incidents")
    d.get(web.url(f"/incidents/{web.incident}"))
    form = d.find_element(By.ID, "ack-form")
    note = form.find_element(By.NAME, "note")
    note.send_keys("Viettel đã cử kỹ thuật")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda: not d.find_elements(By.ID, "ack-form"), 10, "the acknowledgement")
    assert "Viettel đã cử kỹ thuật" in d.find_element(By.ID, "timeline").text
    status = subprocess.run(
        [sys.executable, "-m", "monitor", "status", "--config", str(web.config), "--db",
         str(web.db)], capture_output=True, text=True, cwd=REPO, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert re.search(r"acknowledged by Sở NOC: Viettel đã cử kỹ thuật", status), status


def test_a_form_without_the_sessions_csrf_token_is_refused(web: Web, browser: WebDriver) -> None:
    d = browser
    log_in(d, web, "noc")
    script = (
        "const done = arguments[0];"
        f"fetch('/incidents/{web.incident}/note', {{method: 'POST', headers: "
        "{'Content-Type': 'application/x-www-form-urlencoded'}, body: 'note=x&csrf=forged'})"
        ".then(r => done(r.status));"
    )
    assert d.execute_async_script(script) == 403


def test_without_a_session_every_page_goes_to_login_and_the_api_keeps_its_401(web: Web) -> None:
    for path in ("/", "/incidents", f"/incidents/{web.incident}", "/availability"):
        with urllib.request.urlopen(web.url(path), timeout=10) as answer:  # noqa: S310 - loopback
            assert answer.url.endswith("/login"), path
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(web.url("/api/incidents"), timeout=10)  # noqa: S310 - loopback
    assert refused.value.code == 401


def test_a_revoked_token_ends_its_session_at_the_next_page(web: Web, browser: WebDriver) -> None:
    d = browser
    web.tokens["short"] = examnet("token", "create", "--role", "noc", "--name", "ca đêm",
                                  db=web.db).strip()  # fmt: skip
    log_in(d, web, "short")
    d.get(web.url("/incidents"))
    assert d.current_url.endswith("/incidents")
    examnet("token", "revoke", "ca đêm", db=web.db)
    d.get(web.url("/incidents"))
    assert d.current_url.endswith("/login")


def test_the_environments_api_token_signs_in_as_an_admin(web: Web, browser: WebDriver) -> None:
    d = browser
    log_in(d, web, "env")
    assert "EXAMNET_API_TOKEN · admin" in d.find_element(By.CSS_SELECTOR, "header .who").text


def _error_shown(d: WebDriver) -> str:
    """The login page's error, once the page the form posted to has loaded."""
    return str(WebDriverWait(d, 10).until(
        lambda driver: driver.find_element(By.CSS_SELECTOR, "p.error")).text)  # fmt: skip


def test_failed_logins_are_limited_as_the_apis_bearer_tokens_are(
    web: Web, browser: WebDriver
) -> None:
    # the module's last test: this client address is refused for a minute from here on
    d = browser
    d.delete_all_cookies()
    statuses = []
    for n in range(11):
        d.get(web.url("/login"))
        field = d.find_element(By.NAME, "token")
        field.send_keys(f"exn_guess-{n}")
        field.submit()
        statuses.append(_error_shown(d))
    assert "Mã truy cập không hợp lệ" in statuses[0]
    assert "Sai quá nhiều lần" in statuses[-1]
    # a good token is refused too while the address is blocked, as by the API
    field = d.find_element(By.NAME, "token")
    field.send_keys(web.tokens["noc"])
    field.submit()
    assert d.current_url.endswith("/login")
    assert "Sai quá nhiều lần" in _error_shown(d)
