"""`examnet status` reads the database: sites, carriers, devices, open incidents."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.model.records import IncidentRecord, StateChange
from monitor.model.vocabulary import SubjectKind
from monitor.status import render
from monitor.storage import Store
from tests.fixtures.inventories import inventory_from, province

NOW = datetime(2027, 6, 3, 0, 40, tzinfo=UTC)  # 07:40 on exam day, in the session


def test_it_shows_sites_carriers_and_open_incidents_from_the_database(tmp_path: Path) -> None:
    inventory = inventory_from(province(3), tmp_path)
    url = f"sqlite:///{tmp_path / 'examnet.db'}"
    store = Store(url)
    store.upgrade()
    store.register_targets(inventory.targets())
    store.start()
    at = NOW - timedelta(minutes=5)
    for key, state in [("link:s1/vt", "down"), ("link:s1/vnpt", "up"), ("link:s0/vt", "up"),
                       ("link:s0/vnpt", "up"), ("endpoint:vt-gw", "up")]:
        store.add_state_change(StateChange(SubjectKind.TARGET, key, at, "unknown", state, "x"))
    store.add_state_change(StateChange(SubjectKind.SITE, "s1", at, "ok", "lost_redundancy", "x"))
    store.add_state_change(StateChange(SubjectKind.SITE, "s0", at, "unknown", "ok", "x"))
    store.add(IncidentRecord(
        subject_kind="site", subject="s1", kind="lost_redundancy", started_at=at,
        severity="critical", phase="during", reason="1 of 2 required independent carriers up",
        updated_at=at, site="s1", sessions=("Ngữ văn",)))
    assert store.close() == 0

    data = json.loads(render(inventory, url, as_json=True, now=NOW))
    assert (data["phase"], data["session"]) == ("during", "Ngữ văn")
    s1 = next(s for s in data["sites"] if s["site"] == "s1")
    assert (s1["state"], s1["worst_link"], s1["open_incidents"]) == ("lost_redundancy", "vt", 1)
    assert s1["carriers_up"] == ["vnpt"]
    viettel = next(c for c in data["carriers"] if c["carrier"] == "viettel")
    assert viettel["links"]["down"] == 1
    [incident] = data["open_incidents"]
    assert (incident["kind"], incident["severity"], incident["minutes"]) == (
        "lost_redundancy", "critical", 5)
    assert any('site "shared"' in w for w in data["warnings"])  # fake redundancy

    table = render(inventory, url, now=NOW)
    assert "province — phase: during, session Ngữ văn" in table
    assert "critical lost_redundancy" in table
    assert "during Ngữ văn: 1 of 2 required independent carriers up" in table
    assert 'warning: site "shared"' in table
