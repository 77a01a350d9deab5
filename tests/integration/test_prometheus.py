"""A real Prometheus scrapes a running examnet and can answer dashboard queries.

The shipped config, rules and every dashboard query: tests/unit/test_prometheus_rules.py
and tests/integration/test_grafana_prometheus.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.lab import LabHandle
from tests.fixtures.monitor import running_monitor, wait_for
from tests.fixtures.prometheus import run_prometheus

pytestmark = pytest.mark.lab


def test_prometheus_scrapes_targets_sites_and_calendar(lab: LabHandle, tmp_path: Path) -> None:
    with running_monitor(tmp_path, lab.config_file) as monitor:
        wait_for(lambda: monitor.state("site", "thpt-a") == "ok", 30, "the site ok")
        with run_prometheus([f"127.0.0.1:{monitor.port}"]) as prometheus:
            up = '(examnet_target_state_code < 2)'
            links = 'examnet_target_info{kind="link"}'
            query = f"{up} * on(target) group_left(site, carrier) {links}"
            series = wait_for(
                lambda: len(prometheus.query(query)) == 6 and prometheus.query(query),
                30,
                "six links up in Prometheus",
            )
            assert {s["metric"]["site"] for s in series} == {"thpt-a", "thcs-b", "thcs-c"}
            # the queries a NOC dashboard runs
            isolated = prometheus.query("count(examnet_site_state_code == 3) or vector(0)")
            assert float(isolated[0]["value"][1]) == 0.0
            per_carrier = prometheus.query(f"count by (carrier) ({query})")
            assert {s["metric"]["carrier"]: s["value"][1] for s in per_carrier} == {
                "viettel": "3",
                "vnpt": "3",
            }
            quantile = (
                "histogram_quantile(0.99, sum by (le) "
                "(rate(examnet_echo_rtt_seconds_bucket[1m])))"
            )
            # rate() needs two scrapes of the histogram that differ (/metrics is rendered
            # once per probe interval: two scrapes of one render give NaN)
            p99 = wait_for(lambda: [r for r in prometheus.query(quantile)
                                    if r["value"][1] != "NaN"], 30, "a p99 RTT from Prometheus")
            assert 0 < float(p99[0]["value"][1]) < 0.05
            assert prometheus.query('examnet_exam_phase{phase="outside"} == 1')
