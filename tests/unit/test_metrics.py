"""Metrics are read back from a fresh registry, as Prometheus would see them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import REGISTRY, generate_latest

from monitor.evaluation import Evaluator, RoundOutcome, TargetStatus
from monitor.figures import RoundFigures
from monitor.inventory import Inventory
from monitor.metrics import Metrics, StoreFigures, View
from monitor.snapshot import RttHistogram, SiteSnapshot, TargetSnapshot
from probes.pinger import PingerStats
from tests.fixtures.inventories import TWO_CARRIER_SITE, inventory_from

NOW = datetime(2027, 6, 3, 8, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    return inventory_from(TWO_CARRIER_SITE, tmp_path)


def _view(inventory: Inventory, targets: list[TargetSnapshot],
          evaluator: Evaluator | None = None) -> View:
    ev = evaluator or Evaluator(inventory)
    return View(
        inventory=inventory, now=NOW, targets=targets,
        sites=[SiteSnapshot(s, ev.sites.get(s.id)) for s in inventory.sites],
        store=StoreFigures(queued=3, written_total=10, dropped_total=1, write_errors_total=2,
                           dropped={"round": 1, "state_change": 0}),
        pinger=PingerStats(sent=15, received=12, socket_drops=0), interval=10.0,
    )


def _snapshot(inventory: Inventory, key: str, status: TargetStatus, rtt: float) -> TargetSnapshot:
    target = next(t for t in inventory.targets() if t.key == key)
    figures = RoundFigures(sent=3, received=3, loss=0.0, rtt_avg=rtt, jitter=0.001)
    return TargetSnapshot(target, status, figures, NOW.timestamp(), None,
                          RttHistogram().add([rtt, rtt * 2, 5.0]))


def test_it_exports_each_targets_figures_with_its_labels(inventory: Inventory) -> None:
    snap = _snapshot(inventory, "link:thpt-a/viettel-fibre", TargetStatus.UP, 0.004)
    metrics = Metrics(view=lambda: _view(inventory, [snap]))
    labels = {"target": "link:thpt-a/viettel-fibre", "kind": "link", "site": "thpt-a",
              "carrier": "viettel", "link": "viettel-fibre"}
    get = metrics.registry.get_sample_value
    assert get("examnet_target_up", labels) == 1.0
    assert get("examnet_target_rtt_seconds", labels) == pytest.approx(0.004)
    assert get("examnet_target_loss_ratio", labels) == 0.0
    assert get("examnet_target_state", {**labels, "state": "up"}) == 1.0
    assert get("examnet_target_state", {**labels, "state": "down"}) == 0.0
    assert get("examnet_target_last_round_timestamp_seconds", labels) == NOW.timestamp()
    # histogram: cumulative buckets; 5 s falls in +Inf only
    assert get("examnet_target_echo_rtt_seconds_bucket", {**labels, "le": "0.005"}) == 1.0
    assert get("examnet_target_echo_rtt_seconds_bucket", {**labels, "le": "0.01"}) == 2.0
    assert get("examnet_target_echo_rtt_seconds_bucket", {**labels, "le": "+Inf"}) == 3.0
    assert get("examnet_target_echo_rtt_seconds_count", labels) == 3.0


def test_it_drops_the_series_of_a_target_that_left_the_inventory(inventory: Inventory) -> None:
    snaps = [_snapshot(inventory, "link:thpt-a/viettel-fibre", TargetStatus.UP, 0.004)]
    metrics = Metrics(view=lambda: _view(inventory, snaps))
    assert b'target="link:thpt-a/viettel-fibre"' in generate_latest(metrics.registry)
    snaps.clear()
    assert b'target="link:thpt-a/viettel-fibre"' not in generate_latest(metrics.registry)


def test_it_says_nothing_of_up_while_the_target_is_unknown(inventory: Inventory) -> None:
    snap = _snapshot(inventory, "endpoint:viettel-gw", TargetStatus.UNKNOWN, 0.004)
    metrics = Metrics(view=lambda: _view(inventory, [snap]))
    labels = {"target": "endpoint:viettel-gw", "kind": "endpoint", "site": "",
              "carrier": "viettel", "link": ""}
    assert metrics.registry.get_sample_value("examnet_target_up", labels) is None
    assert metrics.registry.get_sample_value(
        "examnet_target_state", {**labels, "state": "unknown"}) == 1.0


def test_it_exports_site_state_calendar_and_its_own_health(inventory: Inventory) -> None:
    ev = Evaluator(inventory)
    target = next(t for t in inventory.targets() if t.key == "link:thpt-a/viettel-fibre")
    lost = RoundOutcome(RoundFigures(sent=3, received=0, loss=1.0))
    gateway = next(t for t in inventory.targets() if t.key == "endpoint:viettel-gw")
    ev.observe(gateway, RoundOutcome(RoundFigures(sent=3, received=3, loss=0.0)), NOW)
    for key in ("link:thpt-a/viettel-fibre", "link:thpt-a/vnpt-fibre",
                "link:thpt-a/mobifone-bts"):
        target = next(t for t in inventory.targets() if t.key == key)
        ev.observe(target, lost, NOW)
        ev.observe(target, lost, NOW)
    metrics = Metrics(view=lambda: _view(inventory, [], ev))
    get = metrics.registry.get_sample_value
    site = {"site": "thpt-a", "district": "Cao Lộc"}
    assert get("examnet_site_state", {**site, "state": "isolated"}) == 1.0
    assert get("examnet_site_state", {**site, "state": "ok"}) == 0.0
    assert get("examnet_site_carriers_up", site) == 0.0
    assert get("examnet_site_min_carriers", site) == 2.0
    assert get("examnet_exam_phase", {"phase": "during"}) == 1.0
    assert get("examnet_exam_session_active", {"session": "Ngữ văn"}) == 1.0
    assert get("examnet_db_queue_depth") == 3.0
    assert get("examnet_db_rows_dropped_total", {"kind": "round"}) == 1.0
    assert get("examnet_db_rows_dropped_total", {"kind": "state_change"}) == 0.0
    assert get("examnet_db_write_errors_total") == 2.0
    assert get("examnet_icmp_requests_total") == 15.0
    assert get("examnet_probe_interval_seconds") == 10.0


def test_it_keeps_its_metrics_off_the_global_registry() -> None:
    Metrics()
    assert REGISTRY.get_sample_value("examnet_rounds_total",
                                     {"kind": "icmp", "result": "answered"}) is None
