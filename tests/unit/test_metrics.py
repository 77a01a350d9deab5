"""Metrics are read back from a fresh registry, as Prometheus would see them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from monitor.evaluation import Evaluator, RoundOutcome
from monitor.evaluation.conditions import Condition
from monitor.evaluation.figures import RoundFigures
from monitor.metrics import Metrics, StoreFigures, View
from monitor.model.inventory import Inventory
from monitor.model.vocabulary import ConditionKind, Severity, TargetStatus
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
    figures = RoundFigures(sent=3, received=3, loss=0.0, rtt_min=rtt - 0.001, rtt_avg=rtt,
                           rtt_median=rtt, rtt_max=rtt + 0.001, jitter=0.001)
    return TargetSnapshot(target, status, figures, NOW.timestamp(), None,
                          RttHistogram().add([rtt, rtt * 2, 5.0]))


def _families(metrics: Metrics) -> dict[str, Metric]:
    """The exposition as Prometheus parses it."""
    text = metrics.exposition().decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def _value(metrics: Metrics, metric: str, /, **labels: str) -> float | None:
    for family in _families(metrics).values():
        for s in family.samples:
            if s.name == metric and s.labels == labels:
                return float(s.value)
    return None


def test_it_exports_each_targets_round_smokeping_style_keyed_by_target(
    inventory: Inventory,
) -> None:
    snap = _snapshot(inventory, "link:thpt-a/viettel-fibre", TargetStatus.UP, 0.004)
    metrics = Metrics(view=lambda: _view(inventory, [snap]))
    key = {"target": "link:thpt-a/viettel-fibre"}
    get = metrics.registry.get_sample_value
    assert get("examnet_target_state_code", key) == 0.0
    assert get("examnet_target_rtt_min_seconds", key) == pytest.approx(0.003)
    assert get("examnet_target_rtt_median_seconds", key) == pytest.approx(0.004)
    assert get("examnet_target_rtt_max_seconds", key) == pytest.approx(0.005)
    assert get("examnet_target_loss_ratio", key) == 0.0
    assert get("examnet_target_jitter_seconds", key) == pytest.approx(0.001)


def test_it_describes_each_target_once_in_an_info_series(inventory: Inventory) -> None:
    snap = _snapshot(inventory, "link:thpt-a/viettel-fibre", TargetStatus.UP, 0.004)
    metrics = Metrics(view=lambda: _view(inventory, [snap]))
    described = {"target": "link:thpt-a/viettel-fibre", "kind": "link", "site": "thpt-a",
                 "district": "Cao Lộc", "carrier": "viettel", "link": "viettel-fibre",
                 "link_kind": "fibre"}
    assert _value(metrics, "examnet_target_info", **described) == 1.0
    assert _value(metrics, "examnet_site_info", site="thpt-a", name="THPT A",
                  district="Cao Lộc", latitude="", longitude="") == 1.0
    # the other series name the target only: joined on it in PromQL
    text = metrics.exposition().decode()
    lines = [line for line in text.splitlines() if "viettel-fibre" in line]
    assert [line for line in lines if "carrier=" in line] == [
        line for line in lines if line.startswith("examnet_target_info")]


def test_it_keeps_an_echo_histogram_per_carrier_not_per_target(inventory: Inventory) -> None:
    snaps = [_snapshot(inventory, "link:thpt-a/viettel-fibre", TargetStatus.UP, 0.004),
             _snapshot(inventory, "endpoint:viettel-gw", TargetStatus.UP, 0.001)]
    metrics = Metrics(view=lambda: _view(inventory, snaps))
    get = metrics.registry.get_sample_value
    link = {"carrier": "viettel", "kind": "link"}
    # cumulative buckets; 5 s falls in +Inf only
    assert get("examnet_echo_rtt_seconds_bucket", {**link, "le": "0.005"}) == 1.0
    assert get("examnet_echo_rtt_seconds_bucket", {**link, "le": "0.01"}) == 2.0
    assert get("examnet_echo_rtt_seconds_bucket", {**link, "le": "+Inf"}) == 3.0
    assert get("examnet_echo_rtt_seconds_count", {"carrier": "viettel", "kind": "endpoint"}) == 3.0
    assert b"examnet_echo_rtt_seconds_bucket{target=" not in metrics.exposition()


def test_it_rounds_figures_to_the_microsecond(inventory: Inventory) -> None:
    snap = _snapshot(inventory, "link:thpt-a/viettel-fibre", TargetStatus.UP, 0.0041234567891)
    metrics = Metrics(view=lambda: _view(inventory, [snap]))
    assert b"examnet_target_rtt_median_seconds{target=\"link:thpt-a/viettel-fibre\"} 0.004123\n" \
        in metrics.exposition()


def test_it_drops_the_series_of_a_target_that_left_the_inventory(inventory: Inventory) -> None:
    snaps = [_snapshot(inventory, "link:thpt-a/viettel-fibre", TargetStatus.UP, 0.004)]
    metrics = Metrics(view=lambda: _view(inventory, snaps))
    assert b'target="link:thpt-a/viettel-fibre"' in generate_latest(metrics.registry)
    snaps.clear()
    assert b'target="link:thpt-a/viettel-fibre"' not in generate_latest(metrics.registry)


def test_it_says_nothing_of_the_state_while_the_target_is_unknown(inventory: Inventory) -> None:
    unknown = _snapshot(inventory, "endpoint:viettel-gw", TargetStatus.UNKNOWN, 0.004)
    down = _snapshot(inventory, "link:thpt-a/vnpt-fibre", TargetStatus.DOWN, 0.004)
    degraded = _snapshot(inventory, "link:thpt-a/viettel-fibre", TargetStatus.DEGRADED, 0.004)
    metrics = Metrics(view=lambda: _view(inventory, [unknown, down, degraded]))
    get = metrics.registry.get_sample_value
    assert get("examnet_target_state_code", {"target": "endpoint:viettel-gw"}) is None
    assert get("examnet_target_state_code", {"target": "link:thpt-a/vnpt-fibre"}) == 2.0
    assert get("examnet_target_state_code", {"target": "link:thpt-a/viettel-fibre"}) == 1.0


def test_it_counts_targets_examnet_stopped_probing(inventory: Inventory) -> None:
    fresh = _snapshot(inventory, "link:thpt-a/viettel-fibre", TargetStatus.UP, 0.004)
    old = replace(_snapshot(inventory, "endpoint:viettel-gw", TargetStatus.UP, 0.004),
                  last_round_at=NOW.timestamp() - 31)
    never = _snapshot(inventory, "link:thpt-a/vnpt-fibre", TargetStatus.UNKNOWN, 0.004)
    never = replace(never, last_round_at=None)
    metrics = Metrics(view=lambda: _view(inventory, [fresh, old, never]))
    assert metrics.registry.get_sample_value("examnet_targets_not_probed") == 2.0


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
    site = {"site": "thpt-a"}
    assert get("examnet_site_state_code", site) == 3.0  # isolated
    assert get("examnet_site_carriers_up", site) == 0.0
    assert _value(metrics, "examnet_site_min_carriers", site="thpt-a") == 2.0
    assert get("examnet_exam_phase", {"phase": "during"}) == 1.0
    assert get("examnet_exam_session_active", {"session": "Ngữ văn"}) == 1.0
    assert get("examnet_db_queue_depth") == 3.0
    assert get("examnet_db_rows_dropped_total", {"kind": "round"}) == 1.0
    assert get("examnet_db_rows_dropped_total", {"kind": "state_change"}) == 0.0
    assert get("examnet_db_write_errors_total") == 2.0
    assert get("examnet_icmp_requests_total") == 15.0
    assert get("examnet_probe_interval_seconds") == 10.0


def test_it_counts_open_incidents_per_site_for_the_sites_dashboard(inventory: Inventory) -> None:
    def condition(kind: ConditionKind, subject: str, site: str | None,
                  carrier: str | None) -> Condition:
        return Condition("site" if site else "examnet", subject, kind, NOW, Severity.CRITICAL,
                         "during", "test", carrier=carrier, site=site)

    open_now = [condition(ConditionKind.LOST_REDUNDANCY, "thpt-a", "thpt-a", None),
                condition(ConditionKind.BLIND, "examnet", None, None)]
    metrics = Metrics(view=lambda: replace(_view(inventory, []), open_incidents=open_now))
    get = metrics.registry.get_sample_value
    assert get("examnet_open_incidents", {"kind": "lost_redundancy", "severity": "critical",
                                          "carrier": "", "site": "thpt-a"}) == 1.0
    assert get("examnet_open_incidents", {"kind": "blind", "severity": "critical",
                                          "carrier": "", "site": ""}) == 1.0


def test_it_keeps_its_metrics_off_the_global_registry() -> None:
    Metrics()
    assert REGISTRY.get_sample_value("examnet_rounds_total",
                                     {"kind": "icmp", "result": "answered"}) is None
