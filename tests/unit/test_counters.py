"""Rates between two polls: wraps, resets, discontinuities, reboots, missing counters."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from monitor.evaluation.counters import compare, counter_delta, reboot_reason
from probes.snmpdata import InterfaceReading, SnmpObservation

T0 = datetime(2027, 6, 3, tzinfo=UTC)
MBIT = 1_000_000.0


def reading(in_octets: int | None, out_octets: int | None = 0, *, bits: int = 64,
            oper: int = 1, speed: int | None = 10000, discontinuity: int | None = 0,
            errors: int = 0, index: int = 3, name: str = "eth1") -> InterfaceReading:
    return InterfaceReading(
        index=index, configured=name, name=name, oper_status=oper, admin_status=1,
        in_octets=in_octets, out_octets=out_octets, counter_bits=bits, in_errors=errors,
        out_errors=0, in_discards=0, out_discards=0, high_speed_mbps=speed,
        discontinuity=discontinuity)


def poll(at: float, uptime: int | None, *interfaces: InterfaceReading, boots: int | None = 1,
         engine_time: int | None = None) -> SnmpObservation:
    return SnmpObservation(
        device="device:a/router", address="10.0.0.1", started_at=T0, duration=0.01,
        received_at=at, sys_uptime=uptime, engine_boots=boots,
        engine_time=engine_time if engine_time is not None else (uptime or 0) // 100,
        interfaces=interfaces)


def test_it_computes_bits_per_second_and_utilisation_of_the_configured_capacity() -> None:
    # 30 s apart by both clocks; 7.5 MB in = 2 Mbit/s on a 4 Mbit/s link
    delta = compare(poll(100.0, 100_000, reading(1_000_000, 0)),
                    poll(130.0, 103_000, reading(8_500_000, 3_750_000)),
                    {"eth1": 4 * MBIT})
    [rates] = delta.interfaces
    assert rates.in_bps == pytest.approx(2 * MBIT)
    assert rates.out_bps == pytest.approx(1 * MBIT)
    assert rates.utilisation_in == pytest.approx(0.5)
    assert rates.utilisation == pytest.approx(0.5)
    assert rates.no_rate is None
    assert delta.rebooted is None


def test_it_falls_back_to_if_high_speed_and_gives_no_utilisation_without_any_speed() -> None:
    before, now = poll(0.0, 0, reading(0, speed=10)), poll(10.0, 1000, reading(1_250_000, speed=10))
    [rates] = compare(before, now, {}).interfaces
    assert rates.capacity_bps == 10 * MBIT
    assert rates.utilisation_in == pytest.approx(0.1)
    zero = compare(poll(0.0, 0, reading(0, speed=0)), poll(10.0, 1000, reading(1000, speed=0)), {})
    assert zero.interfaces[0].in_bps == pytest.approx(800.0)
    assert zero.interfaces[0].utilisation is None
    unknown = compare(poll(0.0, 0, reading(0, speed=None)),
                      poll(10.0, 1000, reading(1000, speed=None)), {})
    assert unknown.interfaces[0].utilisation is None


def test_it_handles_a_32_bit_counter_wrap_on_a_busy_link() -> None:
    near_top = 2**32 - 1_000_000
    [rates] = compare(poll(0.0, 0, reading(near_top, 0, bits=32)),
                      poll(10.0, 1000, reading(250_000, 0, bits=32)),
                      {"eth1": 10 * MBIT}).interfaces
    assert rates.in_bps == pytest.approx((1_000_000 + 250_000) * 8 / 10)


def test_it_gives_no_rate_when_a_32_bit_counter_was_reset_not_wrapped() -> None:
    # a wrap would mean 3.4 Gbit/s on a 10 Mbit/s link: it was a reset
    [rates] = compare(poll(0.0, 0, reading(5_000_000, 0, bits=32)),
                      poll(10.0, 1000, reading(1_000, 0, bits=32)),
                      {"eth1": 10 * MBIT}).interfaces
    assert rates.in_bps is None
    assert rates.no_rate == "counter went backwards (reset)"


def test_it_gives_no_rate_when_a_64_bit_counter_goes_backwards() -> None:
    [rates] = compare(poll(0.0, 0, reading(9_000_000)), poll(10.0, 1000, reading(10)),
                      {}).interfaces
    assert (rates.in_bps, rates.no_rate) == (None, "counter went backwards (reset)")


def test_it_gives_no_rate_across_a_counter_discontinuity() -> None:
    [rates] = compare(poll(0.0, 0, reading(0, discontinuity=0)),
                      poll(10.0, 1000, reading(999_999, discontinuity=900)), {}).interfaces
    assert rates.in_bps is None
    assert rates.no_rate == "counter discontinuity (ifCounterDiscontinuityTime changed)"


def test_it_gives_no_rate_when_hc_counters_vanish_and_32_bit_ones_take_over() -> None:
    [rates] = compare(poll(0.0, 0, reading(10**12)), poll(10.0, 1000, reading(5, bits=32)),
                      {}).interfaces
    assert (rates.in_bps, rates.no_rate) == (None, "counters changed width")


def test_it_gives_no_rate_on_the_first_poll_or_when_a_counter_is_missing() -> None:
    assert compare(None, poll(0.0, 0, reading(5)), {}).interfaces[0].no_rate == "first poll"
    [rates] = compare(poll(0.0, 0, reading(None)), poll(10.0, 1000, reading(5)), {}).interfaces
    assert (rates.in_bps, rates.no_rate) == (None, "counter missing")


def test_it_sees_a_reboot_and_gives_no_rate_over_it() -> None:
    delta = compare(poll(0.0, 500_000, reading(9_000_000), boots=4),
                    poll(30.0, 2_000, reading(1_000), boots=5), {})
    assert delta.rebooted == "snmpEngineBoots went from 4 to 5"
    assert delta.interfaces[0].no_rate == "device rebooted"
    assert delta.interfaces[0].in_bps is None


def test_it_does_not_call_the_497_day_timeticks_wrap_a_reboot() -> None:
    top = 2**32 - 1_000  # 10 s before the wrap
    before = poll(0.0, top, reading(0), boots=7, engine_time=42_949_662)
    after = poll(30.0, 2_000, reading(3_750_000), boots=7, engine_time=42_949_692)
    delta = compare(before, after, {"eth1": 4 * MBIT})
    assert delta.rebooted is None
    assert delta.uptime_wrapped
    assert delta.seconds == pytest.approx(30.0)
    assert delta.interfaces[0].in_bps == pytest.approx(1 * MBIT)


def test_it_tells_wrap_from_reboot_by_the_size_of_the_step_without_engine_time() -> None:
    wrap = reboot_reason(poll(0.0, 2**32 - 1_000, boots=None),
                         poll(30.0, 2_000, boots=None))
    assert wrap is None
    reboot = reboot_reason(poll(0.0, 300_000_000, boots=None), poll(30.0, 2_000, boots=None))
    assert reboot == "sysUpTime went back from 3000000 s to 20 s"


def test_it_uses_our_clock_when_the_device_clock_disagrees() -> None:
    # the agent claims 300 s passed in 30 s of ours: trust ours
    delta = compare(poll(0.0, 0, reading(0)), poll(30.0, 30_000, reading(3_750_000)), {})
    assert delta.seconds == pytest.approx(30.0)


def test_counter_delta_rules() -> None:
    assert counter_delta(10, 25, 64, None) == (15, None)
    assert counter_delta(None, 25, 64, None) == (None, "counter missing")
    assert counter_delta(2**32 - 5, 5, 32, None) == (10, None)
    assert counter_delta(2**31, 5, 32, None)[0] is None  # a wrap of more than half: reset


def test_errors_per_second_add_both_directions() -> None:
    before = poll(0.0, 0, reading(0, errors=10))
    now = poll(10.0, 1000, replace(reading(0, errors=40), out_errors=20))
    assert compare(before, now, {}).interfaces[0].errors_per_s == pytest.approx(5.0)
