"""Rates from two SNMP polls: pure, and careful about what counters can do.

A rate is only given when both polls measured the same, uninterrupted
counter. Otherwise the interval gives *no* rate and says why, never a huge
or negative one: the device rebooted, a counter was reset or went
backwards, ifCounterDiscontinuityTime changed (RFC 2863 3.1.5), the
interface switched between 64- and 32-bit counters. A 32-bit counter that
went backwards wrapped only if the wrapped delta is plausible for the link.

sysUpTime is 32-bit TimeTicks: it wraps after ~497 days, which is not a
reboot. snmpEngineBoots (RFC 3414) tells them apart; without it, the size of
the step does. snmpEngineTime only grows within one boot: going back under
the same snmpEngineBoots, it shows an agent that restarted without keeping
its boot count, or a new engine (a replaced device) that started from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from probes.snmpdata import InterfaceReading, OperStatus, SnmpObservation

TIMETICKS = 2**32  # sysUpTime, in hundredths of a second (RFC 2578)
WRAP_SLACK = 1.2  # a wrapped 32-bit delta may exceed capacity by header overheads
CLOCK_AGREEMENT = 0.25  # device uptime delta trusted within 25 % of our own clock


@dataclass(frozen=True, slots=True)
class InterfaceRates:
    """One interval of one watched interface."""

    configured: str  # as sites.toml names it ("eth1", "#3")
    index: int
    oper_up: bool | None
    capacity_bps: float | None
    in_bps: float | None = None
    out_bps: float | None = None
    errors_per_s: float | None = None
    discards_per_s: float | None = None
    no_rate: str | None = None  # why there is no rate for this interval

    @property
    def utilisation_in(self) -> float | None:
        return _ratio(self.in_bps, self.capacity_bps)

    @property
    def utilisation_out(self) -> float | None:
        return _ratio(self.out_bps, self.capacity_bps)

    @property
    def utilisation(self) -> float | None:
        """The busier direction: congestion in either way hurts an exam site."""
        values = [u for u in (self.utilisation_in, self.utilisation_out) if u is not None]
        return max(values, default=None)


@dataclass(frozen=True, slots=True)
class DeviceDelta:
    """What changed between two polls of one device."""

    seconds: float | None  # the interval the rates are over
    rebooted: str | None = None  # why we believe it rebooted
    uptime_wrapped: bool = False
    interfaces: tuple[InterfaceRates, ...] = ()


def _ratio(bps: float | None, capacity: float | None) -> float | None:
    if bps is None or not capacity:
        return None
    return bps / capacity


def reboot_reason(previous: SnmpObservation, current: SnmpObservation) -> str | None:
    """Why `current` looks like a device that restarted since `previous`, if it does."""
    boots = (previous.engine_boots, current.engine_boots)
    if None not in boots and boots[1] > boots[0]:  # type: ignore[operator]
        return f"snmpEngineBoots went from {boots[0]} to {boots[1]}"
    if None not in boots and boots[1] < boots[0]:  # type: ignore[operator]
        return f"snmpEngineBoots went back from {boots[0]} to {boots[1]} (a new engine)"
    clock = (previous.engine_time, current.engine_time)
    if None not in boots and None not in clock and clock[1] < clock[0]:  # type: ignore[operator]
        return (f"snmpEngineTime went back from {clock[0]} s to {clock[1]} s with "
                f"snmpEngineBoots still {boots[1]}")  # fmt: skip
    before, now = previous.sys_uptime, current.sys_uptime
    if before is None or now is None or now >= before:
        return None
    if _uptime_wrapped(previous, current):
        return None
    return f"sysUpTime went back from {before / 100:.0f} s to {now / 100:.0f} s"


def _uptime_wrapped(previous: SnmpObservation, current: SnmpObservation) -> bool:
    before, now = previous.sys_uptime, current.sys_uptime
    if before is None or now is None or now >= before:
        return False
    if previous.engine_boots is not None and current.engine_boots is not None:
        # same boot, and the engine's own clock kept going: only TimeTicks wrapped
        same = previous.engine_boots == current.engine_boots
        going = (previous.engine_time or 0) <= (current.engine_time or 0)
        return same and going
    # no engine clock: a wrap lands just past zero, about one interval after the top
    elapsed_ticks = (current.received_at - previous.received_at) * 100
    wrapped_step = now + TIMETICKS - before
    return 0 < wrapped_step <= 2 * elapsed_ticks + 100


def interval_seconds(previous: SnmpObservation, current: SnmpObservation) -> float | None:
    """The device's own uptime delta where it agrees with ours, else our clock's."""
    ours = current.received_at - previous.received_at
    if ours <= 0:
        return None
    before, now = previous.sys_uptime, current.sys_uptime
    if before is None or now is None:
        return ours
    ticks = now - before if now >= before else now + TIMETICKS - before
    theirs = ticks / 100
    return theirs if abs(theirs - ours) <= CLOCK_AGREEMENT * ours else ours


def counter_delta(
    before: int | None, now: int | None, bits: int, ceiling: float | None
) -> tuple[int | None, str | None]:
    """How much a counter moved, or why that cannot be known.

    `ceiling`: the most the counter can plausibly move in the interval, to
    tell a 32-bit wrap (plausible) from a reset (not).
    """
    if before is None or now is None:
        return None, "counter missing"
    if now >= before:
        return now - before, None
    if bits == 64:
        return None, "counter went backwards (reset)"
    wrapped = now + 2**32 - before
    if ceiling is not None and wrapped > ceiling:
        return None, "counter went backwards (reset)"
    if ceiling is None and wrapped > 2**31:
        return None, "counter went backwards (reset)"
    return wrapped, None


def _capacity(reading: InterfaceReading, configured: Mapping[str, float | None]) -> float | None:
    capacity = configured.get(reading.configured)
    if capacity:
        return capacity
    if reading.high_speed_mbps:
        return reading.high_speed_mbps * 1_000_000.0
    return None


def interface_rates(
    before: InterfaceReading | None,
    now: InterfaceReading,
    seconds: float | None,
    capacity: float | None,
) -> InterfaceRates:
    reason = _no_rate_reason(before, now, seconds)
    if reason is not None or before is None or seconds is None:
        return without_rate(now, capacity, reason or "first poll")
    oper = _oper_up(now)
    octet_ceiling = capacity * seconds / 8 * WRAP_SLACK if capacity else None
    inbound, why_in = counter_delta(
        before.in_octets, now.in_octets, now.counter_bits, octet_ceiling
    )
    outbound, why_out = counter_delta(
        before.out_octets, now.out_octets, now.counter_bits, octet_ceiling
    )
    if inbound is None or outbound is None:
        return without_rate(now, capacity, why_in or why_out or "counter missing")
    return InterfaceRates(
        now.configured,
        now.index,
        oper,
        capacity,
        in_bps=inbound * 8 / seconds,
        out_bps=outbound * 8 / seconds,
        errors_per_s=_per_second(
            seconds, (before.in_errors, now.in_errors), (before.out_errors, now.out_errors)
        ),
        discards_per_s=_per_second(
            seconds, (before.in_discards, now.in_discards), (before.out_discards, now.out_discards)
        ),
    )


def _no_rate_reason(
    before: InterfaceReading | None, now: InterfaceReading, seconds: float | None
) -> str | None:
    if before is None:
        return "first poll"
    if seconds is None:
        return "no time between the polls"
    if before.index != now.index:
        return "the interface changed index"
    if before.counter_bits != now.counter_bits:
        return "counters changed width"
    if before.discontinuity != now.discontinuity:
        return "counter discontinuity (ifCounterDiscontinuityTime changed)"
    return None


def _oper_up(reading: InterfaceReading) -> bool | None:
    return None if reading.oper_status is None else reading.oper_status == OperStatus.UP


def without_rate(reading: InterfaceReading, capacity: float | None, reason: str) -> InterfaceRates:
    return InterfaceRates(
        reading.configured, reading.index, _oper_up(reading), capacity, no_rate=reason
    )


def _per_second(seconds: float, *pairs: tuple[int | None, int | None]) -> float | None:
    # errors and discards are 32-bit Counter32 in ifTable
    total = 0
    for before, now in pairs:
        delta, _ = counter_delta(before, now, 32, None)
        if delta is None:
            return None
        total += delta
    return total / seconds


def compare(
    previous: SnmpObservation | None,
    current: SnmpObservation,
    capacities: Mapping[str, float | None],
) -> DeviceDelta:
    """Rates of every watched interface between two successful polls of a device."""
    if previous is None or previous.error is not None:
        first = tuple(
            without_rate(r, _capacity(r, capacities), "first poll") for r in current.interfaces
        )
        return DeviceDelta(seconds=None, interfaces=first)
    rebooted = reboot_reason(previous, current)
    seconds = None if rebooted else interval_seconds(previous, current)
    before = {r.configured: r for r in previous.interfaces}
    rates = []
    for reading in current.interfaces:
        capacity = _capacity(reading, capacities)
        if rebooted:
            rates.append(without_rate(reading, capacity, "device rebooted"))
        else:
            rates.append(
                interface_rates(before.get(reading.configured), reading, seconds, capacity)
            )
    return DeviceDelta(seconds, rebooted, _uptime_wrapped(previous, current), tuple(rates))
