"""Lab addresses must never leave this machine: the lab guard.

The only part of the namespace lab inside the product, a thin wrapper around
probing (the lab itself is the separate `examlab` distribution). While the
lab is up, its whole network is routed from the root namespace into the hub
namespace (`N via <hub> dev {prefix}-mon`). Without that route a packet to a
lab address would follow the default route out of the machine, so the
monitor asks `lab_route_present` before it starts (`check_lab_guard`) and
between rounds (`LabGuard.blocks`), and stops probing `targets_in_lab` when
it says no. Sockets are also bound to `lab_device`, so a lab torn down
between two checks makes sends fail.

Reads /proc/net/route (the main table of the reader's namespace): no
subprocess, a few microseconds per call.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, ip_address
from pathlib import Path

from monitor.model.clock import Clock
from monitor.model.inventory import Inventory, Lab, Target
from monitor.model.labplan import hub_address, monitor_device
from monitor.probing.kind import I, O, ProbeKind, Prober

log = logging.getLogger("examnet")

GUARD_RECHECK = 1.0  # seconds between two reads of the routing table
LAB_DOWN = "the lab is down and its addresses would leave this machine"
PROC_ROUTE = Path("/proc/net/route")
RTF_UP = 0x0001  # include/uapi/linux/route.h
RTF_GATEWAY = 0x0002


@dataclass(frozen=True, slots=True)
class KernelRoute:
    """One line of /proc/net/route."""

    interface: str
    destination: IPv4Network
    gateway: IPv4Address
    flags: int


def _address(field: str) -> IPv4Address:
    # /proc/net/route prints the raw 32-bit word in host byte order: packing it
    # back natively gives the address's bytes in network order on any host.
    return IPv4Address(struct.pack("=I", int(field, 16)))


def _parse(line: str) -> KernelRoute | None:
    fields = line.split()
    if len(fields) < 8:
        return None
    try:
        destination = IPv4Network((_address(fields[1]), str(_address(fields[7]))))
        return KernelRoute(fields[0], destination, _address(fields[2]), int(fields[3], 16))
    except ValueError:
        return None


def read_routes(proc_route: Path = PROC_ROUTE) -> tuple[KernelRoute, ...]:
    """The IPv4 routes of the main table, as the kernel shows them."""
    try:
        lines = proc_route.read_text().splitlines()[1:]
    except OSError:
        return ()
    return tuple(route for line in lines if (route := _parse(line)) is not None)


def lab_route_present(lab: Lab, proc_route: Path = PROC_ROUTE) -> bool:
    """Whether `lab.network` is routed into the hub through `{prefix}-mon`."""
    wanted = (monitor_device(lab.prefix), lab.network, hub_address(lab.network).ip)
    return any(
        (r.interface, r.destination, r.gateway) == wanted
        and r.flags & (RTF_UP | RTF_GATEWAY) == RTF_UP | RTF_GATEWAY
        for r in read_routes(proc_route)
    )


def routes_overlapping(
    network: IPv4Network, except_interface: str, proc_route: Path = PROC_ROUTE
) -> tuple[KernelRoute, ...]:
    """Routes other than the lab's own that cover part of `network` (the default route aside)."""
    return tuple(
        r
        for r in read_routes(proc_route)
        if r.interface != except_interface
        and r.destination.prefixlen > 0
        and r.destination.overlaps(network)
    )


def in_network(address: str, network: IPv4Network) -> bool:
    try:
        return ip_address(address) in network
    except ValueError:  # a host name is not a lab address
        return False


def targets_in_lab(inventory: Inventory) -> tuple[Target, ...]:
    """The targets whose address lies in the lab network (none when there is no [lab])."""
    if inventory.lab is None:
        return ()
    network = inventory.lab.network
    return tuple(t for t in inventory.targets() if in_network(t.address, network))


def lab_device(lab: Lab | None) -> str | None:
    """The interface a lab's probes must leave by (None: no lab, any route).

    A lab's targets all lie in its network: binding the sockets to the lab's
    interface makes a lab torn down mid-run fail sends rather than let them
    leave through the default route (the guard's checks have a window).
    """
    return monitor_device(lab.prefix) if lab is not None else None


class LabDownError(RuntimeError):
    """Refusal to start: lab targets would be probed through the default route."""


def check_lab_guard(inventory: Inventory, proc_route: Path = PROC_ROUTE) -> None:
    """Refuse to run when the file's lab targets have no lab to go to."""
    lab = inventory.lab
    if lab is None or lab_route_present(lab, proc_route):
        return
    inside = targets_in_lab(inventory)
    if inside:
        raise LabDownError(
            f"{inventory.source}: {len(inside)} targets lie in the lab network {lab.network}, "
            f"but the lab is not up (no route to {lab.network} via {monitor_device(lab.prefix)})."
            " Probing them now would send packets out through the default route. Start the lab "
            f"first (examnet lab up --config {inventory.source}) or run with --lab."
        )


class LabGuard:
    """While running: lab addresses are probed only while the lab's route exists."""

    def __init__(self, lab: Lab | None, clock: Clock) -> None:
        self._lab = lab
        self._clock = clock
        self._checked_at = float("-inf")
        self._present = True

    def blocks(self, address: str) -> bool:
        lab = self._lab
        if lab is None or ip_address(address) not in lab.network:
            return False
        now = self._clock.monotonic()
        if now - self._checked_at >= GUARD_RECHECK:
            present = lab_route_present(lab)
            if present != self._present:
                log.warning(
                    "lab route %s: lab addresses are %s",
                    "back" if present else "gone",
                    "probed again" if present else "no longer probed",
                )
            self._present, self._checked_at = present, now
        return not self._present

    async def probe(self, kind: ProbeKind[I, O], prober: Prober[I, O], item: I) -> O:
        """Any kind's probe of `item`, or what it observed when not probed: the lab is down."""
        if self.blocks(item.address):
            return kind.not_probed(item, LAB_DOWN, self._clock)
        return await prober.probe(item)
