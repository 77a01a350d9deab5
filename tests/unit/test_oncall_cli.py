"""`examnet silence add|list|expire` and `examnet ack` on a real SQLite database."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.model.records import IncidentRecord
from monitor.storage import Store
from tests.fixtures.inventories import inventory_from, province


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_silence_is_added_listed_with_its_audit_and_expired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "examnet.db")
    code, out, _ = run(
        capsys,
        "silence",
        "add",
        'carrier="viettel"',
        'site=~"thpt-.*"',
        "--duration",
        "2h",
        "--by",
        "An",
        "--comment",
        "Viettel maintenance",
        "--db",
        db,
    )
    assert code == 0
    ident = out.split()[1]
    code, out, _ = run(capsys, "silence", "list", "--json", "--db", db)
    [listed] = json.loads(out)
    assert listed["matchers"] == ['carrier="viettel"', 'site=~"thpt-.*"']
    assert (listed["state"], listed["created_by"], listed["comment"]) == (
        "active",
        "An",
        "Viettel maintenance",
    )
    assert run(capsys, "silence", "expire", ident, "--by", "Lan", "--db", db)[0] == 0
    assert "no silence in effect" in run(capsys, "silence", "list", "--db", db)[1]
    code, out, _ = run(capsys, "silence", "list", "--all", "--db", db)
    assert "expired" in out
    assert "ended by Lan" in out


def test_bad_requests_are_refused_with_the_reason_and_store_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "examnet.db")
    code, _, err = run(
        capsys,
        "silence",
        "add",
        "carrier~viettel",
        "--duration",
        "1h",
        "--by",
        "An",
        "--comment",
        "x",
        "--db",
        db,
    )
    assert code == 1
    assert "carrier~viettel" in err
    code, _, err = run(capsys, "silence", "expire", "nope", "--by", "An", "--db", db)
    assert code == 1
    assert "no silence 'nope'" in err
    code, _, err = run(capsys, "ack", "12345", "--by", "Lan", "--db", db)
    assert code == 1
    assert "no incident 12345" in err
    code, _, err = run(capsys, "ack", "not-an-id", "--by", "Lan", "--db", db)
    assert code == 1
    assert "neither an incident id" in err
    store = Store(f"sqlite:///{db}")
    try:
        assert store.alerting.silences() == []
    finally:
        store.close()


def with_open_incidents(db: str, *incidents: IncidentRecord) -> None:
    store = Store(f"sqlite:///{db}")
    store.upgrade()
    store.start()
    for incident in incidents:
        store.add(incident)
    assert store.close() == 0


NOW = datetime.now(UTC).replace(microsecond=0)
LINK_DOWN = IncidentRecord(
    "target",
    "link:s1/vt",
    "down",
    NOW - timedelta(minutes=3),
    "warning",
    "before",
    "3 rounds without an answer",
    NOW,
    carrier="viettel",
    site="s1",
)
SITE = IncidentRecord(
    "site",
    "s1",
    "lost_redundancy",
    NOW - timedelta(minutes=3),
    "warning",
    "before",
    "1 of 2 required independent carriers up",
    NOW,
    site="s1",
)


def test_it_refuses_a_silence_on_a_label_no_alert_carries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 9.7: `carier="viettel"` was accepted and silenced nothing, ever."""
    db = str(tmp_path / "examnet.db")
    code, _, err = run(
        capsys,
        "silence",
        "add",
        'carier="viettel"',
        "--duration",
        "2h",
        "--by",
        "An",
        "--comment",
        "Viettel maintenance",
        "--db",
        db,
    )
    assert code == 1
    assert 'alerts carry no label "carier"; did you mean "carrier"?' in err
    code, out, _ = run(capsys, "silence", "list", "--json", "--db", db)
    assert json.loads(out) == []


def test_it_says_how_many_open_alerts_a_new_silence_matches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "examnet.db")
    with_open_incidents(db, LINK_DOWN, SITE)
    code, out, err = run(
        capsys,
        "silence",
        "add",
        'site="s1"',
        "--duration",
        "1h",
        "--by",
        "An",
        "--comment",
        "works at s1",
        "--db",
        db,
    )
    assert code == 0
    assert "it matches 2 open alerts now" in out
    assert not err
    code, out, err = run(
        capsys,
        "silence",
        "add",
        'carrier="viettel"',
        "--duration",
        "1h",
        "--by",
        "An",
        "--comment",
        "Viettel works",
        "--db",
        db,
    )
    assert "it matches 1 open alert now" in out  # the link; the site's carrier is not known yet
    code, out, err = run(
        capsys,
        "silence",
        "add",
        'carrier="vietel"',
        "--duration",
        "1h",
        "--by",
        "An",
        "--comment",
        "a typo",
        "--db",
        db,
    )
    assert code == 0
    assert "it matches 0 open alerts now" in out
    assert "warning: it matches no open alert now" in err


def test_every_ack_is_kept_and_status_shows_the_latest_the_count_and_silences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory_from(province(3), tmp_path)
    config, db = str(tmp_path / "sites.toml"), str(tmp_path / "examnet.db")
    with_open_incidents(db, LINK_DOWN, SITE)
    store = Store(f"sqlite:///{db}")
    try:
        site = next(i.id for i in store.alerting.incident_rows() if i.record.kind == SITE.kind)
    finally:
        store.close()
    assert run(capsys, "ack", str(site), "--by", "Lan", "--note", "on my way", "--db", db)[0] == 0
    time.sleep(0.01)
    code, out, _ = run(
        capsys, "ack", str(site), "--by", "Minh", "--note", "VNPT called", "--db", db
    )
    assert code == 0
    assert "acknowledged by Minh" in out
    assert "earlier: Lan at " in out
    assert "on my way" in out
    code, out, _ = run(
        capsys,
        "silence",
        "add",
        'kind="down"',
        "--duration",
        "1h",
        "--by",
        "An",
        "--comment",
        "known",
        "--db",
        db,
    )
    silence = out.split()[1]

    code, table, _ = run(capsys, "status", "--config", config, "--db", db)
    assert code == 0
    [site_line] = [line for line in table.splitlines() if "lost_redundancy" in line and "#" in line]
    assert "[acknowledged by Minh: VNPT called, 2 acks]" in site_line
    assert "silenced" not in site_line
    [link_line] = [line for line in table.splitlines() if "link:s1/vt" in line]
    assert f"[silenced: {silence}]" in link_line
    code, text, _ = run(capsys, "status", "--json", "--config", config, "--db", db)
    found = {i["kind"]: i for i in json.loads(text)["open_incidents"]}
    assert (found["lost_redundancy"]["ack_count"], found["lost_redundancy"]["silenced_by"]) == (
        2,
        [],
    )
    assert (found["down"]["ack_count"], found["down"]["silenced_by"]) == (0, [silence])
