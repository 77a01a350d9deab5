"""The lab's SNMP agents: real net-snmp snmpd in the namespaces, polled with net-snmp's tools.

Every request goes from the root namespace to a device address inside the
lab (10.79.0.0/16), only while the lab's route is present (the fixtures
refuse otherwise), from the monitor's transit address: the one address the
agents' v2c communities accept.
"""

from __future__ import annotations

import json
import stat
import subprocess
import time
from pathlib import Path

import pytest

from examlab import state as lab_state
from examlab.environment import environment_path
from examlab.processes import is_running
from tests.fixtures.environment import need_programs
from tests.fixtures.lab import (
    LAB_CONFIG,
    LabHandle,
    check_routed,
    clean_lab_fixture,  # noqa: F401 - registers the `clean_lab` fixture
    lab_fixture,  # noqa: F401 - registers the `lab` fixture
    load_lab,
    need_lab_programs,
)
from tests.fixtures.monitor import wait_for

pytestmark = pytest.mark.lab

SYS_NAME = "1.3.6.1.2.1.1.5.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
ENGINE_BOOTS = "1.3.6.1.6.3.10.2.1.2.0"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
UPS_BATTERY_STATUS = "1.3.6.1.2.1.33.1.2.1.0"
UPS_MINUTES = "1.3.6.1.2.1.33.1.2.3.0"
UPS_INPUT_VOLTAGE = "1.3.6.1.2.1.33.1.3.3.1.3.1"
UPS_OUTPUT_SOURCE = "1.3.6.1.2.1.33.1.4.1.0"
CELL_LOAD = "1.3.6.1.4.1.55555.1.1.0"
UP, DOWN = "1", "2"  # ifOperStatus (RFC 2863); MIBS="" prints numbers
V2C_DEVICES = {
    "thpt-a/router": "10.79.1.1",
    "thpt-a/ups": "10.79.1.10",
    "thcs-c/router": "10.79.3.1",
    "vt-core/bts-controller": "10.79.0.1",
}
V3_DEVICE = "thcs-b/router"
SNMP_PROGRAMS = ("snmpd", "snmpget", "snmpbulkwalk")


def need_snmp() -> None:
    need_lab_programs()
    need_programs(*SNMP_PROGRAMS)


def snmp(
    lab: LabHandle, tool: str, key: str, options: list[str], oids: list[str], *, retries: int = 1
) -> subprocess.CompletedProcess[str]:
    """Run a net-snmp tool against a device of the lab, from the root namespace."""
    device = lab.device(key)
    check_routed(lab.lab, [device.address])
    agent = f"{device.address}:{device.port}"
    return subprocess.run(
        [tool, "-On", "-Oq", "-Ot", "-t", "1", "-r", str(retries), *options, agent, *oids],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def v2c(lab: LabHandle, tool: str, key: str, *oids: str) -> str:
    """`snmpget`/`snmpbulkwalk` of a v2c device: its output, or AssertionError with stderr."""
    community = lab.secrets()["EXAMNET_TEST_SNMP_COMMUNITY"]
    done = snmp(lab, tool, key, ["-v2c", "-c", community], list(oids))
    assert done.returncode == 0, done.stderr
    return done.stdout


def values(output: str) -> dict[str, str]:
    """`-On -Oq -Ot` lines: '.OID value' -> {OID: value} (quotes of strings removed)."""
    pairs = (line.split(" ", 1) for line in output.splitlines() if line.strip())
    return {oid.lstrip("."): value.strip().strip('"') for oid, value in pairs}


def get(lab: LabHandle, key: str, *oids: str) -> list[str]:
    found = values(v2c(lab, "snmpget", key, *oids))
    return [found[oid] for oid in oids]


def v3_get(lab: LabHandle, auth_key: str) -> subprocess.CompletedProcess[str]:
    priv_key = lab.secrets()["EXAMNET_TEST_SNMP_PRIV_KEY"]
    options = ["-v3", "-l", "authPriv", "-u", "examnet", "-a", "SHA-256", "-A", auth_key]
    options += ["-x", "AES", "-X", priv_key]
    return snmp(lab, "snmpget", V3_DEVICE, options, [SYS_NAME], retries=0)


def if_table(lab: LabHandle, key: str) -> dict[str, str]:
    """ifName -> ifOperStatus of a device, from two bulk walks."""
    names = values(v2c(lab, "snmpbulkwalk", key, IF_NAME))
    status = values(v2c(lab, "snmpbulkwalk", key, IF_OPER_STATUS))
    return {
        name: status[f"{IF_OPER_STATUS}.{oid.rsplit('.', 1)[1]}"] for oid, name in names.items()
    }


def test_every_device_answers_with_its_own_sys_name(lab: LabHandle) -> None:
    need_snmp()
    for key, address in V2C_DEVICES.items():
        assert lab.device(key).address == address
        assert get(lab, key, SYS_NAME) == [key]
    done = v3_get(lab, lab.secrets()["EXAMNET_TEST_SNMP_AUTH_KEY"])
    assert done.returncode == 0, done.stderr
    assert values(done.stdout)[SYS_NAME] == V3_DEVICE


def test_a_sites_router_reports_its_link_interfaces_by_name_and_up(lab: LabHandle) -> None:
    need_snmp()
    assert if_table(lab, "thpt-a/router") == {
        "lo": UP, "vt-fibre": UP, "vnpt-fibre": UP, "vt-4g": UP,
    }  # fmt: skip


def test_downing_the_site_side_of_a_link_shows_in_if_oper_status(clean_lab: LabHandle) -> None:
    need_snmp()
    link = "thpt-a/vt-4g"
    clean_lab.command("impair", link, "down", "--side", "site")
    # net-snmp refreshes its interface table every ~3 s
    wait_for(lambda: if_table(clean_lab, "thpt-a/router")["vt-4g"] == DOWN, 10, "down(2)")
    assert clean_lab.fping([clean_lab.address(link)], timeout_ms=300)["10.79.1.3"].received == 0

    clean_lab.command("impair", link, "up", "--side", "site")
    wait_for(lambda: if_table(clean_lab, "thpt-a/router")["vt-4g"] == UP, 10, "up(1)")
    assert clean_lab.fping([clean_lab.address(link)])["10.79.1.3"].received == 3  # routes back


def test_a_wrong_community_gets_no_answer_at_all(lab: LabHandle) -> None:
    need_snmp()
    done = snmp(lab, "snmpget", "thpt-a/router", ["-v2c", "-c", "wrong-one"], [SYS_NAME], retries=0)
    assert done.returncode != 0
    assert "Timeout: No Response" in done.stderr


def test_v3_answers_the_right_keys_and_refuses_a_wrong_auth_key(lab: LabHandle) -> None:
    need_snmp()
    wrong = v3_get(lab, "not-the-auth-key")
    assert wrong.returncode != 0
    assert "Authentication failure" in wrong.stderr
    right = lab.secrets()["EXAMNET_TEST_SNMP_AUTH_KEY"]
    assert right not in wrong.stderr + wrong.stdout


def test_a_ups_goes_on_battery_runs_down_and_back_to_mains(clean_lab: LabHandle) -> None:
    need_snmp()
    ups = "thpt-a/ups"
    oids = (UPS_OUTPUT_SOURCE, UPS_BATTERY_STATUS, UPS_INPUT_VOLTAGE)
    assert get(clean_lab, ups, *oids, UPS_MINUTES) == ["3", "2", "220", "40"]

    clean_lab.command("impair", "thpt-a", "power", "battery")
    assert get(clean_lab, ups, *oids) == ["5", "2", "0"]
    start = int(get(clean_lab, ups, UPS_MINUTES)[0])
    wait_for(lambda: int(get(clean_lab, ups, UPS_MINUTES)[0]) < start, 8, "minutes falling")

    clean_lab.command("impair", "thpt-a", "power", "low")
    source, status, minutes = get(
        clean_lab, ups, UPS_OUTPUT_SOURCE, UPS_BATTERY_STATUS, UPS_MINUTES
    )
    assert (source, status) == ("5", "3")
    assert int(minutes) <= 5

    clean_lab.command("impair", "thpt-a", "power", "mains")
    assert get(clean_lab, ups, *oids, UPS_MINUTES) == ["3", "2", "220", "40"]


def test_the_custom_oid_follows_cell_load(clean_lab: LabHandle) -> None:
    need_snmp()
    assert get(clean_lab, "vt-core/bts-controller", CELL_LOAD) == ["40"]  # warn 80 / 2
    clean_lab.command("impair", "vt-core", "cell-load", "97")
    assert get(clean_lab, "vt-core/bts-controller", CELL_LOAD) == ["97"]


def _poll_seconds(lab: LabHandle) -> float | None:
    """How long one GET of the router of thpt-a takes; None when it gets no answer."""
    community = lab.secrets()["EXAMNET_TEST_SNMP_COMMUNITY"]
    started = time.monotonic()
    done = snmp(lab, "snmpget", "thpt-a/router", ["-v2c", "-c", community], [SYS_NAME], retries=0)
    return time.monotonic() - started if done.returncode == 0 else None


def test_polls_queue_behind_a_flood_unless_snmp_is_protected(clean_lab: LabHandle) -> None:
    need_snmp()
    link = "thpt-a/vt-fibre"  # the router's own address is this link's
    clean_lab.command("impair", link, "rate", "512kbit")
    clean_lab.command("load", link, "--seconds", "3", "--rate", "5mbit")
    time.sleep(0.5)
    # behind tbf a request waits in the ~300 ms queue, or is dropped from it
    assert all(s is None or s > 0.15 for s in (_poll_seconds(clean_lab) for _ in range(2)))

    clean_lab.command("impair", link, "rate", "512kbit", "--protect-snmp")
    clean_lab.command("load", link, "--seconds", "3", "--rate", "5mbit")
    time.sleep(0.5)
    polls = [_poll_seconds(clean_lab) for _ in range(3)]
    assert all(s is not None and s < 0.1 for s in polls), polls
    address = clean_lab.address(link)
    pinged = clean_lab.fping([address], count=3, period_ms=100, timeout_ms=2000)[address]
    assert pinged.received == 0 or (pinged.avg_ms or 0) > 100  # pings still queue


def test_restarting_a_sites_agents_is_a_reboot_to_a_poller(clean_lab: LabHandle) -> None:
    need_snmp()
    router = "thcs-c/router"
    boots = int(get(clean_lab, router, ENGINE_BOOTS)[0])
    time.sleep(1.1)
    clean_lab.command("impair", "thcs-c", "snmp", "restart")
    uptime, after = get(clean_lab, router, SYS_UPTIME, ENGINE_BOOTS)
    assert int(after) == boots + 1
    assert int(uptime) < 100  # hundredths of a second since the restart
    clean_lab.command("impair", "thcs-c", "snmp", "stop")
    community = clean_lab.secrets()["EXAMNET_TEST_SNMP_COMMUNITY"]
    stopped = snmp(clean_lab, "snmpget", router, ["-v2c", "-c", community], [SYS_NAME], retries=0)
    assert "Timeout: No Response" in stopped.stderr


def _own_lab(tmp_path: Path) -> LabHandle:
    text = LAB_CONFIG.read_text().replace('prefix = "ext"', 'prefix = "exq"')
    path = tmp_path / "lab-sites.toml"
    path.write_text(text.replace('"10.79.', '"10.84.').replace("10.79.0.0/16", "10.84.0.0/16"))
    path.chmod(0o644)
    return load_lab(path)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_stay_in_private_files_and_down_leaves_no_agent(tmp_path: Path) -> None:
    need_snmp()
    handle = _own_lab(tmp_path)
    handle.command("down")
    store = lab_state.StateStore(handle.plan.prefix)
    try:
        handle.command("up")
        secrets = environment_path(handle.plan.prefix)
        assert _mode(secrets) == 0o600
        values_ = [v for _, v in (line.split("=", 1) for line in secrets.read_text().splitlines())]
        assert len(values_) == 3
        assert all(len(v) >= 16 for v in values_)
        state_text = store.path.read_text()
        assert not any(v in state_text for v in values_)
        confs = list(store.agents_dir.glob("*/snmpd.conf"))
        assert len(confs) == 5
        assert all(_mode(c) == 0o600 and _mode(c.parent) == 0o700 for c in confs)
        env = handle.command("env")
        assert sorted(env.stdout.split()) == sorted(
            ["export"] * 3 + [line for line in secrets.read_text().splitlines()]
        )
        agents = json.loads(state_text)["agents"]
        assert all(is_running(a["pid"], a["start_ticks"]) for a in agents)
    finally:
        handle.command("down")
    assert not any(is_running(a["pid"], a["start_ticks"]) for a in agents)
    assert not list(lab_state.STATE_DIR.glob(f"{handle.plan.prefix}*"))
