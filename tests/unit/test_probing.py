"""Every probe kind keeps one contract: declared once, scheduled, guarded, named nowhere else."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.labguard import LAB_DOWN, LabGuard
from monitor.model.clock import FakeClock
from monitor.probing.kind import AnyKind
from monitor.probing.registry import PROBES
from monitor.scheduler import schedule_of
from tests.fixtures.inventories import WITH_DEVICES, inventory_from

NOW = datetime(2027, 6, 3, 8, 0, tzinfo=UTC)
EVERY_KIND = pytest.mark.parametrize("kind", PROBES, ids=[k.name for k in PROBES])


def test_it_lists_each_kind_once() -> None:
    names = [kind.name for kind in PROBES]
    assert names == ["icmp", "snmp"]


@EVERY_KIND
def test_it_says_what_an_item_not_probed_observed(kind: AnyKind, tmp_path: Path) -> None:
    inventory = inventory_from(WITH_DEVICES, tmp_path)
    item = kind.items_at(inventory, NOW)[0]
    observation = kind.not_probed(item, LAB_DOWN, FakeClock(NOW))
    assert observation.error.endswith(LAB_DOWN)
    assert observation.started_at == NOW
    assert observation.duration == 0.0


@EVERY_KIND
def test_it_schedules_every_kind_from_its_declaration(kind: AnyKind, tmp_path: Path) -> None:
    inventory = inventory_from(WITH_DEVICES, tmp_path)

    async def run(_item: Any) -> None:
        return None

    schedule = schedule_of(kind, inventory, run)
    assert schedule.name == kind.name
    assert schedule.interval_at(NOW) == kind.interval_at(inventory, NOW) > 0
    assert [i.key for i in schedule.items_at(NOW)] == [
        i.key for i in kind.items_at(inventory, NOW)
    ]
    assert schedule.budget == kind.budget(inventory)
    assert kind.scheduled(inventory)


@EVERY_KIND
def test_the_guard_lets_any_kind_probe_outside_a_lab(kind: AnyKind, tmp_path: Path) -> None:
    inventory = inventory_from(WITH_DEVICES, tmp_path)
    item = kind.items_at(inventory, NOW)[0]
    seen: list[str] = []

    class Prober:
        async def probe(self, probed: Any) -> str:
            seen.append(probed.key)
            return "observed"

        async def aclose(self) -> None:
            return None

    guard = LabGuard(None, FakeClock(NOW))
    assert asyncio.run(guard.probe(kind, Prober(), item)) == "observed"
    assert seen == [item.key]
