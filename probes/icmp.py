"""The ICMP probe: one round of echo requests to one target.

`IcmpProber.probe(target, settings)` never raises for a target's fault: a
name that does not resolve or a socket that cannot be opened becomes an
observation with `error` set, so one bad target never stops a run.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from icmplib import async_resolve
from icmplib.exceptions import NameLookupError

from monitor.model.inventory import ProbeSettings, Target
from probes.pinger import DEFAULT_MAX_RATE, Echo, Pinger, PingerError, SocketMode

KIND = "icmp"
_GRACE = 2.0  # seconds beyond a round's budget before it is cut short


@dataclass(frozen=True, slots=True)
class IcmpObservation:
    """The raw facts of one round: every echo, or why the round could not run."""

    target: str
    address: str
    started_at: datetime
    duration: float
    echoes: tuple[Echo, ...]
    error: str | None = None
    kind: str = KIND


class IcmpProber:
    """Probes targets over one shared `Pinger` (one socket per address family)."""

    kind = KIND

    def __init__(
        self,
        pinger: Pinger | None = None,
        *,
        mode: SocketMode = SocketMode.AUTO,
        max_rate: float | None = None,
        bind_device: str | None = None,
    ) -> None:
        if pinger is None:
            pinger = Pinger(
                mode=mode, max_rate=max_rate or DEFAULT_MAX_RATE, bind_device=bind_device
            )
        self.pinger = pinger

    async def probe(self, target: Target, settings: ProbeSettings) -> IcmpObservation:
        started_at = datetime.now(UTC)
        began = time.monotonic()
        address = target.address
        try:
            address = await resolve(target.address)
            echoes = await asyncio.wait_for(
                self.pinger.ping(
                    address,
                    count=settings.count,
                    interval=settings.echo_interval,
                    timeout=settings.timeout,
                ),
                settings.round_budget + _GRACE,
            )
        except (NameLookupError, PingerError, OSError, TimeoutError) as exc:
            return IcmpObservation(
                target=target.key,
                address=address,
                started_at=started_at,
                duration=time.monotonic() - began,
                echoes=(),
                error=_describe(exc, target.address),
            )
        return IcmpObservation(
            target=target.key,
            address=address,
            started_at=started_at,
            duration=time.monotonic() - began,
            echoes=echoes,
        )

    async def aclose(self) -> None:
        self.pinger.close()


async def resolve(address: str) -> str:
    """An IP literal as is; a name through the system resolver (first address)."""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        pass
    addresses: list[str] = await async_resolve(address)
    return addresses[0]


def _describe(exc: BaseException, address: str) -> str:
    if isinstance(exc, NameLookupError):
        return f"cannot resolve {address!r}"
    if isinstance(exc, TimeoutError):
        return "round cut short: it outlived its time budget"
    return str(exc) or type(exc).__name__
