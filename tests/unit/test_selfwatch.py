"""examnet's watch on itself, with a fake clock: database, rounds, probe errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.model.inventory import Inventory
from monitor.selfwatch import Health, SelfWatch, healthz
from tests.fixtures.inventories import inventory_from, province

T0 = datetime(2027, 6, 3, 0, 0, tzinfo=UTC)  # 07:00 local, half an hour before Ngữ văn


def health(written: int = 0, errors: int = 0, rounds: int = 0, failed: int = 0) -> Health:
    return Health(written, errors, "OperationalError: database is locked" if errors else None,
                  rounds, failed, "ENETUNREACH" if failed else None, 10.0)


def test_a_database_failing_for_thirty_seconds_is_an_alert_that_resolves_on_a_write(
    tmp_path: Path,
) -> None:
    watch = SelfWatch(inventory_from(province(2), tmp_path), T0)
    rounds = 0
    for second in range(0, 60, 5):
        rounds += 4
        fired = watch.check(health(written=10, errors=second // 5 + 1, rounds=rounds),
                            T0 + timedelta(seconds=second))
        if second < 35:
            assert not fired
            assert not watch.database_down
    assert watch.database_down
    [alert] = [a for a in watch.firing() if a.labels["kind"] == "database_down"]
    assert alert.labels["severity"] == "warning"  # no session running
    assert "database is locked" in alert.summary["en"]
    [resolved] = watch.check(health(written=11, errors=12, rounds=rounds + 4),
                             T0 + timedelta(seconds=65))
    assert resolved.ends_at is not None
    assert not watch.database_down


def test_rounds_that_stop_or_fail_are_alerts_critical_in_a_session(tmp_path: Path) -> None:
    inventory: Inventory = inventory_from(province(2), tmp_path)
    session = datetime(2027, 6, 3, 0, 40, tzinfo=UTC)  # inside Ngữ văn
    watch = SelfWatch(inventory, session)
    assert not watch.check(health(rounds=10), session)
    stalled = watch.check(health(rounds=10), session + timedelta(seconds=45))
    assert [a.labels["kind"] for a in stalled] == ["no_rounds"]
    assert stalled[0].labels["severity"] == "critical"
    failing = []
    for step in range(1, 7):
        failing += watch.check(health(rounds=10 + 8 * step, failed=6 * step),
                               session + timedelta(seconds=45 + 10 * step))
    kinds = {(a.labels["kind"], a.ends_at is None) for a in failing}
    assert ("no_rounds", False) in kinds  # rounds again: resolved
    assert ("probe_errors", True) in kinds  # but most of them fail


def test_healthz_passes_while_examnet_does_its_job_whatever_else_it_alerts_on() -> None:
    ok, details = healthz(
        running=True,
        stalled=False,
        problems=["database_file"],
        db_queue=0,
        db_last_error=None,
        targets=3,
    )
    assert ok
    assert details["probing"] == "ok"


def test_healthz_fails_while_the_loop_stalls_or_rounds_stop() -> None:
    ok, details = healthz(
        running=True,
        stalled=True,
        problems=["probe_errors", "no_rounds"],
        db_queue=2,
        db_last_error=None,
        targets=3,
    )
    assert not ok
    assert details["event_loop"] == "stalled"
    assert details["probing"] == "no_rounds, probe_errors"
