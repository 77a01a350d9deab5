"""Issue 13.3 through a real `examnet run`: GET /api/availability and GET /api/status.

The database is seeded with last year's outages of known spans (as in
test_incident_api.py), tokens are made with `examnet token create`, and
every call is real HTTP on loopback.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert

from monitor.storage.schema import monitor_runs
from tests.fixtures.api import Api, make_tokens, seeded
from tests.fixtures.inventories import TWO_CARRIER_SITE
from tests.fixtures.monitor import MonitorProcess
from tests.integration.test_incident_api import ENV_TOKEN, PAST, SEEDED

SINCE = PAST - timedelta(minutes=30)  # 2026-06-26 00:00 UTC
UNTIL = SINCE + timedelta(hours=4)
RANGE = (UNTIL - SINCE).total_seconds()
DOWN = 20 * 60.0  # every seeded incident lasts 20 minutes
PROBE_INTERVAL = 30.0  # [probe] interval of the test inventory: the tolerance


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("availability")
    config = tmp / "sites.toml"
    config.write_text(TWO_CARRIER_SITE, encoding="utf-8")
    db: Path = tmp / "examnet.db"
    seeded(db, SEEDED)
    watched_last_june(db)
    tokens = make_tokens(db)
    monitor = MonitorProcess(
        config, db, tmp / "examnet.log", env={"EXAMNET_API_TOKEN": ENV_TOKEN}
    ).start()
    try:
        yield Api(monitor.port), tokens
    finally:
        monitor.stop()


def watched_last_june(db: Path) -> None:
    """Last year's monitor ran through the seeded range: its time is measured."""
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(
            insert(monitor_runs).values(
                started_at=SINCE - timedelta(days=1), seen_at=UNTIL + timedelta(days=1),
                stopped_at=UNTIL + timedelta(days=1),
            )
        )  # fmt: skip
    engine.dispose()


def availability(api: Api, token: str, by: str, **more: str) -> tuple[int, dict]:
    query = urllib.parse.urlencode(
        {"by": by, "since": SINCE.isoformat(), "until": UNTIL.isoformat(), **more}
    )
    return api.call(f"/api/availability?{query}", token)


def test_a_link_down_for_a_known_span_has_the_availability_a_user_would_work_out(
    desk: tuple[Api, dict[str, str]],
) -> None:
    api, tokens = desk
    status, answer = availability(api, tokens["noc"], "link")
    assert status == 200
    links = {row["link"]: row for row in answer["rows"]}
    # viettel-fibre: down 00:30–00:50 (its congestion is not an outage)
    assert links["viettel-fibre"]["availability"] == pytest.approx(
        1 - DOWN / RANGE, abs=PROBE_INTERVAL / RANGE
    )
    assert links["viettel-fibre"]["incidents"] == 1
    assert links["viettel-fibre"]["mttr_seconds"] == pytest.approx(DOWN)
    # vnpt-fibre: down twice, 02:30–02:50 and 03:30–03:50
    assert links["vnpt-fibre"]["availability"] == pytest.approx(
        1 - 2 * DOWN / RANGE, abs=PROBE_INTERVAL / RANGE
    )
    # the mobile BTS is part of the site only 2027-06-02 – 06-06: nothing to count last June
    assert (links["mobifone-bts"]["availability"], links["mobifone-bts"]["seconds"]) == (None, 0)
    status, carriers = availability(api, tokens["noc"], "carrier")
    assert {row["carrier"] for row in carriers["rows"]} == {"viettel", "vnpt", "mobifone"}


def test_a_carrier_sees_only_its_own_links_sites_and_name(
    desk: tuple[Api, dict[str, str]],
) -> None:
    api, tokens = desk
    for by in ("link", "site", "carrier"):
        status, answer = availability(api, tokens["viettel"], by)
        assert status == 200, by
        text = json.dumps(answer).lower()
        assert "vnpt" not in text, by
        assert "mobifone" not in text, by
    status, links = availability(api, tokens["viettel"], "link")
    assert [row["link"] for row in links["rows"]] == ["viettel-fibre"]
    assert availability(api, "not-a-token", "link")[0] == 401
    assert availability(api, tokens["noc"], "link", until=SINCE.isoformat())[0] == 400


def test_the_status_is_the_noc_s_whole_and_a_carrier_s_own(
    desk: tuple[Api, dict[str, str]],
) -> None:
    api, tokens = desk
    status, noc = api.call("/api/status", tokens["noc"])
    assert status == 200
    assert {c["carrier"] for c in noc["carriers"]} == {"viettel", "vnpt", "mobifone"}
    assert noc["sites"][0]["site"] == "thpt-a"
    status, viettel = api.call("/api/status", tokens["viettel"])
    assert status == 200
    assert [c["carrier"] for c in viettel["carriers"]] == ["viettel"]
    assert {i["carrier"] for i in viettel["open_incidents"]} <= {"viettel"}
    text = json.dumps(viettel).lower()
    assert "vnpt" not in text
    assert "mobifone" not in text
    assert api.call("/api/status", None)[0] == 401


def test_both_are_described_in_openapi(desk: tuple[Api, dict[str, str]]) -> None:
    api, _ = desk
    status, schema = api.call("/api/openapi.json", None)
    assert status == 200
    names = {p["name"] for p in schema["paths"]["/api/availability"]["get"]["parameters"]}
    assert {"by", "since", "until", "sessions_only", "exclude_silenced"} <= names
    assert "get" in schema["paths"]["/api/status"]


def test_time_to_come_and_a_range_without_sessions_count_nothing(
    desk: tuple[Api, dict[str, str]],
) -> None:
    api, tokens = desk
    # the test inventory's only session is in 2027: none in last year's range
    status, answer = availability(api, tokens["noc"], "link", sessions_only="true")
    assert (status, answer["seconds"]) == (200, 0)
    assert {row["availability"] for row in answer["rows"]} == {None}
    status, future = api.call(
        "/api/availability?by=site&since=2099-01-01T00:00:00%2B00:00"
        "&until=2099-01-02T00:00:00%2B00:00",
        tokens["noc"],
    )
    assert (status, future["seconds"], future["rows"][0]["availability"]) == (200, 0, None)
    assert availability(api, tokens["noc"], "district")[0] == 400
