"""Applies a lab plan to this machine, changes it, and removes it.

Every change goes through `ip`, `tc`, `nft` and `sysctl`, run by argument list
(`ip -batch` per namespace keeps a 300-site lab to a few hundred processes).
The state file `/run/examnet-lab/{prefix}.json` is written *before* anything
is created and lists every namespace and root link to make, so `down`
removes exactly that even after a crash halfway; it also keeps the
impairments and floods of the running lab. /run is a tmpfs: after a reboot
neither the lab nor its state survives, which is what we want.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.lab import agents, guard, shaping
from monitor.lab.errors import LabError
from monitor.lab.flood import parse_rate
from monitor.lab.processes import is_running, start_ticks, stop_process
from monitor.lab.topology import (
    LabPlan,
    LinkPlan,
    Namespace,
    Port,
    Role,
    Target,
    Veth,
)
from monitor.model.inventory import Device, Lab

log = logging.getLogger(__name__)

STATE_DIR = Path("/run/examnet-lab")
NETNS_DIR = Path("/run/netns")
SYS_NET = Path("/sys/class/net")
IPV6_CONF = Path("/proc/sys/net/ipv6/conf")
NFT_BASE_TABLE = "examnet_lab"  # in hub and endpoints, made with the lab
NFT_IMPAIR_TABLE = "examnet_impair"  # loss rules, rebuilt on every change
SIDES = ("carrier", "site")
_HTB_RATE = re.compile(r"class htb 1:1 .*?\brate (\S+)")
COMMAND_TIMEOUT = 60.0
VETH_GROUP = 7700  # every lab veth is in this device group, so one command removes them
GONE_TIMEOUT = 10.0
OPERATIONAL_TIMEOUT = 5.0
OPERATIONAL_POLL = 0.1
FLOOD_STOP_TIMEOUT = 3.0


class CommandError(LabError):
    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(f"`{shlex.join(argv)}` failed ({returncode}): {stderr.strip()}")
        self.argv = tuple(argv)
        self.returncode = returncode


class Shell:
    """Runs one command; every change to the machine passes through here."""

    def run(self, argv: Sequence[str], stdin: str | None = None, check: bool = True) -> str:
        log.debug("run %s%s", shlex.join(argv), f" <<{stdin!r}" if stdin else "")
        try:
            done = subprocess.run(
                list(argv),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LabError(f"`{shlex.join(argv)}` could not run: {exc}") from exc
        if check and done.returncode != 0:
            raise CommandError(argv, done.returncode, done.stderr)
        return done.stdout


def ip(namespace: str | None, *args: str) -> list[str]:
    return ["ip", *(["-n", namespace] if namespace else []), *args]


def tc(namespace: str | None, *args: str) -> list[str]:
    return ["tc", *(["-n", namespace] if namespace else []), *args]


def in_namespace(namespace: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", namespace, *argv]


# --- state ------------------------------------------------------------------


@dataclass
class Impairment:
    down: bool = False  # the carrier side
    rate: str | None = None
    loss: int | None = None
    site_down: bool = False  # the far side: the site's own interface (an endpoint's own veth)
    protect: list[str] = field(default_factory=list)  # traffic kept out of the rate's queue

    def is_clear(self) -> bool:
        return not (self.down or self.site_down) and self.rate is None and self.loss is None


@dataclass
class OwnerImpairment:
    """What the lab simulates wrongly at a site or endpoint: power, cell load, its agents."""

    power: str | None = None  # battery | low (None: mains)
    cell_load: int | None = None
    snmp_stopped: bool = False

    def is_clear(self) -> bool:
        return self.power is None and self.cell_load is None and not self.snmp_stopped


@dataclass
class Flood:
    pid: int
    start_ticks: int  # /proc/PID/stat field 22: with the pid, names one process for good
    target: str
    until: float  # wall-clock seconds


@dataclass
class LabState:
    prefix: str
    network: str
    fingerprint: str
    namespaces: list[str]
    root_links: list[str]
    created: str
    complete: bool = False
    impairments: dict[str, Impairment] = field(default_factory=dict)
    floods: list[Flood] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)
    agents: list[agents.AgentProcess] = field(default_factory=list)
    owners: dict[str, OwnerImpairment] = field(default_factory=dict)

    @classmethod
    def for_plan(cls, plan: LabPlan) -> LabState:
        return cls(
            prefix=plan.prefix,
            network=str(plan.network),
            fingerprint=plan.fingerprint(),
            namespaces=list(plan.namespace_names()),
            root_links=[plan.monitor_device],
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            plan=plan.describe(),
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabState:
        impairments = {k: Impairment(**v) for k, v in data.pop("impairments", {}).items()}
        floods = [Flood(**f) for f in data.pop("floods", [])]
        processes = [agents.AgentProcess(**a) for a in data.pop("agents", [])]
        owners = {k: OwnerImpairment(**v) for k, v in data.pop("owners", {}).items()}
        return cls(**data, impairments=impairments, floods=floods, agents=processes, owners=owners)

    def impairment(self, target: str) -> Impairment:
        return self.impairments.setdefault(target, Impairment())

    def owner(self, owner: str) -> OwnerImpairment:
        return self.owners.setdefault(owner, OwnerImpairment())

    def agents_up(self) -> bool:
        """Every agent not stopped on purpose still runs."""
        return all(a.running() for a in self.agents if a.pid)


class StateStore:
    """The state file of one lab, and a lock that serialises changes to any lab."""

    def __init__(self, prefix: str, directory: Path = STATE_DIR) -> None:
        self.prefix = prefix
        self.directory = directory

    @property
    def path(self) -> Path:
        return self.directory / f"{self.prefix}.json"

    @property
    def flood_log(self) -> Path:
        return self.directory / f"{self.prefix}.flood.log"

    @property
    def agents_dir(self) -> Path:
        """The agents' private files (0700): configs with secrets, logs, simulation state."""
        return self.directory / self.prefix

    @property
    def environment(self) -> Path:
        """The lab-only secrets of `monitor.lab.environment` (0600)."""
        return self.directory / f"{self.prefix}.env"

    def load(self) -> LabState | None:
        try:
            return LabState.from_json(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError) as exc:
            log.warning("state file %s is unreadable (%s): treating it as lost", self.path, exc)
            return None

    def save(self, state: LabState) -> None:
        self.directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(state), indent=1, ensure_ascii=False))
        temporary.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self.flood_log.unlink(missing_ok=True)
        agents.remove_files(self.agents_dir)
        self.environment.unlink(missing_ok=True)

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


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
        and guard.lab_route_present(lab_of(plan))
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


def _batch(shell: Shell, argv: list[str], lines: list[str]) -> None:
    if lines:
        shell.run([*argv, "-batch", "-"], stdin="\n".join(lines) + "\n")


def _add_namespaces(plan: LabPlan, shell: Shell) -> None:
    _batch(shell, ["ip"], [f"netns add {n}" for n in plan.namespace_names()])
    lines = [
        shlex.join(["netns", "exec", ns.name, "sysctl", "-q", "-w", *_sysctls(ns)])
        for ns in plan.namespaces
    ]
    _batch(shell, ["ip"], lines)


def _veth_line(veth: Veth) -> str:
    left, right = veth.left, veth.right
    group = ["group", str(VETH_GROUP)]
    args = ["link", "add", left.device, "address", veth.left_mac, *group]
    args += ["netns", left.namespace] if left.namespace else []
    args += ["type", "veth", "peer", "name", right.device, "address", veth.right_mac, *group]
    args += ["netns", right.namespace] if right.namespace else []
    return shlex.join(args)


def _add_veths(plan: LabPlan, shell: Shell) -> None:
    _batch(shell, ["ip"], [_veth_line(v) for v in plan.veths])
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
            _batch(shell, ip(ns), namespace_lines(plan, ns))
        _add_unreachable_rules(plan, shell)
        _batch(shell, ["ip"], namespace_lines(plan, None))
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
    clashes = guard.routes_overlapping(plan.network, plan.monitor_device)
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
    _batch(shell, [*ip(namespace), "-force"], [f"link del {d}" for d in strays])
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
    _batch(shell, ["ip", "-force"], [f"netns del {n}" for n in present])
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


# --- impairments ----------------------------------------------------------------


def _restore(plan: LabPlan, shell: Shell, ports: Sequence[Port]) -> None:
    """Put back the neighbours and routes that downing a port flushed (idempotent)."""
    for port in ports:
        lines = [shlex.join(["neigh", "replace", *n.spec()]) for n in plan.neighbours_through(port)]
        lines += [shlex.join(["route", "replace", *r.spec()]) for r in plan.routes_through(port)]
        _batch(shell, ip(port.namespace), lines)


def set_admin(
    plan: LabPlan,
    state: LabState,
    target: Target,
    *,
    up: bool,
    shell: Shell,
    side: str = "carrier",
) -> None:
    """Take a veth of the target down, or bring it back up and put back the
    neighbours and routes that downing flushed (on both ends).

    The carrier side (default) is the upstream's end: for an endpoint, the
    hub's, cutting all behind it. The site side is the site's own interface
    (an endpoint's own veth): the one its agent reports in IF-MIB.
    """
    port = target.carrier_side if side == "carrier" else target.far_side
    shell.run(ip(port.namespace, "link", "set", port.device, "up" if up else "down"))
    if up:
        _restore(plan, shell, (target.carrier_side, target.far_side))
    impairment = state.impairment(target.name)
    if side == "carrier":
        impairment.down = not up
    else:
        impairment.site_down = not up


def tbf_args(rate_bps: int) -> list[str]:
    return shaping.tbf_args(rate_bps)


def set_rate(
    state: LabState, target: Target, rate: str, shell: Shell, protect: Sequence[str] = ()
) -> None:
    """Shape both ends' egress, towards the site and back: tbf, or htb when
    some traffic is protected (see `monitor.lab.shaping`)."""
    rate_bps = parse_rate(rate)
    for port in (target.carrier_side, target.far_side):
        if protect:
            _remove_root_qdisc(shell, port)
            _batch(shell, tc(port.namespace), shaping.htb_lines(port.device, rate_bps, protect))
        else:
            _remove_root_qdisc(shell, port, kinds=("htb",))
            shell.run(
                tc(port.namespace, "qdisc", "replace", "dev", port.device, "root")
                + tbf_args(rate_bps)
            )
    impairment = state.impairment(target.name)
    impairment.rate = rate
    impairment.protect = list(protect)


def _remove_root_qdisc(shell: Shell, port: Port, kinds: Sequence[str] = ("tbf", "htb")) -> None:
    shown = json.loads(shell.run(tc(port.namespace, "-j", "qdisc", "show", "dev", port.device)))
    if any(q.get("root") and q.get("kind") in kinds for q in shown):
        shell.run(tc(port.namespace, "qdisc", "del", "dev", port.device, "root"))


def nft_ruleset(plan: LabPlan, state: LabState, namespace: str) -> str:
    """The whole examnet table of one namespace, rebuilt from the state (idempotent)."""
    lines = [f"table inet {NFT_IMPAIR_TABLE}", f"delete table inet {NFT_IMPAIR_TABLE}"]
    rules = []
    for name, impairment in sorted(state.impairments.items()):
        if impairment.loss is None:
            continue
        target = plan.target(name)
        if target.nft_namespace == namespace:
            rules.append(
                f'    iifname "{target.nft_device}" icmp type echo-request '
                f"numgen random mod 100 < {impairment.loss} drop"
            )
    if rules:
        lines += [
            f"table inet {NFT_IMPAIR_TABLE} {{",
            "  chain loss {",
            "    type filter hook prerouting priority filter; policy accept;",
            *rules,
            "  }",
            "}",
        ]
    return "\n".join(lines) + "\n"


def _apply_nft(plan: LabPlan, state: LabState, namespace: str, shell: Shell) -> None:
    shell.run(in_namespace(namespace, "nft", "-f", "-"), stdin=nft_ruleset(plan, state, namespace))


def set_loss(plan: LabPlan, state: LabState, target: Target, percent: int, shell: Shell) -> None:
    """Drop that share of echo requests arriving over the link (or into the endpoint)."""
    if not 0 <= percent <= 100:
        raise ValueError(f"loss {percent}: expected a percentage from 0 to 100")
    state.impairment(target.name).loss = percent
    _apply_nft(plan, state, target.nft_namespace, shell)


def clear(plan: LabPlan, state: LabState, target: Target, shell: Shell) -> None:
    """Remove the target's qdiscs and loss rules and stop the floods towards it: the
    link back to normal (its admin state stays)."""
    for flood in [f for f in state.floods if f.target == target.name]:
        stop_flood(flood)
    state.floods = [f for f in state.floods if f.target != target.name]
    for port in (target.carrier_side, target.far_side):
        _remove_root_qdisc(shell, port)
    impairment = state.impairment(target.name)
    impairment.rate = None
    impairment.protect = []
    if impairment.loss is not None:
        impairment.loss = None
        _apply_nft(plan, state, target.nft_namespace, shell)


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


def restore(plan: LabPlan, state: LabState, target: Target, shell: Shell) -> None:
    """Undo every impairment of a target: qdiscs, loss, both sides down."""
    clear(plan, state, target, shell)
    impairment = state.impairment(target.name)
    if impairment.site_down:
        set_admin(plan, state, target, up=True, shell=shell, side="site")
    set_admin(plan, state, target, up=True, shell=shell)


# --- floods -----------------------------------------------------------------------


def flood_running(flood: Flood) -> bool:
    return is_running(flood.pid, flood.start_ticks)


def stop_flood(flood: Flood) -> None:
    """Stop one flood by its PID (checked against its start time, so never another process)."""
    stop_process(flood.pid, flood.start_ticks, FLOOD_STOP_TIMEOUT, "flood")


def flood_origin(plan: LabPlan, target: Target) -> tuple[str, str]:
    """(namespace, source address) a flood towards the target starts from: its upstream."""
    if isinstance(target, LinkPlan):
        return target.upstream_namespace, str(target.gateway)
    return plan.hub_namespace, str(plan.hub.ip)


def start_flood(
    plan: LabPlan, state: LabState, target: Target, *, seconds: float, rate: str, store: StateStore
) -> subprocess.Popen[bytes]:
    """Start `monitor.lab.flood` in the target's upstream namespace; recorded in the state."""
    namespace, source = flood_origin(plan, target)
    argv = in_namespace(
        namespace,
        sys.executable,
        "-m",
        "monitor.lab.flood",
        "--destination",
        str(target.address),
        "--network",
        str(plan.network),
        "--source",
        source,
        "--seconds",
        str(seconds),
        "--rate",
        rate,
    )
    log.debug("run %s", shlex.join(argv))
    with store.flood_log.open("ab") as output:
        process = subprocess.Popen(  # `ip netns exec` execs: this PID is the flood's own
            argv,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    state.floods = [f for f in state.floods if flood_running(f)]
    state.floods.append(
        Flood(process.pid, start_ticks(process.pid), target.name, time.time() + seconds)
    )
    return process


# --- status -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TargetStatus:
    name: str
    kind: str
    address: str
    namespace: str
    admin_up: bool | None  # None: its namespace or device is missing
    rate: str | None  # from the kernel's tbf or htb, in bit/s
    loss: int | None
    site_down: bool = False
    protect: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LabStatus:
    prefix: str
    network: str
    state_file: bool
    complete: bool
    current: bool
    namespaces_present: int
    namespaces_planned: int
    root_route: bool
    monitor_address: str
    targets: tuple[TargetStatus, ...]
    floods: tuple[Flood, ...]
    agents_running: int = 0
    agents_planned: int = 0
    owners: tuple[tuple[str, OwnerImpairment], ...] = ()


def _link_flags(shell: Shell, namespace: str | None) -> dict[str, list[str]]:
    if namespace is not None and not namespace_exists(namespace):
        return {}
    links = json.loads(shell.run(ip(namespace, "-j", "link", "show")) or "[]")
    return {str(link["ifname"]): list(link.get("flags", [])) for link in links}


def _rates(shell: Shell, namespace: str | None) -> dict[str, str]:
    if namespace is not None and not namespace_exists(namespace):
        return {}
    shown = json.loads(shell.run(tc(namespace, "-j", "qdisc", "show")) or "[]")
    rates = {
        str(q["dev"]): f"{int(q['options']['rate']) * 8}bit"
        for q in shown
        if q.get("kind") == "tbf" and q.get("root")
    }
    for q in shown:
        if q.get("kind") == "htb" and q.get("root"):
            # iproute2 6.1 prints htb classes as text even with -j
            text = shell.run(tc(namespace, "class", "show", "dev", q["dev"], "classid", "1:1"))
            found = _HTB_RATE.search(text)
            if found:
                rates[str(q["dev"])] = f"{parse_rate(found[1])}bit"
    return rates


def _target_status(
    target: Target,
    flags: dict[str, list[str]],
    rates: dict[str, str],
    impairment: Impairment | None,
) -> TargetStatus:
    device_flags = flags.get(target.carrier_side.device)
    return TargetStatus(
        target.name,
        "link" if isinstance(target, LinkPlan) else "endpoint",
        str(target.address),
        str(target.far_side.namespace),
        None if device_flags is None else "UP" in device_flags,
        rates.get(target.carrier_side.device),
        impairment.loss if impairment else None,
        bool(impairment and impairment.site_down),
        tuple(impairment.protect) if impairment else (),
    )


def status(plan: LabPlan, store: StateStore, shell: Shell) -> LabStatus:
    state = store.load()
    carrier_namespaces = {t.carrier_side.namespace for t in plan.targets()}
    flags = {ns: _link_flags(shell, ns) for ns in carrier_namespaces}
    rates = {ns: _rates(shell, ns) for ns in carrier_namespaces}
    impairments = state.impairments if state else {}
    targets = tuple(
        _target_status(
            t,
            flags[t.carrier_side.namespace],
            rates[t.carrier_side.namespace],
            impairments.get(t.name),
        )
        for t in plan.targets()
    )
    present = sum(namespace_exists(n) for n in plan.namespace_names())
    return LabStatus(
        plan.prefix,
        str(plan.network),
        state is not None,
        bool(state and state.complete),
        is_current(plan, state),
        present,
        len(plan.namespaces),
        guard.lab_route_present(lab_of(plan)),
        str(plan.monitor.ip),
        targets,
        tuple(f for f in (state.floods if state else []) if flood_running(f)),
        sum(a.running() for a in state.agents) if state else 0,
        len(plan.agents),
        tuple(sorted(state.owners.items())) if state else (),
    )


def role_counts(plan: LabPlan) -> dict[Role, int]:
    counts = dict.fromkeys(Role, 0)
    for ns in plan.namespaces:
        counts[ns.role] += 1
    return counts
