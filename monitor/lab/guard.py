"""Lab addresses must never leave this machine.

While the lab is up, its whole network is routed from the root namespace
into the hub namespace (`N via <hub> dev {prefix}-mon`). Without that route
a packet to a lab address would follow the default route out of the
machine, so the monitor asks `lab_route_present` before it starts and
between rounds, and stops probing `targets_in_lab` when it says no.

Reads /proc/net/route (the main table of the reader's namespace): no
subprocess, a few microseconds per call.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, ip_address
from pathlib import Path

from monitor.lab.topology import hub_address, monitor_device
from monitor.model.inventory import Inventory, Lab, Target

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
