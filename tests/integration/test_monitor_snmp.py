"""`examnet run` polling real net-snmp agents in the lab (issue 3's acceptance).

Routers, a UPS and a BTS controller are real `snmpd` processes inside the
lab's namespaces: IF-MIB shows the real veth interfaces and their counters.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from examlab.environment import lab_environment
from monitor.model.records import DeviceEvent, InterfaceSample, PollRecord, PowerSample
from tests.fixtures.environment import need_programs
from tests.fixtures.lab import LabHandle
from tests.fixtures.monitor import REPO, MonitorProcess, wait_for

pytestmark = pytest.mark.lab

POLL = 6.0  # the lab file's SNMP interval
ROUTER_A = "device:thpt-a/router"  # v2c, reached over thpt-a/vt-fibre (2 Mbit/s)
ROUTER_B = "device:thcs-b/router"  # SNMPv3 authPriv
UPS_A = "device:thpt-a/ups"
ALL_DEVICES = {ROUTER_A, UPS_A, ROUTER_B, "device:thcs-c/router", "device:vt-core/bts-controller"}


@pytest.fixture(scope="module")
def monitor(lab: LabHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MonitorProcess]:
    need_programs("snmpd")
    directory = tmp_path_factory.mktemp("snmp-monitor")
    running = MonitorProcess(lab.config_file, directory / "db.sqlite", directory / "log").start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def polled(monitor: MonitorProcess, clean_lab: LabHandle) -> MonitorProcess:
    """The module's monitor, every device answering, the lab's faults undone after."""
    wait_for(lambda: all(monitor.state("device", d) == "up" for d in ALL_DEVICES), 60,
             "every device answering")
    return monitor


def test_it_polls_v2c_and_v3_devices_and_exports_what_they_say(polled: MonitorProcess) -> None:
    samples = polled.records(InterfaceSample, ROUTER_B)  # v3 authPriv
    assert {s.interface for s in samples} == {"vt-fibre", "vnpt-copper"}
    assert all(s.oper_status == 1 for s in samples)
    wait_for(lambda: any(s.in_bps is not None for s in polled.records(InterfaceSample, ROUTER_A)),
             3 * POLL, "a rate on the v2c router")
    assert polled.sample("examnet_device_up", device=ROUTER_A) == 1.0
    assert polled.sample("examnet_device_up", device=ROUTER_B) == 1.0
    assert polled.sample("examnet_interface_oper_up", device=ROUTER_A, interface="vt-4g",
                         link="link:thpt-a/vt-4g") == 1.0
    assert polled.sample("examnet_device_value", device="device:vt-core/bts-controller",
                         name="cell_load", unit="%") == 40.0
    assert (polled.sample("examnet_device_uptime_seconds", device=ROUTER_A) or 0) > 0
    polls = polled.records(PollRecord, ROUTER_A)
    assert polls[-1].requests == 1  # names resolved once; later polls are one GET


def test_a_site_side_interface_down_makes_the_link_down_within_one_poll(
    polled: MonitorProcess, clean_lab: LabHandle
) -> None:
    cut = datetime.now(UTC)
    clean_lab.command("impair", "thpt-a/vt-4g", "down", "--side", "site")

    def oper_down() -> InterfaceSample | None:
        return next((s for s in polled.records(InterfaceSample, ROUTER_A)
                     if s.interface == "vt-4g" and s.started_at > cut and s.oper_status == 2),
                    None)

    sample = wait_for(oper_down, 4 * POLL, "ifOperStatus down(2)")
    # net-snmp refreshes ifOperStatus within ~3 s; one poll interval after that
    assert (sample.started_at - cut).total_seconds() <= POLL + 4
    down = wait_for(lambda: next((c for c in polled.changes("link:thpt-a/vt-4g")
                                  if c.state == "down" and c.at > cut), None), 20, "link DOWN")
    assert (down.at - cut).total_seconds() <= POLL + 4
    assert polled.sample("examnet_interface_oper_up", device=ROUTER_A, interface="vt-4g",
                         link="link:thpt-a/vt-4g") == 0.0
    clean_lab.command("impair", "thpt-a/vt-4g", "up", "--side", "site")
    wait_for(lambda: polled.state("target", "link:thpt-a/vt-4g") == "up", 4 * POLL, "link up")


def test_a_saturated_link_is_measured_at_its_real_rate_and_congested_then_clears(
    polled: MonitorProcess, clean_lab: LabHandle
) -> None:
    link = "link:thpt-a/vt-fibre"
    # 2 Mbit/s shaping; management traffic keeps its own class, so polls go through
    clean_lab.command("impair", "thpt-a/vt-fibre", "rate", "2mbit", "--protect-snmp")
    start = datetime.now(UTC)
    clean_lab.command("load", "thpt-a/vt-fibre", "--seconds", "30", "--rate", "10mbit")
    congested = wait_for(lambda: next((i for i in polled.incidents(subject=link, kind="congested")
                                       if i.started_at > start), None),
                         40, "a congested incident")
    assert congested.reason.startswith("interface vt-fibre at ")
    assert congested.carrier == "viettel"
    # sustain 12 s, polls every 6 s: no sooner than 12 s, within two more polls
    assert 12 <= (congested.started_at - start).total_seconds() <= 12 + 3 * POLL
    steady = [s for s in polled.records(InterfaceSample, ROUTER_A)
              if s.interface == "vt-fibre" and s.started_at > start + timedelta(seconds=8)
              and s.in_bps is not None]
    assert steady
    for s in steady:  # the real rate is the 2 Mbit/s shaper (counters include headers)
        assert 0.85 * 2e6 <= s.in_bps <= 1.15 * 2e6, s
        assert s.utilisation_in == pytest.approx(s.in_bps / 2e6)
    assert polled.state("site", "thpt-a") == "degraded"
    # the flood ends after 30 s; 12 s under the threshold clears it
    cleared = wait_for(lambda: next((i for i in polled.incidents(subject=link, kind="congested")
                                     if i.started_at == congested.started_at and i.ended_at),
                                    None), 60, "congestion cleared")
    assert cleared.ended_at is not None
    assert (cleared.ended_at - start).total_seconds() >= 30 + 12 - POLL
    assert cleared.worst_utilisation is not None
    assert cleared.worst_utilisation >= 0.85
    wait_for(lambda: polled.state("site", "thpt-a") == "ok", 20, "site ok again")


def test_an_agent_restart_is_a_reboot_with_no_bogus_rate(
    polled: MonitorProcess, clean_lab: LabHandle
) -> None:
    wait_for(lambda: any(s.in_bps is not None for s in polled.records(InterfaceSample, ROUTER_A)),
             3 * POLL, "a rate before the restart")
    cut = datetime.now(UTC)
    clean_lab.command("impair", "thpt-a", "snmp", "restart")
    event = wait_for(lambda: next((e for e in polled.records(DeviceEvent, ROUTER_A)
                                   if e.kind == "reboot" and e.at > cut), None),
                     4 * POLL, "a reboot event")
    assert "snmpEngineBoots went from" in event.detail
    at_reboot = [s for s in polled.records(InterfaceSample, ROUTER_A) if s.started_at == event.at]
    assert at_reboot
    assert all(s.in_bps is None and s.no_rate == "device rebooted" for s in at_reboot)
    capacities = {"vt-fibre": 2e6, "vnpt-fibre": 100e6, "vt-4g": 30e6}
    for s in polled.records(InterfaceSample, ROUTER_A):
        if s.in_bps is not None:
            assert s.in_bps <= 1.2 * capacities[s.interface], s
    assert polled.sample("examnet_device_reboots_total", device=ROUTER_A) >= 1
    assert "device device:thpt-a/router rebooted" in polled.log()


def test_a_ups_on_battery_sets_the_sites_power_state_and_minutes_left(
    polled: MonitorProcess, clean_lab: LabHandle
) -> None:
    cut = datetime.now(UTC)
    clean_lab.command("impair", "thpt-a", "power", "battery")
    wait_for(lambda: polled.state("power", "thpt-a") == "on_battery", 3 * POLL, "on battery")
    samples = wait_for(lambda: [s for s in polled.records(PowerSample, UPS_A)
                                if s.started_at > cut and s.on_battery] or None, 10, "samples")
    assert samples[-1].minutes_remaining is not None
    assert samples[-1].minutes_remaining <= 40
    assert polled.sample("examnet_ups_on_battery", device=UPS_A, owner="thpt-a") == 1.0
    minutes = polled.sample("examnet_ups_minutes_remaining", device=UPS_A, owner="thpt-a")
    assert minutes is not None
    assert 0 < minutes <= 40
    assert polled.sample("examnet_power_state", owner="thpt-a", state="on_battery") == 1.0
    clean_lab.command("impair", "thpt-a", "power", "low")
    wait_for(lambda: polled.state("power", "thpt-a") == "power_low", 3 * POLL, "power low")
    clean_lab.command("impair", "thpt-a", "power", "mains")
    wait_for(lambda: polled.state("power", "thpt-a") == "mains", 3 * POLL, "back on mains")
    assert "power at THPT Việt Bắc is ON_BATTERY (was mains): on battery" in polled.log()


def test_wrong_credentials_are_named_plainly_and_no_secret_leaks(
    lab: LabHandle, tmp_path: Path
) -> None:
    need_programs("snmpd")
    real = lab_environment(lab.plan.prefix)
    wrong = {"EXAMNET_TEST_SNMP_COMMUNITY": "wrong-community-4711",
             "EXAMNET_TEST_SNMP_AUTH_KEY": "wrong-auth-key-4711"}
    monitor = MonitorProcess(lab.config_file, tmp_path / "db.sqlite", tmp_path / "log",
                             env=wrong).start()
    try:
        wait_for(lambda: monitor.state("device", ROUTER_B) == "refused"
                 and monitor.state("device", ROUTER_A) == "no_answer", 60,
                 "both devices judged")
        metrics = monitor.metrics_text()
    finally:
        monitor.stop()
    [v2c] = {p.error for p in monitor.records(PollRecord, ROUTER_A)}
    [v3] = {p.error for p in monitor.records(PollRecord, ROUTER_B)}
    assert v2c == "no answer (wrong community or device down)"
    assert v3 == "authentication failed (wrong auth key?)"
    status = subprocess.run(
        [sys.executable, "-m", "monitor", "status", "--config", str(lab.config_file),
         "--db", str(tmp_path / "db.sqlite")],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=True,
        env={**os.environ, **wrong}).stdout
    assert "timeout" in status
    assert "auth" in status
    everything = "\n".join([
        monitor.log(), metrics, status,
        *(c.reason for c in monitor.changes()),
        *(p.error or "" for p in monitor.records(PollRecord)),
        *(path.read_bytes().decode(errors="replace") for path in tmp_path.glob("db.sqlite*")),
    ])
    for secret in [*wrong.values(), *real.values()]:
        assert secret not in everything
