"""A step of the wall clock (an NTP correction) changes no judgement: timers measure real time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.clockwatch import ClockWatch, Pulse
from monitor.evaluation import Evaluator
from monitor.evaluation.counters import InterfaceRates
from monitor.metrics import Metrics
from monitor.model.inventory import Target
from monitor.selfwatch import Health, SelfWatch
from tests.fixtures.inventories import inventory_from, province

T0 = datetime(2027, 5, 20, 1, 0, tzinfo=UTC)  # before the exam: nothing runs


class SteppedClock:
    """Wall and monotonic time apart: `step` moves the wall clock alone, like NTP."""

    def __init__(self) -> None:
        self.wall, self.mono = T0, 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds

    def step(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)


def test_it_notices_a_step_of_the_wall_clock_but_not_its_slow_drift() -> None:
    clock = SteppedClock()
    watch = ClockWatch(clock)
    for _ in range(3600):  # an hour of NTP slewing at its fastest (0.5 ms/s): 1.8 s in all
        clock.advance(1.0)
        clock.step(0.0005)
        assert watch.check() is None
    clock.advance(1.0)
    clock.step(-600.0)
    assert watch.check() == -600.0
    clock.advance(1.0)
    assert watch.check() is None


def test_it_passes_a_step_on_to_the_parts_that_keep_wall_times_and_counts_it() -> None:
    clock = SteppedClock()
    metrics = Metrics()
    heard: list[timedelta] = []
    pulse = Pulse(clock, metrics, on_step=[heard.append])
    clock.advance(1.0)
    pulse.beat()
    clock.advance(1.0)
    clock.step(-600.0)
    pulse.beat()
    assert heard == [timedelta(seconds=-600)]
    assert metrics.registry.get_sample_value("examnet_clock_steps_total") == 1.0


def test_it_calls_the_loop_stalled_after_ten_seconds_without_a_beat() -> None:
    clock = SteppedClock()
    pulse = Pulse(clock, Metrics())
    clock.advance(10.0)
    assert not pulse.stalled
    clock.advance(0.5)
    assert pulse.stalled
    pulse.beat()
    assert not pulse.stalled


def _target(key: str, inventory_path: Path) -> tuple[Evaluator, Target]:
    inventory = inventory_from(province(2), inventory_path)
    evaluator = Evaluator(inventory)
    return evaluator, {t.key: t for t in inventory.targets()}[key]


def _busy(utilisation: float) -> InterfaceRates:
    return InterfaceRates("eth1", 2, True, 1e6, in_bps=utilisation * 1e6, out_bps=0.0)


def test_a_step_forward_does_not_make_congestion_look_sustained(tmp_path: Path) -> None:
    ev, link = _target("link:s0/vt", tmp_path)
    at = T0
    ev.observe_interface(link, _busy(0.9), at - timedelta(seconds=20), at)  # busy 20 s of 60
    ev.shift(timedelta(seconds=600))  # the clock jumps 10 minutes ahead
    at += timedelta(seconds=620)  # 20 s really passed
    events = ev.observe_interface(link, _busy(0.9), at - timedelta(seconds=20), at)
    assert not [e for e in events if getattr(e, "kind", "") == "congested"]
    assert not ev.interfaces[link.key].congested  # 40 s of the 60 s sustain, not 640


def test_a_step_back_does_not_make_rounds_look_stopped(tmp_path: Path) -> None:
    watch = SelfWatch(inventory_from(province(2), tmp_path), T0)
    mono, rounds = 1000.0, 0
    for second in range(0, 300, 5):
        rounds += 4
        wall = (
            T0
            + timedelta(seconds=second)
            - (timedelta(seconds=600) if second > 60 else timedelta(0))
        )
        health = Health(10, 0, None, rounds, 0, None, 10.0, monotonic=mono + second)
        assert not watch.check(health, wall)
    assert not watch.problems


def test_an_echo_in_flight_across_a_step_keeps_an_honest_rtt() -> None:
    from probes.pinger import _rtt  # noqa: PLC0415 - the one pure helper under test

    assert _rtt(kernel_ns=150_000, monotonic_ns=2_000_000) == 0.00015  # the kernel's stamp
    back = _rtt(kernel_ns=-600_000_000_000 + 150_000, monotonic_ns=2_000_000)
    ahead = _rtt(kernel_ns=600_000_000_000 + 150_000, monotonic_ns=2_000_000)
    assert back == ahead == 0.002  # the step is not in the round trip
