"""`examnet status` as a person reads it: links outside their window, counts, the plan's
time zone, and text from outside escaped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.model.inventory import Inventory
from monitor.model.records import IncidentRecord, PollRecord, StateChange
from monitor.model.vocabulary import SubjectKind
from monitor.operations import acknowledge
from monitor.status import render
from monitor.storage import Store
from tests.fixtures.inventories import TWO_CARRIER_SITE, WITH_DEVICES, inventory_from

# thpt-a: viettel-fibre, vnpt-fibre, and mobifone-bts active from 2027-06-02 to 2027-06-06
# (local, UTC+7); min_carriers = 2.
BEFORE_WINDOW = datetime(2027, 6, 1, 3, 0, tzinfo=UTC)  # 10:00 on 1 June in Lạng Sơn
IN_WINDOW = datetime(2027, 6, 3, 0, 40, tzinfo=UTC)  # 07:40 on exam day
AFTER_WINDOW = datetime(2027, 6, 7, 3, 0, tzinfo=UTC)


def database(inventory: Inventory, tmp_path: Path, states: dict[str, str], at: datetime) -> str:
    url = f"sqlite:///{tmp_path / 'examnet.db'}"
    store = Store(url)
    store.upgrade()
    store.register_targets(inventory.targets())
    store.start()
    for key, state in states.items():
        change = StateChange(SubjectKind.TARGET, key, at, "unknown", state, "x")
        store.add_state_change(change)
    store.add_state_change(StateChange(SubjectKind.SITE, "thpt-a", at, "unknown", "ok", "x"))
    assert store.close() == 0
    return url


FIBRES = {"link:thpt-a/viettel-fibre": "up", "link:thpt-a/vnpt-fibre": "degraded"}


def test_it_lists_a_link_before_its_window_as_not_active_and_counts_it_nowhere(
    tmp_path: Path,
) -> None:
    inventory = inventory_from(TWO_CARRIER_SITE, tmp_path)
    url = database(inventory, tmp_path, FIBRES, BEFORE_WINDOW - timedelta(minutes=5))

    data = json.loads(render(inventory, url, as_json=True, now=BEFORE_WINDOW))

    [site] = data["sites"]
    assert (site["links_up"], site["links"]) == (2, 2)
    assert site["carriers_up"] == ["viettel", "vnpt"]
    assert site["not_up"] == ["vnpt-fibre (degraded)"]
    assert site["not_active"] == [
        {
            "link": "mobifone-bts",
            "carrier": "mobifone",
            "active_from": "2027-06-01T17:00:00+00:00",
            "active_until": "2027-06-05T17:00:00+00:00",
        }
    ]
    mobifone = next(c for c in data["carriers"] if c["carrier"] == "mobifone")
    assert mobifone["links"] == {"up": 0, "degraded": 0, "down": 0, "unknown": 0}
    assert mobifone["links_not_active"] == 1

    table = render(inventory, url, now=BEFORE_WINDOW)
    row = next(line for line in table.splitlines() if line.startswith("thpt-a "))
    assert "2 of 2 required: viettel,vnpt" in row
    assert "mobifone-bts (not active until 2027-06-02 00:00 +07:00)" in row
    assert "(unknown)" not in row


def test_it_lists_a_link_after_its_window_as_not_active_since_its_end(tmp_path: Path) -> None:
    inventory = inventory_from(TWO_CARRIER_SITE, tmp_path)
    states = {**FIBRES, "link:thpt-a/mobifone-bts": "down"}  # its last state, from the window
    url = database(inventory, tmp_path, states, AFTER_WINDOW - timedelta(days=2))

    data = json.loads(render(inventory, url, as_json=True, now=AFTER_WINDOW))

    [site] = data["sites"]
    assert (site["links_up"], site["links"], site["worst_link"]) == (2, 2, "vnpt-fibre")
    assert [link["link"] for link in site["not_active"]] == ["mobifone-bts"]
    mobifone = next(c for c in data["carriers"] if c["carrier"] == "mobifone")
    assert mobifone["links"]["down"] == 0
    row = next(
        line
        for line in render(inventory, url, now=AFTER_WINDOW).splitlines()
        if line.startswith("thpt-a ")
    )
    assert "mobifone-bts (not active since 2027-06-06 00:00 +07:00)" in row
    assert "mobifone-bts (down)" not in row


def test_it_counts_a_degraded_link_as_working_like_the_evaluator(tmp_path: Path) -> None:
    inventory = inventory_from(TWO_CARRIER_SITE, tmp_path)
    states = {**FIBRES, "link:thpt-a/mobifone-bts": "degraded"}
    url = database(inventory, tmp_path, states, IN_WINDOW - timedelta(minutes=5))

    data = json.loads(render(inventory, url, as_json=True, now=IN_WINDOW))

    [site] = data["sites"]
    assert (site["links_up"], site["links"], site["not_active"]) == (3, 3, [])
    assert site["carriers_up"] == ["mobifone", "viettel", "vnpt"]
    table = render(inventory, url, now=IN_WINDOW)
    assert "3 of 2 required: mobifone,viettel,vnpt" in table
    assert "3/2" not in table


def test_it_shows_times_in_the_plans_zone_with_the_offset_and_keeps_utc_in_json(
    tmp_path: Path,
) -> None:
    inventory = inventory_from(WITH_DEVICES, tmp_path)
    url = f"sqlite:///{tmp_path / 'examnet.db'}"
    store = Store(url)
    store.upgrade()
    store.register_targets([*inventory.targets(), *(d.as_target() for d in inventory.devices())])
    store.start()
    polled = IN_WINDOW - timedelta(seconds=75)
    store.add(PollRecord("device:thpt-a/router", polled, 12.0, 1, 0))
    assert store.close() == 0

    table = render(inventory, url, now=IN_WINDOW)
    data = json.loads(render(inventory, url, as_json=True, now=IN_WINDOW))

    assert "— 2027-06-03 07:40 +07:00 (Asia/Ho_Chi_Minh)" in table.splitlines()[0]
    router = next(line for line in table.splitlines() if line.startswith("device:thpt-a/router"))
    assert "2027-06-03 07:38:45 +07:00" in router
    assert "UTC" not in table
    assert "+00:00" not in table
    assert (data["timezone"], data["now"]) == ("Asia/Ho_Chi_Minh", "2027-06-03T00:40:00+00:00")
    [router_json] = [d for d in data["devices"] if d["device"] == "device:thpt-a/router"]
    assert router_json["last_poll"] == "2027-06-03T00:38:45+00:00"


def test_it_escapes_control_characters_from_reasons_and_acknowledgements(
    tmp_path: Path,
) -> None:
    inventory = inventory_from(TWO_CARRIER_SITE, tmp_path)
    url = database(inventory, tmp_path, FIBRES, IN_WINDOW - timedelta(minutes=5))
    store = Store(url)
    store.start()
    at = IN_WINDOW - timedelta(minutes=5)
    store.add(
        IncidentRecord(
            subject_kind="target",
            subject="link:thpt-a/viettel-fibre",
            kind="down",
            started_at=at,
            severity="warning",
            phase="during",
            reason="lost\x1b[2J",
            updated_at=at,
            site="thpt-a",
        )
    )
    assert store.close() == 0
    store = Store(url)
    [stored] = store.alerting.incident_rows(open_only=True)
    acknowledge(store.alerting, str(stored.id), "an", "on it\x1b]0;pwned\x07\nnext", IN_WINDOW)
    store.close()

    table = render(inventory, url, now=IN_WINDOW)

    assert "\x1b" not in table
    assert "\x07" not in table
    assert "lost\\x1b[2J" in table
    assert "on it\\x1b]0;pwned\\x07\\nnext" in table
    assert (
        json.loads(render(inventory, url, as_json=True, now=IN_WINDOW))["open_incidents"][0][
            "reason"
        ]
        == "lost\x1b[2J"
    )
