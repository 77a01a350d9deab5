"""Building and removing a lab: its plan applied to this machine, then undone.

`up` builds from nothing (after removing a stale or partial lab of the same
prefix), `down` removes what the state file lists, or, without one, whatever
bears the prefix; `changing` hands the impairment commands the state of a
lab that is up as planned. The plan itself is `examlab.topology` (pure).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from examlab import agents
from examlab.errors import LabError
from examlab.shell import CommandError, Shell, batch, in_namespace, ip
from examlab.state import LabState, StateStore, stop_flood
from examlab.topology import LabPlan, Namespace, Veth
from monitor import labguard
from monitor.model.inventory import Device, Lab

log = logging.getLogger(__name__)

NETNS_DIR = Path("/run/netns")
SYS_NET = Path("/sys/class/net")
IPV6_CONF = Path("/proc/sys/net/ipv6/conf")
NFT_BASE_TABLE = "examnet_lab"  # in hub and endpoints, made with the lab
VETH_GROUP = 7700  # every lab veth is in this device group, so one command removes them
GONE_TIMEOUT = 10.0
OPERATIONAL_TIMEOUT = 5.0
OPERATIONAL_POLL = 0.1


# --- what exists --------------------------------------------------------------


def namespace_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def root_link_exists(name: str) -> bool:
    return (SYS_NET / name).exists()


def leftovers(prefix: str) -> tuple[list[str], list[str]]:
    """Namespaces and root links named like this lab's, for when the state file is lost."""
    mark = f"{prefix}-"
    namespaces = sorted(p.name for p in _listdir(NETNS_DIR) if p.name.startswith(mark))
    links = sorted(p.name for p in _listdir(SYS_NET) if p.name.startswith(mark))
    return namespaces, links


def _listdir(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except FileNotFoundError:
        return []


def lab_of(plan: LabPlan) -> Lab:
    return Lab(network=plan.network, prefix=plan.prefix)


def is_current(plan: LabPlan, state: LabState | None) -> bool:
    """Up, complete and built from this very plan."""
    return (
        state is not None
        and state.complete
        and state.fingerprint == plan.fingerprint()
        and all(namespace_exists(n) for n in plan.namespace_names())
        and root_link_exists(plan.monitor_device)
        and labguard.lab_route_present(lab_of(plan))
        and [a.name for a in state.agents] == [a.name for a in plan.agents]
        and state.agents_up()
    )


# --- building -------------------------------------------------------------------

_COMMON_SYSCTLS = (
    # A multi-homed site answers on the link a probe came in by, which strict
    # reverse-path filtering (RFC 3704) may refuse; the lab wants none of it.
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
    # The gateway of a link is the upstream's address on `lo`: answer ARP for it.
    "net.ipv4.conf.all.arp_ignore=0",
    "net.ipv4.conf.default.arp_ignore=0",
)
_IPV6_OFF = ("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
_ROUTER_SYSCTLS = (
    "net.ipv4.ip_forward=1",
    # Send host unreachable for every echo to a downed link: the default mask
    # (6168) rate-limits destination unreachable per peer and against a credit
    # shared by the whole machine, so the monitor, probing many downed links
    # from one address, would hear silence instead.
    "net.ipv4.icmp_ratemask=6160",
)


def _sysctls(ns: Namespace) -> tuple[str, ...]:
    ipv6 = _IPV6_OFF if IPV6_CONF.exists() else ()
    return _COMMON_SYSCTLS + ipv6 + (_ROUTER_SYSCTLS if ns.forwarding else ())


def _add_namespaces(plan: LabPlan, shell: Shell) -> None:
    batch(shell, ["ip"], [f"netns add {n}" for n in plan.namespace_names()])
    lines = [
        shlex.join(["netns", "exec", ns.name, "sysctl", "-q", "-w", *_sysctls(ns)])
        for ns in plan.namespaces
    ]
    batch(shell, ["ip"], lines)


def _veth_line(veth: Veth) -> str:
    left, right = veth.left, veth.right
    group = ["group", str(VETH_GROUP)]
    args = ["link", "add", left.device, "address", veth.left_mac, *group]
    args += ["netns", left.namespace] if left.namespace else []
    args += ["type", "veth", "peer", "name", right.device, "address", veth.right_mac, *group]
    args += ["netns", right.namespace] if right.namespace else []
    return shlex.join(args)


def _add_veths(plan: LabPlan, shell: Shell) -> None:
    batch(shell, ["ip"], [_veth_line(v) for v in plan.veths])
    if (IPV6_CONF / plan.monitor_device).exists():
        # before it is up: no router solicitation or DAD ever leaves P-mon
        shell.run(["sysctl", "-q", "-w", f"net.ipv6.conf.{plan.monitor_device}.disable_ipv6=1"])


def namespace_lines(plan: LabPlan, namespace: str | None) -> list[str]:
    """`ip -batch` lines for one namespace: addresses, links up, neighbours, routes, rules."""
    addresses = [a for a in plan.addresses if a.port.namespace == namespace]
    devices = dict.fromkeys(["lo"] if namespace else [])
    devices.update(dict.fromkeys(a.port.device for a in addresses))
    devices.update(
        dict.fromkeys(
            p.device for v in plan.veths for p in (v.left, v.right) if p.namespace == namespace
        )
    )
    lines = [shlex.join(["addr", "add", str(a.interface), "dev", a.port.device]) for a in addresses]
    lines += [shlex.join(["link", "set", d, "up"]) for d in devices]
    lines += [
        shlex.join(["neigh", "replace", *n.spec()])
        for n in plan.neighbours
        if n.port.namespace == namespace
    ]
    lines += [
        shlex.join(["route", "replace", *r.spec()]) for r in plan.routes if r.namespace == namespace
    ]
    lines += [
        shlex.join(["rule", "add", *r.spec()]) for r in plan.rules if r.namespace == namespace
    ]
    return lines


def unreachable_ruleset(plan: LabPlan) -> str:
    """Host unreachable, from netfilter, for a lab address with no usable route.

    `unreachable N` alone answers through the kernel's ip_error(), which
    allows about one ICMP error per second per source after a burst of five
    (net.ipv4.route.error_cost/error_burst: machine-wide, not per namespace).
    netfilter's reject goes through icmp_send(), governed by icmp_ratemask.
    """
    table = f"ip {NFT_BASE_TABLE}"
    return (
        f"table {table}\ndelete table {table}\ntable {table} {{\n"
        "  chain unreachable {\n"
        "    type filter hook prerouting priority filter; policy accept;\n"
        f"    ip daddr {plan.network} fib daddr type != local fib daddr oif missing"
        " reject with icmp type host-unreachable\n"
        "  }\n}\n"
    )


def _add_unreachable_rules(plan: LabPlan, shell: Shell) -> None:
    for ns in plan.namespaces:
        if ns.forwarding:
            shell.run(in_namespace(ns.name, "nft", "-f", "-"), stdin=unreachable_ruleset(plan))


def build(
    plan: LabPlan, shell: Shell, store: StateStore, devices: Mapping[str, Device]
) -> LabState:
    """Create the lab from nothing, then its agents; on any failure remove what was made."""
    state = LabState.for_plan(plan)
    store.save(state)
    try:
        _add_namespaces(plan, shell)
        _add_veths(plan, shell)
        for ns in plan.namespace_names():
            batch(shell, ip(ns), namespace_lines(plan, ns))
        _add_unreachable_rules(plan, shell)
        batch(shell, ["ip"], namespace_lines(plan, None))
        wait_operational(plan, shell)
        agents.prepare(plan, devices, store.agents_dir)
        state.agents = agents.start(plan, plan.agents, store.agents_dir)
    except (LabError, OSError) as exc:
        teardown(plan.prefix, state, shell, store)
        if isinstance(exc, LabError):
            raise
        raise LabError(f"lab {plan.prefix}: {exc}") from exc
    state.complete = True
    store.save(state)
    return state


def _not_operational(plan: LabPlan, shell: Shell) -> list[str]:
    """The lab's veth ends whose operational state is not UP yet."""
    waiting = []
    for namespace in plan.namespace_names():
        shown = json.loads(shell.run(ip(namespace, "-j", "link", "show", "group", str(VETH_GROUP))))
        waiting += [  # iproute2 6.1 prints {} for each device outside the group
            f"{namespace}/{d['ifname']}" for d in shown if d and d.get("operstate") != "UP"
        ]
    return waiting


def wait_operational(plan: LabPlan, shell: Shell) -> None:
    """Until every veth is operationally up, so the agents never start by reporting
    links down: the kernel's linkwatch sets it up to a second after `link set up`."""
    deadline = time.monotonic() + OPERATIONAL_TIMEOUT
    while waiting := _not_operational(plan, shell):
        if time.monotonic() > deadline:
            raise LabError(
                f"links still not operational after {OPERATIONAL_TIMEOUT:.0f} s: "
                + ", ".join(waiting[:5])
            )
        time.sleep(OPERATIONAL_POLL)


def refuse_overlaps(plan: LabPlan) -> None:
    """Never shadow or be shadowed by a route this lab did not make."""
    clashes = labguard.routes_overlapping(plan.network, plan.monitor_device)
    if clashes:
        listed = ", ".join(f"{r.destination} dev {r.interface}" for r in clashes[:3])
        raise LabError(
            f"the root namespace already routes part of {plan.network} ({listed}): "
            "another lab or network uses it; choose another [lab] network"
        )


def _refresh_agents(
    plan: LabPlan, state: LabState, store: StateStore, devices: Mapping[str, Device]
) -> None:
    """Restart the agents whose credentials changed since `lab up` (the environment's)."""
    changed = {a.name for a in agents.stale(plan, devices, store.agents_dir)}
    if not changed:
        return
    log.info("restarting %d agents whose credentials changed", len(changed))
    agents.stop([p for p in state.agents if p.name in changed])
    running = [plan.agent(p.name) for p in state.agents if p.name in changed and p.pid]
    started = {p.name: p for p in agents.start(plan, running, store.agents_dir)}
    state.agents = [started.get(p.name, p) for p in state.agents]
    store.save(state)


def up(
    plan: LabPlan, shell: Shell, store: StateStore, devices: Mapping[str, Device]
) -> tuple[bool, LabState]:
    """Build the lab unless it is already up as planned; (built, state).

    `devices` (by key) give the agents their credentials and what to simulate.
    """
    with store.locked():
        state = store.load()
        if state is not None and is_current(plan, state):
            _refresh_agents(plan, state, store, devices)
            return False, state
        names = leftovers(plan.prefix)
        if state is not None or names[0] or names[1]:
            log.info("lab %s is stale or partial: removing it before building", plan.prefix)
            teardown(plan.prefix, state, shell, store)
        refuse_overlaps(plan)
        return True, build(plan, shell, store, devices)


# --- removing -------------------------------------------------------------------


def _devices(shell: Shell, namespace: str) -> list[str]:
    links = json.loads(shell.run(ip(namespace, "-j", "link", "show")) or "[]")
    return [str(link["ifname"]) for link in links if link.get("ifname") != "lo"]


def _holds_veth_ends(prefix: str, namespace: str) -> bool:
    """The hub and the endpoints hold one end of every veth of the lab."""
    pattern = rf"{re.escape(prefix)}-(hub|ep\d+)"
    return re.fullmatch(pattern, namespace) is not None


def _delete_veths(shell: Shell, namespace: str) -> None:
    # Deleting a namespace frees its devices later, in a kernel work queue (and
    # never while a process still runs in it); deleting one end of a veth
    # removes the pair before `ip` returns. By group, the kernel unregisters
    # them all at once (~0.1 s for 300; one by one, ~20 ms each).
    try:
        shell.run(ip(namespace, "link", "del", "group", str(VETH_GROUP)))
    except CommandError as exc:
        # An endpoint no link depends on (a core router, a DNS server) has
        # only its hub-facing veth, gone with the hub's group already.
        if "No such device" not in str(exc):
            raise
    strays = _devices(shell, namespace)  # not in our group: made by hand, one by one
    batch(shell, [*ip(namespace), "-force"], [f"link del {d}" for d in strays])
    if strays and _devices(shell, namespace):
        raise LabError(f"devices remain in namespace {namespace} after deleting them")


def processes_in(namespaces: Sequence[str]) -> dict[str, list[int]]:
    """The processes whose network namespace is one of these (one pass over /proc)."""
    wanted: dict[tuple[int, int], str] = {}
    for name in namespaces:
        with suppress(OSError):
            info = os.stat(NETNS_DIR / name)
            wanted[(info.st_dev, info.st_ino)] = name
    found: dict[str, list[int]] = {}
    for entry in _listdir(Path("/proc")):
        if entry.name.isdigit():
            with suppress(OSError):
                info = os.stat(entry / "ns" / "net")
                if (owner := wanted.get((info.st_dev, info.st_ino))) is not None:
                    found.setdefault(owner, []).append(int(entry.name))
    return found


def _wait_gone(namespaces: list[str], links: list[str]) -> None:
    deadline = time.monotonic() + GONE_TIMEOUT
    while any(map(namespace_exists, namespaces)) or any(map(root_link_exists, links)):
        if time.monotonic() > deadline:
            raise LabError(f"namespaces or links still present after {GONE_TIMEOUT:.0f} s")
        time.sleep(0.05)


def teardown(prefix: str, state: LabState | None, shell: Shell, store: StateStore) -> list[str]:
    """Remove what the state lists (or, without a state, whatever bears the prefix)."""
    if state is not None:
        for flood in state.floods:
            stop_flood(flood)
        namespaces, links = state.namespaces, state.root_links
    else:
        namespaces, links = leftovers(prefix)
    # agents first: a process in a namespace keeps it (and its veth ends) alive
    agents.stop(state.agents if state is not None else [])
    agents.stop(agents.recorded_pids(store.agents_dir))
    for link in links:
        if root_link_exists(link):
            shell.run(ip(None, "link", "del", link))
    present = [n for n in namespaces if namespace_exists(n)]
    for namespace in present:
        if _holds_veth_ends(prefix, namespace):
            _delete_veths(shell, namespace)
    notes = [
        f"processes {' '.join(map(str, pids))} still run in {name}: it lingers until they exit"
        for name, pids in processes_in(present).items()
    ]
    batch(shell, ["ip", "-force"], [f"netns del {n}" for n in present])
    _wait_gone(namespaces, links)
    store.remove()
    return notes


def down(prefix: str, shell: Shell, store: StateStore) -> tuple[bool, list[str]]:
    """(whether anything was there, notes for the operator)."""
    with store.locked():
        state = store.load()
        names = leftovers(prefix)
        if state is None and not names[0] and not names[1]:
            return False, []
        return True, teardown(prefix, state, shell, store)


# --- changing a lab that is up ------------------------------------------------------


@contextmanager
def changing(plan: LabPlan, store: StateStore) -> Iterator[LabState]:
    """The current lab's state, locked, saved back after the change."""
    with store.locked():
        state = store.load()
        if state is None or not is_current(plan, state):
            raise LabError(f"lab {plan.prefix} is not up as this file describes: run `lab up`")
        try:
            yield state
        finally:
            state.impairments = {k: v for k, v in state.impairments.items() if not v.is_clear()}
            state.owners = {k: v for k, v in state.owners.items() if not v.is_clear()}
            store.save(state)
