"""`examnet run --rehearse`: exam day moved to now, and `status` reading the same plan."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import load_inventory
from monitor.model.cadence import interval_at
from monitor.model.calendar import phase_at, session_at
from monitor.model.inventory import Inventory
from monitor.model.rehearsal import RehearsalError, describe, plan, rehearsed
from monitor.model.vocabulary import Phase
from monitor.status import render
from monitor.storage import Store
from tests.unit.test_config import SHIPPED, SHIPPED_SECRETS

NOW = datetime(2026, 12, 6, 13, 47, 31, tzinfo=UTC)  # months before the shipped exam


def shipped() -> Inventory:
    return load_inventory(SHIPPED, dict(SHIPPED_SECRETS))


def test_it_moves_the_first_session_to_this_minute_with_the_whole_calendar() -> None:
    inventory = shipped()
    assert phase_at(inventory.calendar, NOW) == Phase.OUTSIDE
    rehearsal = plan(inventory, NOW)
    moved = rehearsed(inventory, rehearsal)
    session = session_at(moved.calendar, NOW)
    assert session is not None
    assert session.name == "Ngữ văn" == rehearsal.session
    assert session.start == NOW.replace(second=0)
    assert phase_at(moved.calendar, NOW) == Phase.DURING
    assert interval_at(moved, NOW) == moved.probe.session_interval  # exam-time cadence
    later = [s.start - session.start for s in moved.calendar.sessions]
    assert later == [
        s.start - inventory.calendar.sessions[0].start for s in inventory.calendar.sessions
    ]


def test_a_mobile_bts_link_of_the_exam_days_is_there_in_the_rehearsal() -> None:
    inventory = shipped()
    [bts, *_] = [link for link in inventory.links() if link.active is not None]
    assert not bts.is_active(NOW)
    moved = rehearsed(inventory, plan(inventory, NOW))
    [moved_bts] = [link for link in moved.links() if link.key == bts.key]
    assert moved_bts.is_active(NOW)
    [target] = [t for t in moved.targets() if t.key == bts.target_key]
    assert target.is_active(NOW)


def test_it_rehearses_a_named_session_and_names_the_sessions_when_it_has_no_such() -> None:
    inventory = shipped()
    rehearsal = plan(inventory, NOW, "Toán")
    assert session_at(rehearsed(inventory, rehearsal).calendar, NOW).name == "Toán"  # type: ignore[union-attr]
    with pytest.raises(RehearsalError, match=r"no such session.*'Ngữ văn', 'Toán'"):
        plan(inventory, NOW, "Vật lý")


def test_it_says_how_far_the_plan_moved() -> None:
    rehearsal = plan(shipped(), NOW)
    # Ngữ văn starts 2027-06-03 07:30 +07:00 = 00:30 UTC; now is 2026-12-06 13:47 UTC
    assert describe(rehearsal) == (
        "session Ngữ văn, every date of the plan moved by -178 days 10:43"
    )


def test_status_reads_the_rehearsal_the_monitor_recorded_and_forgets_it_after_a_real_run(
    tmp_path: Path,
) -> None:
    inventory = shipped()
    url = f"sqlite:///{tmp_path / 'examnet.db'}"
    store = Store(url)
    store.upgrade()
    store.record_rehearsal(plan(inventory, NOW))
    data = json.loads(render(inventory, url, as_json=True, now=NOW + timedelta(minutes=20)))
    assert (data["phase"], data["session"]) == ("during", "Ngữ văn")
    assert data["rehearsal"]["session"] == "Ngữ văn"
    table = render(inventory, url, now=NOW + timedelta(minutes=20))
    assert "REHEARSAL: session Ngữ văn, every date of the plan moved by" in table
    assert "phase: during, session Ngữ văn" in table

    store.record_rehearsal(None)  # what a real run records at its start
    data = json.loads(render(inventory, url, as_json=True, now=NOW))
    assert (data["phase"], data["session"], data["rehearsal"]) == ("outside", None, None)
    store.close()
