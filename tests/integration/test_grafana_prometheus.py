"""Every dashboard query and every rule, run by a real Prometheus on a real `examnet run`.

Three exam sites and their carriers' gateways live on loopback addresses
(tests.fixtures.inventories.province), probed during an exam session; site
s0 has a router, a real snmpd on 127.0.0.1 watching `lo`. A real
Prometheus scrapes examnet every second with the shipped rules loaded. Every
PromQL expression of every panel of every dashboard in
deploy/grafana/dashboards/ is run with its template variables set to real
values, and must be valid and (unless the panel is listed below with the
reason it is empty on this monitor) return series. Then an nftables rule in a
table of our own drops the echo requests to one link, and to a whole site:
the exam-day counts and the alert ExamSiteIsolated must follow.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.environment import need_programs, need_root
from tests.fixtures.inventories import province
from tests.fixtures.monitor import REPO, MonitorProcess, local, wait_for
from tests.fixtures.prometheus import Prometheus, run_prometheus
from tests.fixtures.snmpd import SnmpAgent, snmp_agent

__all__ = ["snmp_agent"]

DASHBOARDS = sorted((REPO / "deploy" / "grafana" / "dashboards").glob("*.json"))
RULES = sorted((REPO / "deploy" / "prometheus" / "rules").glob("*.yml"))
TABLE = "examnet_grafana_outage"  # ours alone: created and deleted by this test
SITES = 3
LINK_DOWN = ["127.1.0.1"]  # s0's Viettel link: s0 loses redundancy
SITE_DOWN = ["127.1.1.1", "127.1.1.2"]  # both links of s1: s1 isolated

# Panels with nothing to show on this monitor, and why; every other panel must
# return series. A panel here is still run and must be valid PromQL.
EMPTY_HERE = {
    # no UPS here (snmpd has no UPS-MIB without a pass script: tests/integration/
    # test_monitor_snmp.py polls one in the lab)
    "UPS on battery": "no UPS",
    "UPS minutes left": "no UPS",
    "Power state": "no UPS",
    # a calm start: nothing missed, failed or cut yet
    "Incidents open at this site": "s0 is calm until its link is cut",
    "Sites it cut (lost redundancy or isolated, with its link down)": "no outage yet",
    "Missed runs": "no run missed",
    "Outbox, by state": "no notification queued (no notifier routes a calm site)",
    "Notification failures": "no notification attempted",
}
# $__rate_interval and $__range as Grafana would set them for a short range
BUILT_IN = {"$__rate_interval": "30s", "$__range": "5m", "$__interval": "5s"}


def _nft(script: str) -> None:
    subprocess.run(["nft", "-f", "-"], input=script, text=True, check=True,
                   capture_output=True, timeout=10)


@pytest.fixture
def outage() -> Iterator[Callable[[list[str]], None]]:
    """outage([addresses]) drops echo requests to those loopback addresses; [] ends it."""
    need_root()
    need_programs("nft")
    subprocess.run(["nft", "delete", "table", "ip", TABLE], capture_output=True, check=False)
    _nft(f"add table ip {TABLE}\n"
         f"add chain ip {TABLE} out {{ type filter hook output priority 0 ; }}\n")

    def set_outage(addresses: list[str]) -> None:
        assert all(a.startswith("127.") for a in addresses)  # loopback only
        rule = (f"add rule ip {TABLE} out ip daddr {{ {', '.join(addresses)} }} "
                "icmp type echo-request drop\n") if addresses else ""
        _nft(f"flush chain ip {TABLE} out\n{rule}")

    try:
        yield set_outage
    finally:
        subprocess.run(["nft", "delete", "table", "ip", TABLE], capture_output=True, check=False)


def inventory(directory: Path, agent: SnmpAgent) -> Path:
    """province(3) without its leased site, probed every second, in a session now,
    with coordinates for the map, s0's router polled every 5 s, and a second
    session in 30 minutes: its 60-minute readiness snapshot, already due, is
    taken at start (not ready: nothing known yet), so readiness and a
    `not_ready` incident are on the board."""
    now = datetime.now(UTC)
    text = province(SITES)
    text = text[:text.index('\n[[sites]]\nid = "shared"')]  # its fake redundancy: not here
    head, _, rest = text.partition("[calendar]")
    rest = rest[rest.index("[probe]"):].replace(
        'interval = "10s"\nsession_interval = "10s"', 'interval = "1s"\nsession_interval = "1s"')
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
    router = f"""
[[sites.devices]]
id = "router"
address = "{agent.address}"
port = {agent.port}
snmp = {{ version = "2c", community = "{agent.community}" }}
interfaces = [{{ name = "lo", capacity = "10Mbit" }}]
"""
    rest = rest.replace('\n[[sites]]\nid = "s1"', router + '\n[[sites]]\nid = "s1"')
    rest = rest.replace("[[carriers]]", '[snmp]\ninterval = "5s"\nsession_interval = "5s"\n\n'
                        "[[carriers]]", 1)
    for i in range(SITES):
        rest = rest.replace(f'id = "s{i}"\nname = "THPT {i}"\ndistrict = "Cao Lộc"\n',
                            f'id = "s{i}"\nname = "THPT {i}"\ndistrict = "Cao Lộc"\n'
                            f"coordinates = [21.8{i}, 106.7{i}]\n")
    path = directory / "sites.toml"
    path.write_text(head + calendar + rest, encoding="utf-8")
    return path


def variables(instance: str) -> dict[str, str]:
    """Real values for the dashboards' variables (one site, district, carrier, link)."""
    return {"$datasource": "prometheus", "$district": "Cao Lộc", "$site": "s0",
            "$carrier": "viettel", "$link": "vt", "$instance": instance, **BUILT_IN}


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
    tmp_path: Path, outage: Callable[[list[str]], None], snmp_agent: SnmpAgent,
) -> None:
    monitor = MonitorProcess(inventory(tmp_path, snmp_agent), tmp_path / "examnet.db",
                             tmp_path / "examnet.log").start()
    try:
        instance = f"127.0.0.1:{monitor.port}"
        values = variables(instance)
        wait_for(lambda: all(monitor.state("site", f"s{i}") == "ok" for i in range(SITES)),
                 30, "every site ok")
        with run_prometheus([instance], rules=RULES) as prometheus:
            # rate() needs two scrapes, availability a few rule evaluations
            wait_for(lambda: number(prometheus, "count(examnet:link_availability:ratio_1h)")
                     == 2 * SITES and prometheus.query(
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
            outage(LINK_DOWN)
            all_sites = {**values, "$site": ".*"}
            lost = panel_query("Sites lost redundancy", all_sites)
            isolated = panel_query("Sites isolated", all_sites)
            wait_for(lambda: number(prometheus, lost) == 1, 30, "one site lost redundancy")
            by_carrier = {s["metric"]["carrier"]: float(s["value"][1])
                          for s in prometheus.query(down)}
            assert by_carrier == {"viettel": 1.0, "vnpt": 0.0}
            wait_for(lambda: firing(prometheus, "ExamSiteLostRedundancy", site="s0"), 20,
                     "ExamSiteLostRedundancy firing for s0")
            [at_s0] = [q for board, t, q in queries(values)
                       if (board, t) == ("site", "Incidents open at this site")]
            assert "lost_redundancy" in {s["metric"]["kind"] for s in prometheus.query(at_s0)}

            # 2. a whole site down: isolated, and the alert fires (critical: exam phase)
            outage(LINK_DOWN + SITE_DOWN)
            wait_for(lambda: number(prometheus, isolated) == 1, 30, "one site isolated")
            [alert] = wait_for(lambda: firing(prometheus, "ExamSiteIsolated", site="s1"), 20,
                               "ExamSiteIsolated firing for s1")
            assert alert["labels"]["severity"] == "critical"
            assert alert["labels"]["name"] == "THPT 1"
            assert number(prometheus, lost) == 1
            # and nothing about examnet itself, not even pending: it is well
            active = {a["labels"]["alertname"] for a in prometheus.alerts()}
            assert active == {"ExamSiteIsolated", "ExamSiteLostRedundancy"}
    finally:
        monitor.stop()
