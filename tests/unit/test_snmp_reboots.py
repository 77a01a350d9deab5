"""A restarted agent is seen by the poller (names walked again) and by the rates (no
rate over it), whichever way it restarted (issue 9): boots incremented, a new
engine (boots from 1), or boots unchanged with the clock from zero."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.evaluation.counters import compare, reboot_reason
from monitor.model.inventory import Device, SnmpV2c, WatchedInterface
from monitor.model.secrets import Secret
from probes.snmp_plan import DeviceState, Reading, learn, rebooted
from probes.snmpdata import InterfaceReading, SnmpObservation

T0 = datetime(2027, 6, 3, tzinfo=UTC)


def state(uptime: int, boots: int, engine_time: int) -> DeviceState:
    return DeviceState(indices={"eth0": 3}, stale=False, uptime=uptime, boots=boots,
                       engine_time=engine_time)  # fmt: skip


def reading(uptime: int, boots: int | None, engine_time: int | None) -> Reading:
    return Reading(sys_uptime=uptime, engine_boots=boots, engine_time=engine_time)


def poll(at: float, uptime: int, boots: int | None, engine_time: int | None,
         octets: int) -> SnmpObservation:  # fmt: skip
    eth0 = InterfaceReading(3, "eth0", "eth0", 1, 1, octets, octets, 64, 0, 0, 0, 0, 100, 0)
    return SnmpObservation(
        device="device:a/router", address="10.0.0.1", started_at=T0, duration=0.01,
        received_at=at, sys_uptime=uptime, engine_boots=boots, engine_time=engine_time,
        interfaces=(eth0,),
    )  # fmt: skip


# (before: uptime, boots, engine time) -> (30 s later: ...), and the reason for the rates
RESTARTS = {
    "boots incremented": ((500_000, 4, 5_000), (1_000, 5, 10), "snmpEngineBoots went from 4 to 5"),
    "a new engine, boots from 1": (
        (500_000, 4, 5_000), (1_000, 1, 10), "snmpEngineBoots went back from 4 to 1 (a new engine)"
    ),
    "boots unchanged, clock from zero": (
        (500_000, 4, 5_000), (1_000, 4, 10),
        "snmpEngineTime went back from 5000 s to 10 s with snmpEngineBoots still 4",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", RESTARTS)
def test_it_sees_the_restart_and_gives_no_rate_over_it(case: str) -> None:
    before, after, reason = RESTARTS[case]
    delta = compare(poll(0.0, *before, octets=9_000_000), poll(30.0, *after, octets=1_000), {})
    assert delta.rebooted == reason
    assert [(r.in_bps, r.no_rate) for r in delta.interfaces] == [(None, "device rebooted")]


@pytest.mark.parametrize("case", RESTARTS)
def test_the_poller_walks_names_again_after_the_restart(case: str) -> None:
    before, after, _ = RESTARTS[case]
    device = Device(id="r", address="192.0.2.1", port=161, credentials=SnmpV2c(Secret("c")),
                    interfaces=(WatchedInterface("eth0", None, None),), site="a")  # fmt: skip
    known = state(*before)
    assert learn(device, known, reading(*after))
    assert known.stale
    assert (known.uptime, known.boots, known.engine_time) == after


def test_it_sees_a_restart_with_boots_unchanged_even_when_uptime_grew() -> None:
    """Polls far apart: the agent came back and has been up longer since."""
    assert rebooted(state(1_000, 4, 5_000), reading(2_000, 4, 20))


def test_it_sees_no_restart_while_the_engine_clock_goes_on() -> None:
    assert not rebooted(state(1_000, 4, 10), reading(4_000, 4, 40))
    assert not rebooted(state(1_000, 4, 10), reading(4_000, None, None))
    assert reboot_reason(poll(0.0, 1_000, 4, 10, 0), poll(30.0, 4_000, 4, 40, 0)) is None
