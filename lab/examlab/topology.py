"""The lab's plan: the namespaces, veth pairs, addresses, routes and rules
that stand for an inventory. Pure (no I/O): `examlab.build` applies it.

Shape, for lab network N and prefix P (see `plan_lab`):

- the last /24 of N is the infra block, used only for transit addresses:
  /30 number 0 joins the root namespace (`P-mon`, .1) to the hub (.2),
  /30 number k+1 joins the hub to endpoint k;
- the root namespace gets one route, `N via <hub> dev P-mon`: the guard
  checks it, and without it no lab address is reachable at all;
- `P-hub` stands for the provincial core, `P-ep<k>` for each carrier endpoint
  (its address on `lo`), `P-s<i>` for each site;
- a link is an unnumbered point-to-point veth between its site and its
  upstream endpoint (or the hub): the link's address sits on the site end as
  a /32, and the site routes through the upstream with `via <gateway>
  onlink`, the gateway being the upstream's own address (the hub's for a link
  with no upstream); the upstream reaches the link's address with a device
  route. Every veth MAC is fixed by the plan and every next hop has a
  permanent neighbour entry (see `Neighbour`); ARP still answers besides.
- a site has one routing table per link, chosen by source address, so each
  link's replies leave over that same link (a multi-homed site);
- hub and endpoints end with `unreachable N`: a downed link or endpoint
  leaves no route to loop on, and (with the netfilter rule `netns` adds) ICMP
  host unreachable comes back for every echo rather than silence.
- every SNMP device of the inventory is served by an *agent* (one snmpd) in
  its owner's namespace, at the device's address: a site device at a link's
  address answers there; a device at an address of its own (a UPS on the
  site LAN) gets it on the namespace's `lo`, and the lab routes it like a LAN
  behind the site's first link: the upstream and the hub route the /32 over
  that link's path, and a source rule sends its replies back by that link.
  Devices of one namespace that share an address share one agent.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from dataclasses import dataclass
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, ip_address
from typing import Any, NoReturn

from monitor.model.inventory import Device, Inventory, Lab, Link
from monitor.model.labplan import (
    LARGEST_LAB_PREFIXLEN,
    MAX_ENDPOINTS,
    TRANSIT_PREFIXLEN,
    hub_address,
    infra_block,
    monitor_address,
    monitor_device,
    transit,
)

IFNAME_MAX = 15  # IFNAMSIZ - 1 (include/uapi/linux/if.h)
PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9]{0,10}")  # "{prefix}-mon" stays within IFNAME_MAX
IFNAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,15}")
LINK_TABLE_BASE = 100
LINK_RULE_PRIORITY_BASE = 1000
DEVICE_RULE_PRIORITY_BASE = 1500  # source rules of device addresses behind a link
HUB_DEVICE_TO_MONITOR = "mon"
ENDPOINT_DEVICE_TO_HUB = "hub"


class LabPlanError(ValueError):
    """The inventory cannot be built as a lab; the message lists every reason."""


class UnknownTargetError(LookupError):
    """A name that is neither a link key (site/link) nor an endpoint id of the lab."""


class Role(StrEnum):
    HUB = "hub"
    ENDPOINT = "endpoint"
    SITE = "site"


@dataclass(frozen=True, slots=True)
class Port:
    """One end of a veth pair: a device in a namespace (None: the root namespace)."""

    namespace: str | None
    device: str


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    role: Role
    owner: str  # the endpoint or site id; "" for the hub
    forwarding: bool


@dataclass(frozen=True, slots=True)
class Veth:
    left: Port
    right: Port
    left_mac: str
    right_mac: str


@dataclass(frozen=True, slots=True)
class Neighbour:
    """A permanent ARP entry: the MAC of the far end of a point-to-point veth.

    The kernel's ARP table is one for all namespaces and refuses new dynamic
    entries beyond net.ipv4.neigh.default.gc_thresh3 (1024) machine-wide; a
    300-site lab needs about two per link. Permanent entries do not count
    (Linux 4.19, "neighbor: Improve garbage collection") and no probe ever
    waits for ARP.
    """

    port: Port
    address: IPv4Address
    mac: str

    def spec(self) -> list[str]:
        """The arguments after `ip neigh replace`."""
        return [str(self.address), "lladdr", self.mac, "dev", self.port.device, "nud", "permanent"]


@dataclass(frozen=True, slots=True)
class Address:
    port: Port
    interface: IPv4Interface


@dataclass(frozen=True, slots=True)
class Route:
    namespace: str | None
    destination: str  # "default" or a network in CIDR form
    device: str | None = None
    via: IPv4Address | None = None
    table: int | None = None
    onlink: bool = False
    unreachable: bool = False

    def spec(self) -> list[str]:
        """The arguments after `ip route replace`."""
        args = ["unreachable", self.destination] if self.unreachable else [self.destination]
        if self.via is not None:
            args += ["via", str(self.via)]
        if self.device is not None:
            args += ["dev", self.device]
        if self.onlink:
            args.append("onlink")
        if self.table is not None:
            args += ["table", str(self.table)]
        return args


@dataclass(frozen=True, slots=True)
class Rule:
    namespace: str
    source: IPv4Address
    table: int
    priority: int

    def spec(self) -> list[str]:
        """The arguments after `ip rule add`."""
        return ["from", str(self.source), "lookup", str(self.table), "priority", str(self.priority)]


@dataclass(frozen=True, slots=True)
class EndpointPlan:
    id: str
    address: IPv4Address
    namespace: str
    carrier_side: Port  # the hub's veth towards the endpoint: downing it cuts all behind
    own_side: Port  # the endpoint's veth towards the hub

    @property
    def name(self) -> str:
        return self.id

    @property
    def far_side(self) -> Port:
        return self.own_side

    @property
    def nft_namespace(self) -> str:
        return self.namespace

    @property
    def nft_device(self) -> str:
        return self.own_side.device


@dataclass(frozen=True, slots=True)
class LinkPlan:
    key: str
    site: str
    address: IPv4Address
    upstream: str | None
    upstream_namespace: str
    gateway: IPv4Address
    table: int
    carrier_side: Port  # in the upstream's namespace
    site_side: Port  # in the site's namespace, holds the link's address

    @property
    def name(self) -> str:
        return self.key

    @property
    def far_side(self) -> Port:
        return self.site_side

    @property
    def nft_namespace(self) -> str:
        return str(self.site_side.namespace)

    @property
    def nft_device(self) -> str:
        return self.site_side.device


Target = EndpointPlan | LinkPlan


@dataclass(frozen=True, slots=True)
class AgentPlan:
    """One snmpd: the devices of one namespace that share one address.

    `name` is unique in the lab and safe as a file name; `ports` are the
    distinct UDP ports of its devices; `devices` their keys, in file order.
    `own_address` says the address is the device's own (on `lo`), not a link's
    or endpoint's.
    """

    name: str
    namespace: str
    owner: str
    role: Role
    address: IPv4Address
    ports: tuple[int, ...]
    devices: tuple[str, ...]
    own_address: bool

    def describe(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "owner": self.owner,
            "address": str(self.address),
            "ports": list(self.ports),
            "devices": list(self.devices),
            "own_address": self.own_address,
        }


@dataclass(frozen=True, slots=True)
class LabPlan:
    prefix: str
    network: IPv4Network
    monitor: IPv4Interface
    hub: IPv4Interface
    namespaces: tuple[Namespace, ...]
    veths: tuple[Veth, ...]
    addresses: tuple[Address, ...]
    routes: tuple[Route, ...]
    rules: tuple[Rule, ...]
    neighbours: tuple[Neighbour, ...]
    endpoints: tuple[EndpointPlan, ...]
    links: tuple[LinkPlan, ...]
    sites: tuple[tuple[str, str], ...]  # (site id, namespace), file order
    agents: tuple[AgentPlan, ...] = ()

    @property
    def infra(self) -> IPv4Network:
        return infra_block(self.network)

    @property
    def monitor_device(self) -> str:
        return monitor_device(self.prefix)

    @property
    def hub_namespace(self) -> str:
        return f"{self.prefix}-hub"

    def root_route(self) -> Route:
        return next(r for r in self.routes if r.namespace is None)

    def namespace_names(self) -> tuple[str, ...]:
        return tuple(ns.name for ns in self.namespaces)

    def targets(self) -> tuple[Target, ...]:
        """Endpoints first, then links, in file order."""
        return (*self.endpoints, *self.links)

    def target_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.targets())

    def endpoint(self, endpoint_id: str) -> EndpointPlan:
        found = next((e for e in self.endpoints if e.id == endpoint_id), None)
        return found if found is not None else self._unknown(endpoint_id)

    def link(self, key: str) -> LinkPlan:
        """The link `site/link`."""
        found = next((link for link in self.links if link.key == key), None)
        return found if found is not None else self._unknown(key)

    def target(self, name: str) -> Target:
        """An endpoint by id or a link by site/link."""
        return self.link(name) if "/" in name else self.endpoint(name)

    def _unknown(self, name: str) -> NoReturn:
        known = self.target_names()
        listed = ", ".join(known[:6]) + (", …" if len(known) > 6 else "")
        raise UnknownTargetError(
            f"unknown target {name!r}: expected a link as site/link or an endpoint id, "
            f"such as {listed} ({len(known)} in all)"
        )

    def owners(self) -> tuple[str, ...]:
        """Ids of the sites and endpoints, in the order of their namespaces."""
        return tuple(ns.owner for ns in self.namespaces if ns.role is not Role.HUB)

    def owner_namespace(self, owner: str) -> Namespace:
        """The namespace of a site or endpoint, by its id."""
        found = next((ns for ns in self.namespaces if ns.owner == owner and ns.owner), None)
        if found is None:
            known = self.owners()
            listed = ", ".join(known[:6]) + (", …" if len(known) > 6 else "")
            raise UnknownTargetError(
                f"unknown site or endpoint {owner!r}: expected an id such as {listed} "
                f"({len(known)} in all)"
            )
        return found

    def agents_of(self, owner: str) -> tuple[AgentPlan, ...]:
        """The agents in the namespace of this site or endpoint."""
        namespace = self.owner_namespace(owner).name
        return tuple(a for a in self.agents if a.namespace == namespace)

    def agent(self, name: str) -> AgentPlan:
        return next(a for a in self.agents if a.name == name)

    def neighbours_through(self, port: Port) -> tuple[Neighbour, ...]:
        """The permanent neighbours on this port: downing it flushed them too."""
        return tuple(n for n in self.neighbours if n.port == port)

    def routes_through(self, port: Port) -> tuple[Route, ...]:
        """The routes that leave by this port: what downing it flushed."""
        return tuple(
            r for r in self.routes if r.namespace == port.namespace and r.device == port.device
        )

    def describe(self) -> dict[str, Any]:
        """A JSON-able picture of the plan (the state file keeps it)."""
        return {
            "prefix": self.prefix,
            "network": str(self.network),
            "monitor": str(self.monitor),
            "hub": str(self.hub),
            "namespaces": [[n.name, n.role.value, n.owner, n.forwarding] for n in self.namespaces],
            "veths": [
                [*_port(v.left), v.left_mac, *_port(v.right), v.right_mac] for v in self.veths
            ],
            "addresses": [[*_port(a.port), str(a.interface)] for a in self.addresses],
            "routes": [[r.namespace, *r.spec()] for r in self.routes],
            "rules": [[r.namespace, *r.spec()] for r in self.rules],
            "neighbours": [[n.port.namespace, *n.spec()] for n in self.neighbours],
            "endpoints": {e.id: _describe_endpoint(e) for e in self.endpoints},
            "links": {link.key: _describe_link(link) for link in self.links},
            "sites": dict(self.sites),
            "agents": {a.name: a.describe() for a in self.agents},
        }

    def fingerprint(self) -> str:
        text = json.dumps(self.describe(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _port(port: Port) -> list[str | None]:
    return [port.namespace, port.device]


def _describe_endpoint(e: EndpointPlan) -> dict[str, Any]:
    return {
        "namespace": e.namespace,
        "address": str(e.address),
        "carrier_side": _port(e.carrier_side),
        "own_side": _port(e.own_side),
    }


def _describe_link(link: LinkPlan) -> dict[str, Any]:
    return {
        "address": str(link.address),
        "upstream": link.upstream,
        "gateway": str(link.gateway),
        "table": link.table,
        "carrier_side": _port(link.carrier_side),
        "site_side": _port(link.site_side),
    }


# --- addresses derived from the lab network: the plan of monitor.model.labplan, and MACs ---


def mac_address(prefix: str, veth: int, side: int) -> str:
    """A locally administered unicast MAC: 02, a byte of the prefix, the veth number, the side."""
    tag = zlib.crc32(prefix.encode()) & 0xFF
    number = veth.to_bytes(3, "big").hex(":")
    return f"02:{tag:02x}:{number}:{side:02x}"


# --- checks -----------------------------------------------------------------


def _require_lab(inventory: Inventory) -> Lab:
    if inventory.lab is None:
        raise LabPlanError(f"{inventory.source}: no [lab] section, so there is no lab to build")
    return inventory.lab


def _check_lab(lab: Lab) -> list[str]:
    problems = []
    if not PREFIX_PATTERN.fullmatch(lab.prefix):
        problems.append(
            f"lab.prefix {lab.prefix!r}: expected 1-11 lower-case letters or digits, "
            "starting with a letter (it names namespaces and interfaces)"
        )
    if not lab.network.is_private or lab.network.prefixlen > LARGEST_LAB_PREFIXLEN:
        problems.append(
            f"lab.network {lab.network}: expected a private IPv4 range of "
            f"/{LARGEST_LAB_PREFIXLEN} or larger (its last /24 is kept for transit)"
        )
    return problems


def _check_address(where: str, text: str, network: IPv4Network, seen: dict[str, str]) -> list[str]:
    try:
        address = ip_address(text)
    except ValueError:
        return [f"{where}: address {text!r} is not an IP address"]
    if not isinstance(address, IPv4Address) or address not in network:
        return [f"{where}: address {text} is outside the lab network {network}"]
    if address in infra_block(network):
        return [f"{where}: address {text} is in {infra_block(network)}, kept for lab transit"]
    if address in {network.network_address, network.broadcast_address}:
        return [f"{where}: address {text} is the network or broadcast address of {network}"]
    if text in seen:
        return [f"{where}: address {text} is also used by {seen[text]}"]
    seen[text] = where
    return []


def _check_addresses(inventory: Inventory, network: IPv4Network) -> list[str]:
    seen: dict[str, str] = {}
    problems: list[str] = []
    for e in inventory.endpoints:
        problems += _check_address(f"endpoint {e.id}", e.address, network, seen)
    endpoint_ids = {e.id for e in inventory.endpoints}
    for link in inventory.links():
        problems += _check_address(f"link {link.key}", link.address, network, seen)
        if link.upstream is not None and link.upstream not in endpoint_ids:
            problems.append(f"link {link.key}: upstream {link.upstream!r} is not an endpoint id")
    return problems


def _address_owners(inventory: Inventory) -> dict[str, str]:
    """Each endpoint and link address -> its namespace's owner, as `site x` or `endpoint x`."""
    owners = {str(IPv4Address(e.address)): f"endpoint {e.id}" for e in inventory.endpoints}
    for site in inventory.sites:
        owners.update({str(IPv4Address(link.address)): f"site {site.id}" for link in site.links})
    return owners


def device_owner(device: Device) -> str:
    return f"endpoint {device.endpoint}" if device.endpoint is not None else f"site {device.site}"


def _check_device(device: Device, network: IPv4Network, owners: dict[str, str]) -> list[str]:
    where = f"device {device.owner}/{device.id}"
    problems = _check_address(where, device.address, network, {})
    if problems:
        return problems
    owner = owners.setdefault(str(IPv4Address(device.address)), device_owner(device))
    if owner != device_owner(device):
        return [
            f"{where}: address {device.address} belongs to {owner}; a device lives at an "
            "address of its own site or endpoint, or at one no other namespace uses"
        ]
    return []


def _check_devices(inventory: Inventory, network: IPv4Network) -> list[str]:
    owners = _address_owners(inventory)
    problems: list[str] = []
    for site in inventory.sites:
        if site.devices and not site.links:
            problems.append(f"site {site.id}: has devices but no link to reach them by")
    ups: dict[tuple[str, str], str] = {}
    for device in inventory.devices():
        problems += _check_device(device, network, owners)
        shared = ups.get((device_owner(device), device.address)) if device.ups else None
        if shared is not None:
            problems.append(
                f"device {device.owner}/{device.id}: a UPS at {device.address}, where UPS "
                f"{shared} is already simulated (one agent serves both)"
            )
        elif device.ups:
            ups[(device_owner(device), device.address)] = device.id
    return problems


def _check(inventory: Inventory, lab: Lab) -> list[str]:
    problems = _check_lab(lab)
    if len(inventory.endpoints) > MAX_ENDPOINTS:
        problems.append(
            f"{len(inventory.endpoints)} endpoints: the lab has room for at most {MAX_ENDPOINTS} "
            f"(one /{TRANSIT_PREFIXLEN} each in {infra_block(lab.network)})"
        )
    if not problems:
        problems += _check_addresses(inventory, lab.network)
    if not problems:
        problems += _check_devices(inventory, lab.network)
    return problems


# --- the plan ---------------------------------------------------------------


def plan_lab(inventory: Inventory) -> LabPlan:
    """The lab for this inventory, or LabPlanError listing every reason it cannot be."""
    lab = _require_lab(inventory)
    problems = _check(inventory, lab)
    if problems:
        raise LabPlanError(
            f"{inventory.source}: cannot build the lab:\n" + "\n".join(f"  {p}" for p in problems)
        )
    builder = _Builder(lab)
    for number, endpoint in enumerate(inventory.endpoints):
        builder.add_endpoint(number, endpoint.id, IPv4Address(endpoint.address))
    for number, site in enumerate(inventory.sites):
        builder.add_site(number, site.id, site.links)
    for site in inventory.sites:
        builder.add_devices(Role.SITE, site.id, site.devices)
    for endpoint in inventory.endpoints:
        builder.add_devices(Role.ENDPOINT, endpoint.id, endpoint.devices)
    return builder.finish()


def site_device_names(links: tuple[Link, ...]) -> list[str]:
    """Site-side device names: the link id where it is a valid interface name."""
    names = [
        link.id if IFNAME_PATTERN.fullmatch(link.id) and link.id != "lo" else f"l{j}"
        for j, link in enumerate(links)
    ]
    if len(set(names)) != len(names):
        names = [f"l{j}" for j in range(len(links))]
    return names


class _Builder:
    """Collects the plan's parts; used once by `plan_lab`."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.prefix = lab.prefix
        self.hub_ns = f"{lab.prefix}-hub"
        self.monitor = monitor_address(lab.network)
        self.hub = hub_address(lab.network)
        self.namespaces: list[Namespace] = [Namespace(self.hub_ns, Role.HUB, "", forwarding=True)]
        self.veths: list[Veth] = []
        self.addresses: list[Address] = []
        self.routes: list[Route] = []
        self.rules: list[Rule] = []
        self.endpoints: dict[str, EndpointPlan] = {}
        self.transits: dict[str, IPv4Address] = {}  # endpoint id -> its address on the transit
        self.links: list[LinkPlan] = []
        self.sites: list[tuple[str, str]] = []
        self.agents: list[AgentPlan] = []
        self.first_links: dict[str, LinkPlan] = {}  # site namespace -> its first link
        self._add_monitor()

    def _add_veth(self, left: Port, right: Port) -> None:
        number = len(self.veths)
        self.veths.append(
            Veth(
                left,
                right,
                mac_address(self.prefix, number, 1),
                mac_address(self.prefix, number, 2),
            )
        )

    def _neighbours(self) -> tuple[Neighbour, ...]:
        """Every next hop of a route, and the far end of every transit /30."""
        far_mac = {v.left: v.right_mac for v in self.veths} | {
            v.right: v.left_mac for v in self.veths
        }
        hops = [
            (Port(r.namespace, r.device), r.via or IPv4Network(r.destination).network_address)
            for r in self.routes
            if r.device is not None
        ]
        transit = {a.port: a.interface.ip for a in self.addresses if a.port in far_mac}
        for v in self.veths:
            if v.left in transit and v.right in transit:
                hops += [(v.left, transit[v.right]), (v.right, transit[v.left])]
        unique = dict.fromkeys(hops)
        return tuple(Neighbour(port, hop, far_mac[port]) for port, hop in unique)

    def _add_monitor(self) -> None:
        root = Port(None, monitor_device(self.prefix))
        hub_side = Port(self.hub_ns, HUB_DEVICE_TO_MONITOR)
        self._add_veth(root, hub_side)
        self.addresses += [Address(root, self.monitor), Address(hub_side, self.hub)]
        network = str(self.lab.network)
        self.routes.append(Route(None, network, device=root.device, via=self.hub.ip))

    def add_endpoint(self, number: int, endpoint_id: str, address: IPv4Address) -> None:
        ns = f"{self.prefix}-ep{number}"
        self.namespaces.append(Namespace(ns, Role.ENDPOINT, endpoint_id, forwarding=True))
        net = transit(self.lab.network, number + 1)
        hub_end = IPv4Interface((int(net.network_address) + 1, TRANSIT_PREFIXLEN))
        own_end = IPv4Interface((int(net.network_address) + 2, TRANSIT_PREFIXLEN))
        carrier_side = Port(self.hub_ns, f"ep{number}")
        own_side = Port(ns, ENDPOINT_DEVICE_TO_HUB)
        self._add_veth(carrier_side, own_side)
        self.addresses += [
            Address(carrier_side, hub_end),
            Address(own_side, own_end),
            Address(Port(ns, "lo"), IPv4Interface((address, 32))),
        ]
        self.routes += [
            Route(self.hub_ns, f"{address}/32", device=carrier_side.device, via=own_end.ip),
            Route(ns, str(transit(self.lab.network, 0)), device=own_side.device, via=hub_end.ip),
        ]
        self.transits[endpoint_id] = own_end.ip
        self.endpoints[endpoint_id] = EndpointPlan(endpoint_id, address, ns, carrier_side, own_side)

    def add_site(self, number: int, site_id: str, links: tuple[Link, ...]) -> None:
        ns = f"{self.prefix}-s{number}"
        self.namespaces.append(Namespace(ns, Role.SITE, site_id, forwarding=False))
        self.sites.append((site_id, ns))
        for j, (link, device) in enumerate(zip(links, site_device_names(links), strict=True)):
            self._add_link(Port(ns, device), f"s{number}-l{j}", j, link)

    def _add_link(self, site_side: Port, carrier_device: str, j: int, link: Link) -> None:
        address = IPv4Address(link.address)
        upstream = self.endpoints.get(link.upstream) if link.upstream else None
        upstream_ns = upstream.namespace if upstream else self.hub_ns
        gateway = upstream.address if upstream else self.hub.ip
        carrier_side = Port(upstream_ns, carrier_device)
        site_ns = str(site_side.namespace)
        table = LINK_TABLE_BASE + j
        self._add_veth(carrier_side, site_side)
        self.addresses.append(Address(site_side, IPv4Interface((address, 32))))
        host = f"{address}/32"
        self.routes += [
            Route(upstream_ns, host, device=carrier_device),
            Route(
                site_ns, "default", device=site_side.device, via=gateway, table=table, onlink=True
            ),
        ]
        if upstream is not None:
            via = self.transits[upstream.id]
            self.routes.append(
                Route(self.hub_ns, host, device=upstream.carrier_side.device, via=via)
            )
        self.rules.append(Rule(site_ns, address, table, LINK_RULE_PRIORITY_BASE + j))
        link_plan = LinkPlan(
            link.key,
            link.site,
            address,
            link.upstream,
            upstream_ns,
            gateway,
            table,
            carrier_side,
            site_side,
        )
        self.links.append(link_plan)
        self.first_links.setdefault(site_ns, link_plan)

    def _namespace_addresses(self, namespace: str) -> set[IPv4Address]:
        return {a.interface.ip for a in self.addresses if a.port.namespace == namespace}

    def add_devices(self, role: Role, owner: str, devices: tuple[Device, ...]) -> None:
        """One agent per address of these devices, in the owner's namespace."""
        namespace = next(n.name for n in self.namespaces if n.role is role and n.owner == owner)
        by_address: dict[IPv4Address, list[Device]] = {}
        for device in devices:
            by_address.setdefault(IPv4Address(device.address), []).append(device)
        for address, sharing in by_address.items():
            own = address not in self._namespace_addresses(namespace)
            if own:
                self._add_device_address(role, owner, namespace, address, sharing[0].via)
            self.agents.append(
                AgentPlan(
                    name=f"{namespace}-{address}",
                    namespace=namespace,
                    owner=owner,
                    role=role,
                    address=address,
                    ports=tuple(dict.fromkeys(d.port for d in sharing)),
                    devices=tuple(d.key for d in sharing),
                    own_address=own,
                )
            )

    def _add_device_address(
        self, role: Role, owner: str, namespace: str, address: IPv4Address, link: str | None
    ) -> None:
        """An address of a device's own on `lo`: behind the endpoint, or behind the site's
        link the device is polled over (`via` in the file; the first link when it does not say)."""
        self.addresses.append(Address(Port(namespace, "lo"), IPv4Interface((address, 32))))
        host = f"{address}/32"
        if role is Role.ENDPOINT:
            endpoint = self.endpoints[owner]
            via = self.transits[owner]
            self.routes.append(
                Route(self.hub_ns, host, device=endpoint.carrier_side.device, via=via)
            )
            return
        first = next(
            (plan for plan in self.links if plan.key == f"{owner}/{link}"),
            self.first_links[namespace],
        )
        self.routes.append(Route(first.upstream_namespace, host, device=first.carrier_side.device))
        if first.upstream is not None:
            endpoint = self.endpoints[first.upstream]
            via = self.transits[first.upstream]
            self.routes.append(
                Route(self.hub_ns, host, device=endpoint.carrier_side.device, via=via)
            )
        priority = DEVICE_RULE_PRIORITY_BASE + sum(r.namespace == namespace for r in self.rules)
        self.rules.append(Rule(namespace, address, first.table, priority))

    def finish(self) -> LabPlan:
        network = str(self.lab.network)
        for ns in self.namespaces:
            if ns.forwarding:
                self.routes.append(Route(ns.name, network, unreachable=True))
        return LabPlan(
            prefix=self.prefix,
            network=self.lab.network,
            monitor=self.monitor,
            hub=self.hub,
            namespaces=tuple(self.namespaces),
            veths=tuple(self.veths),
            addresses=tuple(self.addresses),
            routes=tuple(self.routes),
            rules=tuple(self.rules),
            neighbours=self._neighbours(),
            endpoints=tuple(self.endpoints.values()),
            links=tuple(self.links),
            sites=tuple(self.sites),
            agents=tuple(self.agents),
        )
