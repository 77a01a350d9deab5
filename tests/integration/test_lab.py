"""`examnet lab` against the real kernel: namespaces, veths, tbf, nftables, and real pings.

Every ping goes from the root namespace to an address of the lab, and only
while the lab's route is present (tests.fixtures.lab refuses otherwise).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from examlab import build as lab_build
from examlab import state as lab_state
from monitor import labguard
from tests.fixtures.lab import (
    LAB_CONFIG,
    LabHandle,
    clean_lab_fixture,  # noqa: F401 - registers the `clean_lab` fixture
    lab_command,
    lab_fixture,  # noqa: F401 - registers the `lab` fixture
    load_lab,
    need_lab_programs,
    ping_text,
)

pytestmark = pytest.mark.lab

ENDPOINT = "vt-core"
LINK = "thpt-a/vt-fibre"
SAME_SITE_OTHER_CARRIER = "thpt-a/vnpt-fibre"
BEHIND_ENDPOINT = ("vt-core", "thpt-a/vt-fibre", "thpt-a/vt-4g", "thcs-b/vt-fibre")


def _own_lab(tmp_path: Path, prefix: str, second_octet: int) -> LabHandle:
    """A copy of the test lab under another prefix and network, for a whole life cycle."""
    text = LAB_CONFIG.read_text()
    text = text.replace('prefix = "ext"', f'prefix = "{prefix}"').replace(
        '"10.79.', f'"10.{second_octet}.'
    )
    path = tmp_path / "lab-sites.toml"
    path.write_text(text)
    path.chmod(0o644)
    return load_lab(path)


def _leftovers(handle: LabHandle) -> list[str]:
    prefix = f"{handle.plan.prefix}-"
    found = [f"netns {p.name}" for p in lab_build.NETNS_DIR.glob(f"{prefix}*")]
    found += [f"link {p.name}" for p in lab_build.SYS_NET.glob(f"{prefix}*")]
    if lab_state.StateStore(handle.plan.prefix).path.exists():
        found.append("state file")
    if labguard.routes_overlapping(handle.plan.network, ""):
        found.append(f"route to {handle.plan.network}")
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}


def test_it_refuses_to_run_without_root_and_says_so() -> None:
    need_lab_programs()
    done = lab_command("up", as_nobody=True, check=False, via_examnet=True)
    assert done.returncode == 1
    assert done.stderr.startswith("examnet lab needs root: ")
    assert "Traceback" not in done.stderr


def test_it_builds_is_idempotent_and_leaves_nothing_behind(tmp_path: Path) -> None:
    need_lab_programs()
    handle = _own_lab(tmp_path, "exu", 81)
    handle.command("down")
    assert not labguard.lab_route_present(handle.lab)
    try:
        first = handle.command("up", via_examnet=True)
        assert "is up" in first.stdout
        assert labguard.lab_route_present(handle.lab)
        state_file = lab_state.StateStore(handle.plan.prefix).path
        created = state_file.read_text()

        again = handle.command("up")
        assert "already up" in again.stdout
        assert state_file.read_text() == created
        assert all(r.received == r.sent for r in handle.fping().values())

        flood = handle.command("load", LINK, "--seconds", "60", "--rate", "1mbit")
        pid = int(flood.stdout.split()[2].rstrip(":"))
        assert _alive(pid)
    finally:
        handle.command("down", via_examnet=True)
    assert not _alive(pid)
    assert _leftovers(handle) == []
    assert not labguard.lab_route_present(handle.lab)


def test_the_shipped_sites_toml_builds_answers_and_leaves_nothing(tmp_path: Path) -> None:
    """The demo's own file (under a private prefix and network): endpoints that no
    link depends on, mobile BTS links, twelve sites."""
    need_lab_programs()
    shipped = (LAB_CONFIG.parents[2] / "sites.toml").read_text(encoding="utf-8")
    path = tmp_path / "sites.toml"
    path.write_text(
        shipped.replace('prefix = "exn"', 'prefix = "exw"').replace("10.77.", "10.83."),
        encoding="utf-8",
    )
    path.chmod(0o644)
    handle = load_lab(path)
    try:
        handle.command("up")
        results = handle.fping()
        assert len(results) == len(handle.inventory.targets())
        assert all(r.received == r.sent for r in results.values()), results
    finally:
        down = handle.command("down", check=False)
    assert down.returncode == 0, down.stderr
    assert _leftovers(handle) == []


def test_it_rebuilds_a_partial_lab_and_removes_one_whose_state_file_is_lost(
    tmp_path: Path,
) -> None:
    need_lab_programs()
    handle = _own_lab(tmp_path, "exv", 82)
    handle.command("down")
    try:
        handle.command("up")
        subprocess.run(["ip", "netns", "del", f"{handle.plan.prefix}-s2"], check=True)
        rebuilt = handle.command("up")
        assert "is up" in rebuilt.stdout
        assert all(r.received == r.sent for r in handle.fping().values())
        store = lab_state.StateStore(handle.plan.prefix)
        agents = [int(p.read_text().split()[0]) for p in store.agents_dir.glob("*/snmpd.pid")]
        assert agents
        store.path.unlink()
    finally:
        removed = handle.command("down")
    assert "removed" in removed.stdout
    assert _leftovers(handle) == []
    assert [pid for pid in agents if _alive(pid)] == []  # its snmpd agents too, found by pid file


def test_every_endpoint_and_link_answers_and_the_guard_sees_the_lab(
    clean_lab: LabHandle,
) -> None:
    need_lab_programs()
    results = clean_lab.fping()
    assert {a: r.received for a, r in results.items()} == {a: 3 for a in results}
    assert labguard.lab_route_present(clean_lab.lab)
    in_lab = labguard.targets_in_lab(clean_lab.inventory)
    assert len(in_lab) == len(clean_lab.inventory.targets()) == 9


def test_a_downed_link_fails_alone_with_host_unreachable_and_comes_back(
    clean_lab: LabHandle,
) -> None:
    need_lab_programs()
    down = clean_lab.address(LINK)
    clean_lab.command("impair", LINK, "down")
    results = clean_lab.fping(timeout_ms=300)
    assert results[down].received == 0
    assert all(r.received == r.sent for a, r in results.items() if a != down)
    # every echo is answered by a router, not swallowed: ICMP host unreachable each time
    text = ping_text(clean_lab.lab, down, count=10)
    assert "Destination Host Unreachable" in text
    assert "0 received, +10 errors" in text

    clean_lab.command("impair", LINK, "up")
    assert clean_lab.fping([down])[down].received == 3


def test_a_downed_endpoint_cuts_every_link_behind_it(clean_lab: LabHandle) -> None:
    need_lab_programs()
    behind = {clean_lab.address(t) for t in BEHIND_ENDPOINT}
    clean_lab.command("impair", ENDPOINT, "down")
    results = clean_lab.fping(timeout_ms=300)
    assert {a for a, r in results.items() if r.received == 0} == behind
    text = ping_text(clean_lab.lab, clean_lab.address(LINK), count=10)
    assert "0 received, +10 errors" in text

    clean_lab.command("impair", ENDPOINT, "up")
    assert all(r.received == r.sent for r in clean_lab.fping().values())


def test_a_rate_limited_link_under_load_delays_pings(clean_lab: LabHandle) -> None:
    need_lab_programs()
    address = clean_lab.address(LINK)
    idle = clean_lab.fping([address], count=5)[address]
    clean_lab.command("impair", LINK, "rate", "256kbit")
    clean_lab.command("load", LINK, "--seconds", "5", "--rate", "10mbit")
    time.sleep(0.5)  # let the queue fill
    loaded = clean_lab.fping([address], count=10, period_ms=200, timeout_ms=2000)[address]
    assert loaded.received >= 3
    assert (loaded.avg_ms or 0) > (idle.avg_ms or 0) + 30  # measured: ~0.1 ms -> ~320 ms

    clean_lab.command("impair", LINK, "clear")
    cleared = clean_lab.fping([address], count=5)[address]
    assert cleared.received == 5
    assert (cleared.avg_ms or 0) < 20


def test_loss_drops_a_visible_share_of_echoes_on_that_link_only(clean_lab: LabHandle) -> None:
    need_lab_programs()
    lossy, other = clean_lab.address(LINK), clean_lab.address(SAME_SITE_OTHER_CARRIER)
    clean_lab.command("impair", LINK, "loss", "50")
    results = clean_lab.fping([lossy, other], count=60, period_ms=10, timeout_ms=300)
    assert 0.2 <= results[lossy].loss <= 0.8
    assert results[other].loss == 0

    clean_lab.command("impair", LINK, "clear")
    assert clean_lab.fping([lossy], count=20, period_ms=10)[lossy].loss == 0


def test_status_shows_admin_state_and_impairments(clean_lab: LabHandle) -> None:
    need_lab_programs()
    clean_lab.command("impair", LINK, "rate", "256kbit")
    clean_lab.command("impair", LINK, "loss", "20")
    clean_lab.command("impair", ENDPOINT, "down")
    done = clean_lab.command("status")
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[3:]}
    assert "up (6/6 namespaces)" in done.stdout
    assert "present; probes leave from 10.79.255.1" in done.stdout
    assert rows[LINK][4:] == ["up", "256kbit", "20%"]
    assert rows[ENDPOINT][4:] == ["down", "-", "-"]


def test_an_unknown_target_is_named_with_known_ones(lab: LabHandle) -> None:
    need_lab_programs()
    done = lab.command("impair", "thpt-a/nope", "down", check=False)
    assert done.returncode == 2
    assert "unknown target 'thpt-a/nope'" in done.stderr
    assert LINK in done.stderr
