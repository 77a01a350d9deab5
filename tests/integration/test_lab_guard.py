"""Lab addresses never leave the machine: not at start, not when the lab goes away.

A kernel counter (nftables, output hook of the root namespace) counts every
packet towards the lab network: the proof is what the kernel saw, not what
examnet says it did.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from monitor.config import referenced_variables
from monitor.labguard import lab_route_present
from tests.fixtures.lab import lab_command, load_lab, need_lab_programs
from tests.fixtures.monitor import REPO, MonitorProcess, config_with, wait_for

pytestmark = pytest.mark.lab

NETWORK = "10.86.0.0/16"
LAB = f'[lab]\nnetwork = "{NETWORK}"\nprefix = "exg"\n'
TABLE = "examnet_guard_test"


def _addresses(text: str) -> str:
    """The lab file's addresses moved from 10.79/16 into this test's network."""
    return text.replace("10.79.", "10.86.")


@pytest.fixture
def guard_config(tmp_path: Path) -> Path:
    need_lab_programs()
    path = config_with(tmp_path, lab=LAB)
    path.write_text(_addresses(path.read_text()))
    return path


@pytest.fixture
def packets_to_lab() -> Iterator[Callable[[], int]]:
    """Count packets leaving the root namespace towards the guard lab's network."""
    script = (f"add table inet {TABLE}\n"
              f"add chain inet {TABLE} out {{ type filter hook output priority 0 ; }}\n"
              f"add rule inet {TABLE} out ip daddr {NETWORK} counter\n")
    subprocess.run(["nft", "-f", "-"], input=script, text=True, check=True)

    def count() -> int:
        listing = subprocess.run(["nft", "list", "table", "inet", TABLE], capture_output=True,
                                 text=True, check=True).stdout
        found = re.search(r"counter packets (\d+)", listing)
        assert found is not None, listing
        return int(found.group(1))

    try:
        yield count
    finally:
        subprocess.run(["nft", "delete", "table", "inet", TABLE], check=False)


def test_it_refuses_to_start_when_lab_targets_have_no_lab(
    guard_config: Path, packets_to_lab: Callable[[], int], tmp_path: Path
) -> None:
    assert not lab_route_present(load_lab(guard_config).lab)
    # the file's SNMP secrets are set, so only the missing lab can stop it
    secrets = {name: "not-a-real-secret" for name in referenced_variables(guard_config)}
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--config", str(guard_config),
         "--db", str(tmp_path / "db.sqlite"), "--listen", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False,
        env={**os.environ, **secrets},
    )
    assert done.returncode == 2
    assert "refusing to start" in done.stderr
    assert f"lie in the lab network {NETWORK}, but the lab is not up" in done.stderr
    assert packets_to_lab() == 0


def test_it_stops_probing_lab_addresses_the_moment_the_lab_goes_down(
    guard_config: Path, packets_to_lab: Callable[[], int], tmp_path: Path
) -> None:
    lab_command("up", config_file=guard_config)
    monitor = MonitorProcess(guard_config, tmp_path / "db.sqlite", tmp_path / "log")
    try:
        monitor.start()
        wait_for(lambda: monitor.state("site", "thpt-a") == "ok", 30, "the site ok")
        assert packets_to_lab() > 0  # the counter does count the monitor's echoes
        lab_command("down", config_file=guard_config)
        after_down = packets_to_lab()
        wait_for(lambda: "lab route gone" in monitor.log(), 20, "the guard noticing")
        wait_for(lambda: monitor.state("target", "link:thpt-a/vt-fibre") == "unknown", 30,
                 "the link unknown, not down")
        # The sockets are bound to the lab's interface: with it gone, not one
        # more request leaves, not even the rest of a round already in flight.
        assert packets_to_lab() == after_down
        wait_for(lambda: len(monitor.rounds("link:thpt-a/vt-fibre")) > 0, 5, "rounds")
        before = packets_to_lab()
        monitor_rounds = len(monitor.rounds())
        wait_for(lambda: len(monitor.rounds()) > monitor_rounds + 8, 20, "more rounds")
        assert packets_to_lab() == before
        errors = {r.error for r in monitor.rounds() if r.error}
        assert "not probed: the lab is down and its addresses would leave this machine" in errors
        # rounds begun before the guard noticed failed at the kernel, never sent
        assert errors <= {
            "not probed: the lab is down and its addresses would leave this machine",
            "cannot bind ICMP sockets to interface exg-mon: No such device",
        }, errors
    finally:
        assert monitor.stop() == 0
        lab_command("down", config_file=guard_config, check=False)


def test_the_demo_brings_its_lab_up_and_takes_it_down_again(
    guard_config: Path, tmp_path: Path
) -> None:
    """`examnet run --lab`, the README's demo command, on its own lab."""
    monitor = MonitorProcess(guard_config, tmp_path / "db.sqlite", tmp_path / "log",
                             extra=("--lab",))
    try:
        monitor.start()
        assert lab_route_present(load_lab(guard_config).lab)
        wait_for(lambda: monitor.state("site", "thpt-a") == "ok", 30, "the site ok")
    finally:
        assert monitor.stop() == 0
    assert not lab_route_present(load_lab(guard_config).lab)
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                check=True).stdout
    assert "exg-" not in namespaces


def test_a_lab_file_without_its_secrets_says_where_lab_secrets_come_from(
    guard_config: Path, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--config", str(guard_config),
         "--db", str(tmp_path / "db.sqlite")],
        capture_output=True, text=True, timeout=60, cwd=REPO, check=False,
    )
    assert done.returncode == 2
    assert 'environment variable "EXAMNET_TEST_SNMP_COMMUNITY" is not set' in done.stderr
    assert "examnet lab up generates lab-only values" in done.stderr
