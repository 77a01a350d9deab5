"""The web pages speak the file's `[alerting] language`, on a real `examnet run`.

The same history read in English and in Vietnamese: the page's words, its
`lang`, the names of kinds and severities and the reasons (through the
alerting's phrasebook) follow the file; the data (site ids, carrier) do not.
"""

from __future__ import annotations

import http.client
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.api import examnet, seeded
from tests.fixtures.inventories import TWO_CARRIER_SITE
from tests.fixtures.monitor import MonitorProcess
from tests.integration.test_incident_api import SEEDED


def _page(port: int, path: str, token: str | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    headers = {"Cookie": f"examnet_session={token}"} if token else {}
    try:
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        return answer.status, answer.read().decode()
    finally:
        conn.close()


@pytest.fixture(scope="module", params=["en", "vi"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int, str]]:
    language = str(request.param)
    tmp = tmp_path_factory.mktemp(f"web-{language}")
    config = tmp / "sites.toml"
    text = TWO_CARRIER_SITE.replace("[probe]", f'[alerting]\nlanguage = "{language}"\n[probe]', 1)
    config.write_text(text, encoding="utf-8")
    db: Path = tmp / "examnet.db"
    seeded(db, SEEDED)
    token = examnet("token", "create", "--role", "noc", "--name", "NOC", db=db).strip()
    monitor = MonitorProcess(config, db, tmp / "examnet.log").start()
    try:
        yield language, monitor.port, token
    finally:
        monitor.stop()


WORDS = {  # sign in, the list's title, a severity
    "en": ("Sign in", "Incidents", "critical"),
    "vi": ("Đăng nhập", "Sự cố", "nghiêm trọng"),
}


def test_the_pages_speak_the_files_language(site: tuple[str, int, str]) -> None:
    language, port, token = site
    sign_in, incidents, critical = WORDS[language]
    status, login = _page(port, "/login")
    assert status == 200
    assert f'<html lang="{language}">' in login
    assert sign_in in login
    query = urllib.parse.urlencode({"state": "closed", "kind": "down"})
    status, listed = _page(port, f"/incidents?{query}", token)
    assert status == 200
    assert incidents in listed
    assert critical in listed
    assert "thpt-a" in listed  # data stay as they are
    other = WORDS["vi" if language == "en" else "en"]
    assert other[0] not in login
    assert other[1] not in listed
