"""A round never overlaps itself: a target still in flight is skipped and counted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from monitor.metrics import Metrics
from monitor.model.clock import FakeClock
from monitor.model.inventory import Target
from monitor.probing.icmp import ICMP
from monitor.scheduler import ProbeScheduler, schedule_of
from tests.fixtures.inventories import TWO_CARRIER_SITE, inventory_from


def test_it_skips_and_counts_a_round_whose_previous_one_still_runs(tmp_path: Path) -> None:
    inventory = inventory_from(TWO_CARRIER_SITE, tmp_path)
    metrics = Metrics()
    started: list[str] = []
    release = asyncio.Event()

    async def slow_round(target: Target) -> None:
        started.append(target.key)
        await release.wait()

    async def run() -> None:
        schedule = schedule_of(ICMP, inventory, slow_round)
        scheduler = ProbeScheduler(
            inventory, [schedule], metrics, FakeClock(datetime(2027, 6, 3, tzinfo=UTC))
        )
        targets = inventory.targets()[:2]
        await scheduler._fire(schedule, targets)
        await asyncio.sleep(1.0)  # past every target's offset in its slot
        await scheduler._fire(schedule, targets)  # both still running
        release.set()
        await asyncio.sleep(0.05)
        await scheduler._fire(schedule, targets)  # finished: they run again
        await asyncio.sleep(1.0)

    asyncio.run(run())
    assert len(started) == 4
    assert (
        metrics.registry.get_sample_value("examnet_missed_runs_total", {"reason": "overlap"}) == 2.0
    )


def test_it_keeps_going_when_a_round_raises(tmp_path: Path) -> None:
    inventory = inventory_from(TWO_CARRIER_SITE, tmp_path)
    metrics = Metrics()

    async def broken(target: Target) -> None:
        raise RuntimeError(f"bug while probing {target.key}")

    async def run() -> None:
        schedule = schedule_of(ICMP, inventory, broken)
        scheduler = ProbeScheduler(
            inventory, [schedule], metrics, FakeClock(datetime(2027, 6, 3, tzinfo=UTC))
        )
        await scheduler._fire(schedule, inventory.targets())
        await asyncio.sleep(1.0)
        await scheduler._fire(schedule, inventory.targets())
        await asyncio.sleep(1.0)

    asyncio.run(run())
    assert metrics.registry.get_sample_value(
        "examnet_missed_runs_total", {"reason": "error"}
    ) == 2.0 * len(inventory.targets())
