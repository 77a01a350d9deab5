"""SNMP polls of the devices: interfaces, UPS, reboots."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.model.cadence import snmp_interval_at
from monitor.model.clock import Clock
from monitor.model.inventory import Device, Inventory
from monitor.polls import DevicePipeline
from monitor.probing.kind import ProbeContext, ProbeKind
from probes.snmp import SnmpProber
from probes.snmpdata import PollFailure, SnmpObservation


def devices(inventory: Inventory, _moment: datetime | None = None) -> Sequence[Device]:
    return tuple(inventory.devices())


def interval(inventory: Inventory, moment: datetime) -> float:
    return snmp_interval_at(inventory, moment)


def budget(inventory: Inventory) -> float:
    return max((d.poll_budget for d in devices(inventory)), default=0.0)


def not_polled(device: Device, reason: str, clock: Clock) -> SnmpObservation:
    return SnmpObservation(
        device=device.key,
        address=device.address,
        started_at=clock.now(),
        duration=0.0,
        received_at=clock.monotonic(),
        error=f"not polled: {reason}",
        failure=PollFailure.INTERNAL,
    )


class SnmpProbing:
    """Polls of the devices, into the device pipeline."""

    def __init__(self, context: ProbeContext) -> None:
        inventory = context.inventory
        self.prober = SnmpProber(
            max_concurrency=inventory.snmp.max_concurrency,
            bind_device=context.options.bind_device,
        )
        self.pipeline = DevicePipeline(
            inventory, context.store, context.metrics, context.evaluator, context.journal
        )

    async def probe(self, item: Device) -> SnmpObservation:
        return await self.prober.probe(item)

    def handle(self, item: Device, observation: SnmpObservation) -> None:
        self.pipeline.handle(item, observation)

    async def aclose(self) -> None:
        await self.prober.aclose()


SNMP: ProbeKind[Device, SnmpObservation] = ProbeKind(
    name="snmp",
    noun="devices",
    verb="polling",
    items_at=devices,
    interval_at=interval,
    budget=budget,
    not_probed=not_polled,
    wire=SnmpProbing,
    scheduled=lambda inventory: bool(devices(inventory)),
)
