"""The lab's address plan: which addresses and names of a `[lab]` network the lab keeps.

The one owner of these rules. The product needs them to validate `[lab]`
addresses (`monitor.config.values`) and to recognise the lab's route (the lab
guard); the lab (`examlab.topology`) builds its namespaces from them. Pure,
and imports nothing of examnet, so both sides may depend on it.

For lab network N and prefix P:

- the last /24 of N is the *infra block*, used only for transit addresses;
- /30 number 0 of it joins the root namespace (`P-mon`, .1) to the hub (.2),
  /30 number k+1 joins the hub to endpoint k;
- the root namespace routes N via the hub's address on `P-mon`.
"""

from __future__ import annotations

from ipaddress import IPv4Interface, IPv4Network
from typing import Final

INFRA_PREFIXLEN: Final = 24
TRANSIT_PREFIXLEN: Final = 30
LARGEST_LAB_PREFIXLEN: Final = INFRA_PREFIXLEN - 1  # the network must hold more than its infra /24
# /30 number 0 is the monitor's: 63 endpoints at most
MAX_ENDPOINTS: Final = 2 ** (TRANSIT_PREFIXLEN - INFRA_PREFIXLEN) - 1
MONITOR_SUFFIX: Final = "mon"


def monitor_device(prefix: str) -> str:
    """The root namespace's veth into the hub; the lab route leaves by it."""
    return f"{prefix}-{MONITOR_SUFFIX}"


def infra_block(network: IPv4Network) -> IPv4Network:
    """The last /24 of the lab network, kept for transit addresses."""
    last = int(network.broadcast_address)
    return IPv4Network((last - (last % 256), INFRA_PREFIXLEN))


def transit(network: IPv4Network, number: int) -> IPv4Network:
    """The /30 number `number` of the infra block (0: monitor ↔ hub)."""
    base = int(infra_block(network).network_address) + 4 * number
    return IPv4Network((base, TRANSIT_PREFIXLEN))


def monitor_transit(network: IPv4Network) -> IPv4Network:
    """The /30 joining examnet to the lab's hub: the only infra addresses it may ping."""
    return transit(network, 0)


def monitor_address(network: IPv4Network) -> IPv4Interface:
    """The root namespace's address on the lab: the source of every probe into it."""
    return IPv4Interface((int(monitor_transit(network).network_address) + 1, TRANSIT_PREFIXLEN))


def hub_address(network: IPv4Network) -> IPv4Interface:
    """The hub's address on the monitor's transit: the lab route's gateway."""
    return IPv4Interface((int(monitor_transit(network).network_address) + 2, TRANSIT_PREFIXLEN))
