"""The API and the pages while the database is down: a real `examnet run` on a
real PostgreSQL that is stopped under it. People asking get a 503 that says
why and when to ask again, not a 500 and a traceback per request; /metrics
still answers, the monitor keeps running, and everything answers again once
the database is back."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from tests.fixtures.api import Api
from tests.fixtures.inventories import TWO_CARRIER_SITE
from tests.fixtures.monitor import MonitorProcess, wait_for
from tests.fixtures.postgres import PostgresCluster

TOKEN = "exn_database-down-test-token-0123456789abcdef"  # noqa: S105 - a test's admin


def _page(port: int, path: str) -> tuple[int, str, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Cookie": f"examnet_session={TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:  # noqa: S310 - loopback
            return answer.status, answer.read().decode(), answer.headers.get("Retry-After", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers.get("Retry-After", "")


def test_the_api_and_pages_say_503_while_the_database_is_down_and_recover(
    tmp_path: Path, postgres_cluster: PostgresCluster, postgres_url: str
) -> None:
    config = tmp_path / "sites.toml"
    config.write_text(TWO_CARRIER_SITE, encoding="utf-8")
    monitor = MonitorProcess(
        config, tmp_path / "unused.db", tmp_path / "examnet.log",
        extra=("--db", postgres_url), env={"EXAMNET_API_TOKEN": TOKEN},
    )  # fmt: skip
    monitor.start()
    api = Api(monitor.port)
    try:
        assert api.call("/api/incidents", TOKEN)[0] == 200
        assert _page(monitor.port, "/incidents")[0] == 200
        postgres_cluster.stop()  # fast: sessions cut, as in an outage; what was committed stays

        status, answer = api.call("/api/incidents", TOKEN)
        assert status == 503, answer
        assert "the database is unavailable" in answer["error"]
        status, text, retry = _page(monitor.port, "/incidents/1")
        assert (status, retry) == (503, "5"), text[:300]
        assert "the database is unavailable" in text
        assert "examnet_up 1.0" in monitor.metrics_text()  # still served

        postgres_cluster.start()
        wait_for(lambda: api.call("/api/incidents", TOKEN)[0] == 200, 60, "the API back")
        assert _page(monitor.port, "/incidents")[0] == 200
        assert monitor.process is not None
        assert monitor.process.poll() is None  # it never stopped
        log = monitor.log()
        assert "database error (OperationalError): 503" in log
        assert "Traceback" not in log
    finally:
        postgres_cluster.ensure_running()
        monitor.stop()
