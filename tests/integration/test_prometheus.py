"""A real Prometheus scrapes a running examnet and can answer dashboard queries."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.fixtures.environment import need_programs
from tests.fixtures.lab import LabHandle
from tests.fixtures.monitor import REPO, running_monitor, wait_for
from tests.fixtures.prometheus import run_prometheus

pytestmark = pytest.mark.lab


def test_the_shipped_scrape_config_is_valid() -> None:
    need_programs("promtool")
    done = subprocess.run(
        ["promtool", "check", "config", str(REPO / "deploy/prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_prometheus_scrapes_targets_sites_and_calendar(lab: LabHandle, tmp_path: Path) -> None:
    with running_monitor(tmp_path, lab.config_file) as monitor:
        wait_for(lambda: monitor.state("site", "thpt-a") == "ok", 30, "the site ok")
        with run_prometheus([f"127.0.0.1:{monitor.port}"]) as prometheus:
            query = 'examnet_target_up{kind="link"} == 1'
            series = wait_for(
                lambda: len(prometheus.query(query)) == 6 and prometheus.query(query),
                30,
                "six links up in Prometheus",
            )
            assert {s["metric"]["site"] for s in series} == {"thpt-a", "thcs-b", "thcs-c"}
            # the queries a NOC dashboard runs
            isolated = prometheus.query('sum(examnet_site_state{state="isolated"})')
            assert float(isolated[0]["value"][1]) == 0.0
            per_carrier = prometheus.query(
                'count by (carrier) (examnet_target_up{kind="link"} == 1)'
            )
            assert {s["metric"]["carrier"]: s["value"][1] for s in per_carrier} == {
                "viettel": "3",
                "vnpt": "3",
            }
            quantile = (
                "histogram_quantile(0.99, sum by (le) "
                "(rate(examnet_target_echo_rtt_seconds_bucket[1m])))"
            )
            # rate() needs two scrapes of the histogram
            p99 = wait_for(lambda: prometheus.query(quantile), 30, "a p99 RTT from Prometheus")
            assert 0 < float(p99[0]["value"][1]) < 0.05
            assert prometheus.query('examnet_exam_phase{phase="outside"} == 1')
