"""ICMP echo rounds to links, endpoints and the control targets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.model.cadence import active_targets, interval_at
from monitor.model.clock import Clock
from monitor.model.inventory import Inventory, Target
from monitor.probing.kind import ProbeContext, ProbeKind
from probes.icmp import IcmpObservation, IcmpProber


def due(inventory: Inventory, moment: datetime) -> Sequence[Target]:
    """Links and endpoints active now, and the control targets that tell blindness."""
    return (*active_targets(inventory, moment), *inventory.control_targets())


def not_probed(target: Target, reason: str, clock: Clock) -> IcmpObservation:
    return IcmpObservation(
        target=target.key,
        address=target.address,
        started_at=clock.now(),
        duration=0.0,
        echoes=(),
        error=f"not probed: {reason}",
    )


class IcmpProbing:
    """Rounds of echoes, into the round pipeline."""

    def __init__(self, context: ProbeContext) -> None:
        options = context.options
        self.prober = IcmpProber(
            mode=options.socket_mode, max_rate=options.max_rate, bind_device=options.bind_device
        )
        self._settings = context.inventory.probe
        self._pipeline = context.rounds

    async def probe(self, item: Target) -> IcmpObservation:
        return await self.prober.probe(item, self._settings)

    def handle(self, item: Target, observation: IcmpObservation) -> None:
        self._pipeline.handle(item, observation)

    async def aclose(self) -> None:
        await self.prober.aclose()


ICMP: ProbeKind[Target, IcmpObservation] = ProbeKind(
    name="icmp",
    noun="targets",
    verb="probing",
    items_at=due,
    interval_at=interval_at,
    budget=lambda inventory: inventory.probe.round_budget,
    not_probed=not_probed,
    wire=IcmpProbing,
)
