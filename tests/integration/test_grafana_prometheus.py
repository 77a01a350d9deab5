"""Every dashboard query and every rule, run by a real Prometheus on a real `examnet run`.

The lab of the integration tests (tests/data/lab-sites.toml: three sites
in network namespaces, two carriers' gateways, real snmpd routers and a
UPS) is probed during an exam session, and a real Prometheus scrapes
examnet every second with the shipped rules loaded. Every PromQL expression
of every panel of every dashboard in deploy/grafana/dashboards/ is run with
its template variables set to real values, and must be valid and (unless
the panel is listed below with the reason it is empty on this monitor)
return series. Then `examnet lab impair` takes one link down, and a whole
site: the exam-day counts and the alerts ExamSiteLostRedundancy and
ExamSiteIsolated must follow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.lab import LabHandle
from tests.fixtures.monitor import REPO, MonitorProcess, config_with, local, wait_for
from tests.fixtures.prometheus import Prometheus, run_prometheus

pytestmark = pytest.mark.lab

DASHBOARDS = sorted((REPO / "deploy" / "grafana" / "dashboards").glob("*.json"))
RULES = sorted((REPO / "deploy" / "prometheus" / "rules").glob("*.yml"))
SITES = ("thpt-a", "thcs-b", "thcs-c")
SITE = "thpt-a"  # the site the per-site dashboards are looked at for
LINK_DOWN = ["thpt-a/vnpt-fibre"]  # its only VNPT link: thpt-a loses redundancy
SITE_DOWN = ["thcs-b/vt-fibre", "thcs-b/vnpt-copper"]  # both links: thcs-b isolated

# Panels with nothing to show on this monitor, and why; every other panel must
# return series. A panel here is still run and must be valid PromQL.
EMPTY_HERE = {
    # a calm start: nothing missed, failed or cut yet
    "Incidents open at this site": "thpt-a is calm until its link is cut",
    "Sites it cut (lost redundancy or isolated, with its link down)": "no outage yet",
    "Missed runs": "no run missed",
    "Outbox, by state": "no notification queued (no notifier routes a calm site)",
    "Notification failures": "no notification attempted",
}
# $__rate_interval and $__range as Grafana would set them for a short range
BUILT_IN = {"$__rate_interval": "30s", "$__range": "5m", "$__interval": "5s"}


def inventory(directory: Path) -> Path:
    """The lab's file in a session now (1 s cadence), with coordinates for the map and a
    second session in 30 minutes: its 60-minute readiness snapshot, already due, is
    taken at start (not ready: nothing known yet), so readiness is on the board."""
    now = datetime.now(UTC)
    later = now + timedelta(minutes=30)
    calendar = f"""[calendar]
during = {{ start = {local(now - timedelta(days=1))}, end = {local(now + timedelta(days=1))} }}

[[calendar.sessions]]
name = "Ngữ văn"
start = {local(now - timedelta(minutes=10))}
end = {local(now + timedelta(minutes=14))}

[[calendar.sessions]]
name = "Toán"
start = {local(later)}
end = {local(later + timedelta(hours=2))}
"""
    path = config_with(directory, calendar=calendar)
    text = path.read_text(encoding="utf-8")
    for i, site in enumerate(SITES):
        marker = f'[[sites]]\nid = "{site}"\n'
        assert marker in text, site
        text = text.replace(marker, f"{marker}coordinates = [21.8{i}, 106.7{i}]\n")
    path.write_text(text, encoding="utf-8")
    return path


def variables(instance: str) -> dict[str, str]:
    """Real values for the dashboards' variables (one site, district, carrier, link)."""
    return {"$datasource": "prometheus", "$district": "Thành phố Lạng Sơn", "$site": SITE,
            "$carrier": "viettel", "$link": "vt-fibre", "$instance": instance, **BUILT_IN}


def substitute(expression: str, values: dict[str, str]) -> str:
    for name in sorted(values, key=len, reverse=True):  # $__range before $__rate…
        expression = expression.replace(name, values[name])
    assert "$" not in expression.replace("$labels", ""), expression
    return expression


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def queries(values: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    """(dashboard, panel title, PromQL) for every target of every panel."""
    for path in DASHBOARDS:
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in panels(board):
            for target in panel["targets"]:
                yield path.stem, panel["title"], substitute(target["expr"], values)
        for annotation in board["annotations"]["list"]:
            if "expr" in annotation:
                yield path.stem, annotation["name"], substitute(annotation["expr"], values)


def variable_queries(values: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    """(dashboard, series selector, label) of every label_values() variable."""
    for path in DASHBOARDS:
        board = json.loads(path.read_text(encoding="utf-8"))
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                found = re.fullmatch(r"label_values\((.*), (\w+)\)", variable["query"]["query"])
                assert found, variable
                yield path.stem, substitute(found[1], values), found[2]


def recording_rules() -> list[str]:
    return [r["record"] for path in RULES for g in yaml.safe_load(path.read_text())["groups"]
            for r in g["rules"] if "record" in r]


def number(prometheus: Prometheus, expression: str) -> float | None:
    result = prometheus.query(expression)
    return float(result[0]["value"][1]) if result else None


def panel_query(title: str, values: dict[str, str]) -> str:
    [expression] = [q for board, t, q in queries(values) if board == "exam-day" and t == title]
    return expression


def firing(prometheus: Prometheus, alert: str, **labels: str) -> list[dict[str, Any]]:
    return [a for a in prometheus.alerts() if a["labels"]["alertname"] == alert
            and a["state"] == "firing" and all(a["labels"].get(k) == v for k, v in labels.items())]


def test_every_panel_and_rule_runs_on_a_live_examnet_and_follows_an_outage(
    tmp_path: Path, clean_lab: LabHandle,
) -> None:
    def impair(names: list[str]) -> None:
        for name in names:
            clean_lab.command("impair", name, "down")

    monitor = MonitorProcess(inventory(tmp_path), tmp_path / "examnet.db",
                             tmp_path / "examnet.log").start()
    try:
        instance = f"127.0.0.1:{monitor.port}"
        values = variables(instance)
        wait_for(lambda: all(monitor.state("site", site) == "ok" for site in SITES),
                 30, "every site ok")
        with run_prometheus([instance], rules=RULES) as prometheus:
            # rate() needs two scrapes, availability a few rule evaluations
            wait_for(lambda: number(prometheus, "count(examnet:link_availability:ratio_1h)")
                     == 6 and prometheus.query(
                         "rate(examnet_echo_rtt_seconds_count[30s]) > 0"),
                     40, "recording rules and rates with data")
            wait_for(lambda: prometheus.query("examnet_interface_bits_per_second"), 30,
                     "interface rates from two SNMP polls")
            assert number(prometheus, 'examnet_readiness_ready{session="Toán"}') == 0

            for record in recording_rules():
                assert prometheus.query(record), f"recording rule {record} has no series"
            for board, selector, label in variable_queries(values):
                found = {s["metric"].get(label) for s in prometheus.query(selector)}
                assert found - {None, ""}, f"{board}: no {label} in {selector}"
            empty = set()
            for _board, title, expression in queries(values):
                if not prometheus.query(expression):  # raises if Prometheus refuses it
                    empty.add(title)
            assert empty == set(EMPTY_HERE), (
                f"empty but should have data: {sorted(empty - set(EMPTY_HERE))}; "
                f"has data, move out of EMPTY_HERE: {sorted(set(EMPTY_HERE) - empty)}")

            lost = panel_query("Sites lost redundancy", values)
            isolated = panel_query("Sites isolated", values)
            down = panel_query("Links down, by carrier", values).replace(
                'carrier=~"viettel"', 'carrier=~".*"')
            assert (number(prometheus, lost), number(prometheus, isolated)) == (0, 0)

            # 1. one link down: its site loses redundancy, in a session
            impair(LINK_DOWN)
            all_sites = {**values, "$site": ".*"}
            lost = panel_query("Sites lost redundancy", all_sites)
            isolated = panel_query("Sites isolated", all_sites)
            wait_for(lambda: number(prometheus, lost) == 1, 30, "one site lost redundancy")
            by_carrier = {s["metric"]["carrier"]: float(s["value"][1])
                          for s in prometheus.query(down)}
            assert by_carrier == {"viettel": 0.0, "vnpt": 1.0}
            wait_for(lambda: firing(prometheus, "ExamSiteLostRedundancy", site=SITE), 20,
                     f"ExamSiteLostRedundancy firing for {SITE}")
            [at_site] = [q for board, t, q in queries(values)
                       if (board, t) == ("site", "Incidents open at this site")]
            assert "lost_redundancy" in {s["metric"]["kind"] for s in prometheus.query(at_site)}

            # 2. a whole site down: isolated, and the alert fires (critical: exam phase)
            impair(SITE_DOWN)
            wait_for(lambda: number(prometheus, isolated) == 1, 30, "one site isolated")
            [alert] = wait_for(lambda: firing(prometheus, "ExamSiteIsolated", site="thcs-b"),
                               20, "ExamSiteIsolated firing for thcs-b")
            assert alert["labels"]["severity"] == "critical"
            assert alert["labels"]["name"] == "THCS Cao Lộc"
            assert number(prometheus, lost) == 1
            # and nothing about examnet itself, not even pending: it is well
            active = {a["labels"]["alertname"] for a in prometheus.alerts()}
            assert active == {"ExamSiteIsolated", "ExamSiteLostRedundancy"}
    finally:
        monitor.stop()
