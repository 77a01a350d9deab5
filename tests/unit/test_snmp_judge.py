"""Congestion with sustain and hold, power from the UPS, device reachability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.evaluation.counters import InterfaceRates
from monitor.evaluation.snmp import (
    DeviceState,
    InterfaceState,
    judge_device,
    judge_interface,
    judge_power,
)
from monitor.model.inventory import Thresholds
from monitor.model.vocabulary import DeviceStatus, PowerStatus
from probes.snmpdata import UpsReading

T0 = datetime(2027, 6, 3, 0, 30, tzinfo=UTC)
LIMITS = Thresholds(utilisation_warn=0.8, congestion_sustain=60, congestion_hold=60,
                    power_low_minutes=15)


def rates(utilisation: float | None, oper_up: bool = True) -> InterfaceRates:
    bps = None if utilisation is None else utilisation * 10e6
    return InterfaceRates("eth1", 3, oper_up, 10e6, in_bps=bps, out_bps=0.0)


def run(*samples: float | None, every: int = 30) -> list[bool]:
    state = InterfaceState()
    seen = []
    for i, utilisation in enumerate(samples):
        end = T0 + timedelta(seconds=every * (i + 1))
        state = judge_interface(state, rates(utilisation), end - timedelta(seconds=every), end,
                                LIMITS)
        seen.append(state.congested)
    return seen


def test_it_calls_a_link_congested_only_after_the_sustain_time() -> None:
    # each sample covers the 30 s before it: two busy samples = 60 s over the limit
    assert run(0.5, 0.9, 0.9, 0.9) == [False, False, True, True]


def test_a_single_busy_interval_is_not_congestion() -> None:
    assert run(0.9, 0.5, 0.9, 0.5) == [False, False, False, False]


def test_it_clears_only_after_the_hold_time_below_the_limit() -> None:
    assert run(0.9, 0.9, 0.5, 0.9, 0.5, 0.5) == [False, True, True, True, True, False]


def test_an_interval_without_a_rate_changes_nothing_but_the_oper_status() -> None:
    state = InterfaceState(congested=True, utilisation=0.95)
    after = judge_interface(state, rates(None, oper_up=False), T0, T0 + timedelta(seconds=30),
                            LIMITS)
    assert after.congested
    assert after.oper_up is False


def test_it_reads_power_from_the_ups_as_rfc_1628_says() -> None:
    def ups(source: int, battery: int = 2, minutes: int | None = 40) -> UpsReading:
        return UpsReading(output_source=source, battery_status=battery, minutes_remaining=minutes,
                          seconds_on_battery=0, charge_percent=90, input_voltage=220.0)

    assert judge_power(ups(3), LIMITS).status is PowerStatus.MAINS
    on = judge_power(ups(5), LIMITS)
    assert (on.status, on.reason) == (PowerStatus.ON_BATTERY, "on battery: 40 minutes left")
    assert judge_power(ups(5, minutes=12), LIMITS).status is PowerStatus.POWER_LOW
    assert judge_power(ups(5, battery=3), LIMITS).status is PowerStatus.POWER_LOW
    assert judge_power(ups(4), LIMITS).status is PowerStatus.MAINS  # bypass: not on battery
    unknown = UpsReading(None, None, None, None, None, None)
    assert judge_power(unknown, LIMITS).status is PowerStatus.UNKNOWN


def test_it_calls_a_device_unreachable_after_k_failed_polls_and_up_at_once() -> None:
    state = DeviceState()
    state = judge_device(state, None, False, 2)
    assert state.status is DeviceStatus.UP
    state = judge_device(state, "no answer", True, 2)
    assert state.status is DeviceStatus.UP
    state = judge_device(state, "no answer", True, 2)
    assert (state.status, state.failed_polls) == (DeviceStatus.NO_ANSWER, 2)
    assert judge_device(DeviceState(), "authentication failed", False, 1).status is (
        DeviceStatus.REFUSED)
    assert judge_device(state, None, False, 2).status is DeviceStatus.UP
