"""When the monitor watched (storage/runs.py): runs, heartbeats, stops, and the time nobody saw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from monitor.availability import Calculator, Options
from monitor.model.clock import FakeClock
from monitor.model.records import IncidentRecord
from monitor.storage import Store
from monitor.storage.alert_rows import StoredIncident
from monitor.storage.runs import GRACE, HEARTBEAT, RunLog

T0 = datetime(2027, 6, 3, 0, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_stopped_a_killed_and_the_current_run_are_measured_as_they_were(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'examnet.db'}"
    Store(url).upgrade()
    engine = create_engine(url)
    clock = FakeClock(at(0))
    stopped = RunLog(engine, clock)
    stopped.start()
    clock.step(10 * 60)
    stopped.beat()
    clock.step(5 * 60)
    stopped.stop()  # 00:00–00:15, stopped cleanly
    clock.step(15 * 60)
    killed = RunLog(engine, clock)
    killed.start()  # 00:30, last heartbeat 00:40, then killed: until 00:40 + GRACE
    clock.step(10 * 60)
    killed.beat()
    clock.step(20 * 60)
    current = RunLog(engine, clock)
    current.start()  # 01:00, running: until now
    clock.step(HEARTBEAT)
    current.beat()
    clock.step(HEARTBEAT / 2)
    now = clock.now()
    reader = Store(url)
    try:
        spans = reader.access.measured(at(-60), at(120), now)
        assert spans == [(at(0), at(15)), (at(30), at(40) + GRACE), (at(60), now)]
        assert reader.access.measured(at(5), at(35), now) == [(at(5), at(15)), (at(30), at(35))]
        assert reader.access.measured(at(16), at(29), now) == []
    finally:
        reader.close()
        engine.dispose()


def _down(start: float, end: float) -> StoredIncident:
    record = IncidentRecord(
        subject_kind="target", subject="link:thpt-a/viettel-fibre", kind="down",
        started_at=at(start), ended_at=at(end), severity="critical", phase="during",
        reason="test", updated_at=at(end), carrier="viettel", site="thpt-a",
    )  # fmt: skip
    return StoredIncident(id=1, record=record)


def test_time_nobody_measured_is_neither_up_nor_down() -> None:
    """Down 00:30–01:30, the monitor stopped 01:00–02:00: half the outage was seen."""
    options = Options(at(0), at(240), at(240))
    measured = [(at(0), at(60)), (at(120), at(240))]
    calc = Calculator([_down(30, 90)], [], options, [], measured=measured)
    tally = calc.tally("link:thpt-a/viettel-fibre", ["down"])  # type: ignore[list-item]
    assert calc.unmeasured == pytest.approx(3600)
    assert calc.total == pytest.approx(3 * 3600)
    assert calc.down_seconds(tally) == pytest.approx(30 * 60)
    assert calc.share_up(tally) == pytest.approx(1 - 0.5 / 3)
    nobody = Calculator([_down(30, 90)], [], options, [], measured=[])
    assert nobody.share_up(nobody.tally("link:thpt-a/viettel-fibre", [])) is None
