"""Issue 13's API acceptance on a database a real lab scenario filled, not hand-written rows.

During a session on the namespace lab, VNPT's copper at thcs-b goes down
(the site loses its redundancy), comes back; then Viettel's fibre at thpt-a
goes down and comes back; then VNPT's gateway, and with it every VNPT link
behind it (their silence is part of the gateway's incident, one cause).
The incidents, rounds and state changes are what the running `examnet run`
wrote. Through the real HTTP API, with tokens from
`examnet token create`:

- the filters, pagination and a carrier's scope find exactly the incidents
  of the scenario;
- an incident's timeline holds the state changes of its link, down then up;
- each link's availability matches an independent computation from the
  stored rounds and polls: down from the K-th unanswered round in a row to
  the UP_AFTER-th answered one, and while SNMP reports its interface down;
  behind the gateway, within a probe interval or two (the gateway's own
  rounds, not the link's, time its incident).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from monitor.model.records import RoundRecord
from monitor.storage.schema import interface_samples, monitor_runs
from tests.fixtures.api import Api, make_tokens
from tests.fixtures.lab import LabHandle
from tests.fixtures.monitor import MonitorProcess, calendar_around, config_with, wait_for

pytestmark = pytest.mark.lab

PROBE = 1.0  # the lab file's session interval
K = 2  # unanswered rounds before a link is DOWN (down_after: the default)
UP_AFTER = 2  # answered rounds before it is UP again (up_after: the default)
HELD = 8.0  # how long each link stays cut
VNPT_LINK = "link:thcs-b/vnpt-copper"
VIETTEL_LINK = "link:thpt-a/vt-fibre"
BEHIND_GATEWAY = "link:thcs-c/vnpt-fibre"
NEVER_CUT = "link:thcs-b/vt-fibre"
Span = tuple[datetime, datetime]


@dataclass
class Scenario:
    api: Api
    monitor: MonitorProcess
    tokens: dict[str, str]
    since: datetime
    until: datetime

    def incidents(self, token: str, **query: str) -> tuple[int, dict]:
        return self.api.call(f"/api/incidents?{urllib.parse.urlencode(query)}", token)


def _cut(lab: LabHandle, monitor: MonitorProcess, link: str) -> None:
    """Take `link` down for HELD seconds and wait until its incident is closed."""
    began = datetime.now(UTC)
    lab.command("impair", link.removeprefix("link:"), "down")
    since = began - timedelta(seconds=PROBE)
    wait_for(lambda: [i for i in monitor.incidents(subject=link, kind="down")
                      if i.started_at >= since], 20, f"{link} down")  # fmt: skip
    wait_for(lambda: datetime.now(UTC) >= began + timedelta(seconds=HELD), HELD + 1, "the outage")
    lab.command("impair", link.removeprefix("link:"), "up")
    wait_for(lambda: all(i.ended_at for i in monitor.incidents(subject=link, kind="down")), 20,
             f"{link} back up")  # fmt: skip


def _cut_gateway(lab: LabHandle, monitor: MonitorProcess) -> None:
    began = datetime.now(UTC)
    lab.command("impair", "vnpt-gw", "down")
    wait_for(lambda: [i for i in monitor.incidents(kind="endpoint_down") if i.started_at >= began
                      - timedelta(seconds=PROBE)], 20, "VNPT's gateway down")  # fmt: skip
    wait_for(lambda: datetime.now(UTC) >= began + timedelta(seconds=HELD), HELD + 1, "the outage")
    lab.command("impair", "vnpt-gw", "up")
    wait_for(lambda: all(i.ended_at for i in monitor.incidents(kind="endpoint_down")), 20,
             "the gateway back up")  # fmt: skip
    wait_for(lambda: all(monitor.state("site", s) == "ok" for s in ("thpt-a", "thcs-b", "thcs-c")),
             30, "every site ok")  # fmt: skip


@pytest.fixture(scope="module")
def scenario(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    tmp = tmp_path_factory.mktemp("history-lab")
    now = datetime.now(UTC)
    config = config_with(tmp, calendar=calendar_around(now, timedelta(seconds=2),
                                                       timedelta(minutes=30)))  # fmt: skip
    db = tmp / "examnet.db"
    monitor = MonitorProcess(config, db, tmp / "examnet.log").start()
    try:
        wait_for(lambda: monitor.state("site", "thcs-b") == "ok"
                 and monitor.state("site", "thpt-a") == "ok", 60, "a calm start")  # fmt: skip
        since = datetime.now(UTC)
        _cut(lab, monitor, VNPT_LINK)
        _cut(lab, monitor, VIETTEL_LINK)
        _cut_gateway(lab, monitor)
        wait_for(lambda: monitor.state("site", "thcs-b") == "ok", 20, "thcs-b ok again")
        until = datetime.now(UTC) + timedelta(seconds=2 * PROBE)
        wait_for(lambda: datetime.now(UTC) >= until, 5, "the range's end")
        tokens = make_tokens(db)
        yield Scenario(Api(monitor.port), monitor, tokens, since, until)
    finally:
        lab.restore()
        assert monitor.stop() == 0


def test_filters_and_pages_find_the_scenarios_incidents(scenario: Scenario) -> None:
    noc = scenario.tokens["noc"]
    since = scenario.since.isoformat()
    status, down = scenario.incidents(noc, kind="down", state="closed", since=since)
    assert status == 200
    # the links behind the gateway have no incident of their own: they are the gateway's
    assert sorted(i["subject"] for i in down["incidents"]) == sorted([VIETTEL_LINK, VNPT_LINK])
    for item in down["incidents"]:
        assert (item["sessions"], item["phase"]) == (["Ngữ văn"], "during")
    _, vnpt = scenario.incidents(noc, carrier="vnpt", kind="down")
    assert [i["subject"] for i in vnpt["incidents"]] == [VNPT_LINK]
    _, gateway = scenario.incidents(noc, carrier="vnpt", kind="endpoint_down")
    assert [i["subject"] for i in gateway["incidents"]] == ["endpoint:vnpt-gw"]
    _, site = scenario.incidents(noc, site="thcs-b")
    assert {i["kind"] for i in site["incidents"]} >= {"down", "lost_redundancy"}
    assert {i["site"] for i in site["incidents"]} == {"thcs-b"}
    _, district = scenario.incidents(noc, district="Cao Lộc")
    assert district["total"] == site["total"]
    _, text = scenario.incidents(noc, q="vnpt-copper")
    assert VNPT_LINK in {i["subject"] for i in text["incidents"]}
    assert all("vnpt-copper" in (i["subject"] + i["reason"]) for i in text["incidents"])
    _, session = scenario.incidents(noc, session="Toán")
    assert session["total"] == 0  # the scenario ran in Ngữ văn
    # pages of one walk the same incidents as one page of all, newest first
    _, everything = scenario.incidents(noc, limit="100")
    walked = []
    for offset in range(everything["total"]):
        _, page = scenario.incidents(noc, limit="1", offset=str(offset))
        assert page["total"] == everything["total"]
        walked += [i["id"] for i in page["incidents"]]
    assert walked == [i["id"] for i in everything["incidents"]]
    starts = [i["started_at"] for i in everything["incidents"]]
    assert starts == sorted(starts, reverse=True)


def test_a_carrier_finds_its_own_incidents_only(scenario: Scenario) -> None:
    _, viettel = scenario.incidents(scenario.tokens["viettel"], kind="down")
    assert [i["subject"] for i in viettel["incidents"]] == [VIETTEL_LINK]
    _, noc = scenario.incidents(scenario.tokens["noc"], kind="down", carrier="vnpt")
    vnpt_id = noc["incidents"][0]["id"]
    status, _ = scenario.api.call(f"/api/incidents/{vnpt_id}", scenario.tokens["viettel"])
    assert status == 404
    _, searched = scenario.incidents(scenario.tokens["viettel"], q="vnpt")
    assert all(i["carrier"] == "viettel" for i in searched["incidents"])
    assert "vnpt" not in str(searched).replace("carrier", "")


def test_an_incidents_timeline_holds_its_links_fall_and_return(scenario: Scenario) -> None:
    _, found = scenario.incidents(scenario.tokens["noc"], kind="down", carrier="vnpt")
    incident = found["incidents"][0]
    status, detail = scenario.api.call(f"/api/incidents/{incident['id']}", scenario.tokens["vnpt"])
    assert status == 200
    changes = detail["timeline"]["state_changes"]
    started = datetime.fromisoformat(incident["started_at"])
    ended = datetime.fromisoformat(incident["ended_at"])
    # its link's changes from 10 min before to 10 min after: its own fall and return
    # (and, later, the gateway's outage that took it down again)
    fell = changes.index(next(c for c in changes if c["state"] == "down"))
    rose = next(c for c in changes[fell:] if c["state"] == "up")
    assert abs((datetime.fromisoformat(changes[fell]["at"]) - started).total_seconds()) <= 2 * PROBE
    assert abs((datetime.fromisoformat(rose["at"]) - ended).total_seconds()) <= 2 * PROBE
    later = [c for c in changes if datetime.fromisoformat(c["at"]) > ended]
    assert "its upstream endpoint:vnpt-gw is down" in {c["reason"] for c in later}, later


def ping_down(rounds: list[RoundRecord]) -> list[Span]:
    """DOWN from the K-th unanswered round in a row to the UP_AFTER-th answered one."""
    spans: list[Span] = []
    lost = answered = 0
    fell: datetime | None = None
    for r in sorted(rounds, key=lambda r: r.started_at):
        lost, answered = (lost + 1, 0) if r.received == 0 else (0, answered + 1)
        if fell is None and lost == K:
            fell = r.started_at
        elif fell is not None and answered == UP_AFTER:
            spans.append((fell, r.started_at))
            fell = None
    return spans


def oper_down(polls: list[tuple[datetime, int]]) -> list[Span]:
    """The interface reported down (ifOperStatus 2) by SNMP, until a poll says up (1)."""
    spans: list[Span] = []
    fell: datetime | None = None
    for at, status in sorted(polls):
        if status == 2 and fell is None:
            fell = at
        elif status == 1 and fell is not None:
            spans.append((fell, at))
            fell = None
    return spans


def merged(spans: list[Span], since: datetime, until: datetime) -> list[Span]:
    """The union of the spans, clipped to [since, until)."""
    out: list[Span] = []
    for start, end in sorted((max(a, since), min(b, until)) for a, b in spans):
        if start >= end:
            continue
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((start, end))
    return out


def polls_of(db_url: str, link: str) -> list[tuple[datetime, int]]:
    engine = create_engine(db_url)
    t = interface_samples
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(t.c.started_at, t.c.oper_status).where(t.c.link == link))
            return [(at, status) for at, status in rows if status is not None]
    finally:
        engine.dispose()


def test_availability_matches_a_computation_from_the_stored_rounds(scenario: Scenario) -> None:
    query = urllib.parse.urlencode(
        {"by": "link", "since": scenario.since.isoformat(), "until": scenario.until.isoformat()}
    )
    status, answer = scenario.api.call(f"/api/availability?{query}", scenario.tokens["noc"])
    assert status == 200
    total = (scenario.until - scenario.since).total_seconds()
    assert answer["seconds"] == pytest.approx(total, abs=0.01)
    rows = {f"link:{r['site']}/{r['link']}": r for r in answer["rows"]}
    for link in (VNPT_LINK, VIETTEL_LINK, BEHIND_GATEWAY, NEVER_CUT):
        rounds = [r for r in scenario.monitor.rounds(link) if scenario.since <= r.started_at]
        assert len(rounds) >= total / PROBE * 0.8, "rounds every probe interval"
        # a link is down while its echoes say so or its interface does (docs/api.md)
        polls = polls_of(scenario.monitor.db_url, link.removeprefix("link:"))
        spans = merged(ping_down(rounds) + oper_down(polls), scenario.since, scenario.until)
        down = sum((end - start).total_seconds() for start, end in spans)
        row = rows[link]
        assert row["incidents"] == len(spans), (link, spans, row)
        # its own incidents are timed by its own rounds; the gateway's by the gateway's
        slack = 0.1 if link == VIETTEL_LINK else 0.1 + 2 * PROBE * len(spans)
        assert row["down_seconds"] == pytest.approx(down, abs=slack), (link, spans, row)
        assert row["availability"] == pytest.approx(1 - down / total, abs=slack / total)
    assert rows[VNPT_LINK]["down_seconds"] >= 2 * (HELD - 2 * PROBE)  # its cut, the gateway's
    assert rows[BEHIND_GATEWAY]["down_seconds"] >= HELD - 2 * PROBE
    assert rows[NEVER_CUT]["availability"] == 1.0


def test_the_time_before_the_monitor_started_is_not_measured(scenario: Scenario) -> None:
    """Not counted as up: availability is over the time a run of the monitor watched."""
    engine = create_engine(scenario.monitor.db_url)
    try:
        with engine.connect() as conn:
            started = conn.execute(select(monitor_runs.c.started_at)).scalar_one()
    finally:
        engine.dispose()
    early = started - timedelta(hours=1)
    query = urllib.parse.urlencode(
        {"by": "link", "since": early.isoformat(), "until": scenario.until.isoformat()}
    )
    status, answer = scenario.api.call(f"/api/availability?{query}", scenario.tokens["noc"])
    assert status == 200
    assert answer["unmeasured_seconds"] == pytest.approx(3600, abs=0.01)
    assert answer["seconds"] == pytest.approx((scenario.until - started).total_seconds(), abs=0.01)
    rows = {f"link:{r['site']}/{r['link']}": r for r in answer["rows"]}
    down = rows[VNPT_LINK]["down_seconds"]
    assert rows[VNPT_LINK]["availability"] == pytest.approx(1 - down / answer["seconds"])
    assert rows[NEVER_CUT]["availability"] == 1.0
