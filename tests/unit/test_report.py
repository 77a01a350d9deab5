"""The plan's report: the outcome rules (pure), and the report built from stored rows.

The exam day is 2027-06-03; the session "Ngữ văn" is 00:30–02:30 UTC
(07:30–09:30 in Hà Nội). The site thpt-a has a Viettel, a VNPT and a
MobiFone link and a UPS (tests/fixtures/inventories.py WITH_DEVICES).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert

from monitor.cli import main
from monitor.model.inventory import Inventory
from monitor.model.records import IncidentRecord
from monitor.report.build import Scope
from monitor.report.produce import read, render
from monitor.report.rules import Outcome, Requirement, Window, judge_carrier, judge_site
from monitor.storage import Store
from monitor.storage.schema import monitor_runs
from tests.fixtures.inventories import WITH_DEVICES, inventory_from

T0 = datetime(2027, 6, 3, 0, 0, tzinfo=UTC)
SESSION = Window(T0 + timedelta(minutes=30), T0 + timedelta(minutes=150))
R1, RED, R2, R3 = Requirement.R1, Requirement.REDUNDANCY, Requirement.R2, Requirement.R3
MET, RISK, BAD, UNWATCHED = Outcome.MET, Outcome.AT_RISK, Outcome.VIOLATED, Outcome.NOT_WATCHED


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def incident(
    kind: str,
    start: float,
    end: float | None,
    *,
    subject: str = "thpt-a",
    carrier: str | None = None,
    affected: tuple[str, ...] = (),
) -> IncidentRecord:
    link = subject.startswith(("link:", "endpoint:"))
    return IncidentRecord(
        subject_kind="target" if link else "site", subject=subject, kind=kind,  # type: ignore[arg-type]
        started_at=at(start), ended_at=None if end is None else at(end),
        severity="critical", phase="during", reason="test", updated_at=at(start),  # type: ignore[arg-type]
        carrier=carrier, site=None if subject.startswith("endpoint:") else "thpt-a",
        affected=affected,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("isolated", {R1: BAD, RED: BAD, R2: MET, R3: MET}),
        ("lost_redundancy", {R1: RISK, RED: BAD, R2: MET, R3: MET}),
        ("down", {R1: MET, RED: RISK, R2: MET, R3: MET}),
        ("flapping", {R1: MET, RED: RISK, R2: MET, R3: MET}),
        ("on_battery", {R1: MET, RED: MET, R2: RISK, R3: MET}),
        ("power_low", {R1: MET, RED: MET, R2: BAD, R3: MET}),
        ("power_at_risk", {R1: MET, RED: MET, R2: BAD, R3: MET}),
        ("congested", {R1: MET, RED: MET, R2: MET, R3: BAD}),
        ("loss", {R1: MET, RED: MET, R2: MET, R3: BAD}),
        ("latency", {R1: MET, RED: MET, R2: MET, R3: RISK}),
        ("jitter", {R1: MET, RED: MET, R2: MET, R3: RISK}),
        ("rtt_anomaly", {R1: MET, RED: MET, R2: MET, R3: RISK}),
        ("degraded", {R1: MET, RED: MET, R2: MET, R3: RISK}),
    ],
)
def test_it_judges_each_kind_of_incident_in_the_session(
    kind: str, expected: dict[Requirement, Outcome]
) -> None:
    assert judge_site([incident(kind, 40, 45)], SESSION, has_ups=True) == expected


def test_it_counts_an_incident_that_began_before_the_session_or_is_still_open() -> None:
    assert judge_site([incident("isolated", -60, 31)], SESSION, has_ups=True)[R1] is BAD
    assert judge_site([incident("isolated", 100, None)], SESSION, has_ups=True)[R1] is BAD


def test_it_leaves_out_incidents_that_end_before_or_start_after_the_session() -> None:
    found = [incident("isolated", 0, 30), incident("congested", 150, 160)]
    assert judge_site(found, SESSION, has_ups=True) == {R1: MET, RED: MET, R2: MET, R3: MET}


def test_the_worst_incident_decides_and_a_site_without_ups_is_not_watched() -> None:
    found = [incident("lost_redundancy", 40, 50), incident("isolated", 45, 47)]
    assert judge_site(found, SESSION, has_ups=True)[R1] is BAD
    assert judge_site([], SESSION, has_ups=False)[R2] is UNWATCHED
    assert judge_site([incident("on_battery", 40, 50)], SESSION, has_ups=False)[R2] is RISK


def test_a_carrier_violates_r1_when_its_link_or_endpoint_is_down() -> None:
    assert judge_carrier([incident("down", 40, 41, subject="link:thpt-a/vnpt-fibre")],
                         SESSION) == {R1: BAD, R3: MET}  # fmt: skip
    gateway = incident("endpoint_down", 40, 41, subject="endpoint:viettel-gw", affected=("thpt-a",))
    assert judge_carrier([gateway], SESSION)[R1] is BAD
    assert judge_carrier([incident("flapping", 40, 41)], SESSION)[R1] is RISK


# --- the report from stored rows ------------------------------------------------------

ROWS = [
    incident("down", 40, 50, subject="link:thpt-a/vnpt-fibre", carrier="vnpt"),
    incident("lost_redundancy", 41, 50),
    incident("congested", 60, 70, subject="link:thpt-a/viettel-fibre", carrier="viettel"),
    incident("endpoint_down", 80, 85, subject="endpoint:viettel-gw", carrier="viettel",
             affected=("thpt-a",)),
    incident("on_battery", 200, 210),  # after the session
]  # fmt: skip


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    return inventory_from(WITH_DEVICES.replace("[probe]", "[alerting]\nlanguage = \"en\"\n[probe]"),
                          tmp_path)  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'examnet.db'}"
    writer = Store(url, flush_interval=0.01)
    writer.upgrade()
    for record in ROWS:
        writer.add(record)
    assert writer.close() == 0
    watched(url, at(-60), at(24 * 60))
    reader = Store(url)
    first = reader.alerting.incident_rows()[0]
    reader.access.acknowledge(first.id, "noc", "noc", "on it", first.record.started_at
                              + timedelta(minutes=3))  # fmt: skip
    yield reader
    reader.close()


def watched(url: str, start: datetime, end: datetime) -> None:
    """A run of the monitor over [start, end): its time is measured."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(monitor_runs).values(started_at=start, seen_at=end, stopped_at=end))
    engine.dispose()


def outcomes(html: str, window: str) -> dict[str, dict[str, str]]:
    """site or carrier -> requirement -> outcome, read from the rendered page."""
    section = html.split(f'data-window="{window}"')[1].split("</section>", maxsplit=1)[0]
    found: dict[str, dict[str, str]] = {}
    for row in re.finditer(r'<tr data-(?:site|carrier)="([^"]+)">(.*?)</tr>', section):
        cells = re.findall(r'data-requirement="([^"]+)" data-outcome="([^"]+)"', row[2])
        found[row[1]] = dict(cells)
    return found


def test_the_report_states_each_sites_and_carriers_outcomes_per_session(
    store: Store, inventory: Inventory
) -> None:
    scope = Scope(at(0), at(24 * 60), at(24 * 60))
    html = render(read(store, inventory, scope), inventory, "html")
    session = outcomes(html, "session:Ngữ văn")
    assert session["thpt-a"] == {"r1": "at_risk", "redundancy": "violated", "r2": "met",
                                 "r3": "violated"}  # fmt: skip
    assert session["vnpt"] == {"r1": "violated", "r3": "met"}
    assert session["viettel"] == {"r1": "violated", "r3": "violated"}
    assert session["mobifone"] == {"r1": "met", "r3": "met"}
    assert outcomes(html, "phase:during")["thpt-a"]["r2"] == "at_risk"  # the battery, later
    assert "<script" not in html
    assert html.count("<svg") >= 2  # the site×time strip and the carriers' bars
    assert "3 min 00 s" in html  # time to acknowledge the first incident


def test_a_carrier_scoped_report_names_no_other_carrier(store: Store, inventory: Inventory) -> None:
    scope = Scope(at(0), at(24 * 60), at(24 * 60), carrier="vnpt")
    for form in ("html", "md"):
        text = render(read(store, inventory, scope), inventory, form)  # type: ignore[arg-type]
        assert "VNPT" in text
        assert "link:thpt-a/vnpt-fibre" in text
        for other in ("viettel", "Viettel", "mobifone", "MobiFone"):
            assert other not in text, (form, other)


def test_the_markdown_lists_what_went_wrong(store: Store, inventory: Inventory) -> None:
    scope = Scope(at(0), at(24 * 60), at(24 * 60), session="Ngữ văn")
    md = render(read(store, inventory, scope), inventory, "md")
    assert "| THPT A | at risk | violated | met | violated |" in md
    assert "phase" not in md.lower().split("## incidents")[0]  # one session asked: no phases


def test_the_command_writes_the_report_and_refuses_what_the_file_does_not_know(
    store: Store, inventory: Inventory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["report", "--config", str(inventory.source), "--db", store.url,
              "--from", at(0).isoformat(), "--to", at(24 * 60).isoformat()]  # fmt: skip
    out = tmp_path / "report.md"
    assert main([*common, "--format", "md", "--output", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("# Communications report")
    assert main([*common, "--carrier", "orange"]) == 1
    assert main([*common, "--session", "Hoá học"]) == 1
    assert main([*common, "--format", "pdf"]) == 1
    errors = capsys.readouterr().err
    assert "no carrier 'orange' in the file" in errors
    assert "no exam session 'Hoá học' in the calendar" in errors
    assert "--format pdf needs --output FILE" in errors


def test_a_window_examnet_did_not_watch_meets_nothing(
    store: Store, inventory: Inventory, tmp_path: Path
) -> None:
    """Without a run of the monitor, no incident is no evidence: "not watched", not "met"."""
    url = f"sqlite:///{tmp_path / 'unwatched.db'}"
    Store(url).upgrade()
    watched(url, at(90), at(24 * 60))  # started an hour into the session
    reader = Store(url)
    try:
        scope = Scope(at(0), at(24 * 60), at(24 * 60))
        built = read(reader, inventory, scope)
        session = next(w for w in built.windows if w.name == "Ngữ văn")
        assert session.unmeasured_seconds == pytest.approx(60 * 60)
        html = render(built, inventory, "html")
        assert 'data-unmeasured="3600"' in html
        assert outcomes(html, "session:Ngữ văn")["thpt-a"]["r1"] == "met"  # watched an hour
        early = read(reader, inventory, Scope(at(0), at(60), at(24 * 60)))
        page = render(early, inventory, "html")
        assert outcomes(page, "session:Ngữ văn")["thpt-a"] == {
            "r1": "not_watched", "redundancy": "not_watched", "r2": "not_watched",
            "r3": "not_watched",
        }  # fmt: skip
        assert "was not running" in render(early, inventory, "md")
    finally:
        reader.close()
