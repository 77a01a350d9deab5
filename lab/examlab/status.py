"""What a lab looks like now: the kernel's links and qdiscs read back, with the state's record.

`examnet lab status` prints it; it changes nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from examlab.build import is_current, lab_of, namespace_exists
from examlab.flood import parse_rate
from examlab.shell import Shell, ip, tc
from examlab.state import Flood, Impairment, OwnerImpairment, StateStore, flood_running
from examlab.topology import LabPlan, LinkPlan, Role, Target
from monitor import labguard

_HTB_RATE = re.compile(r"class htb 1:1 .*?\brate (\S+)")


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


def read(plan: LabPlan, store: StateStore, shell: Shell) -> LabStatus:
    """The lab as the kernel and the state file show it now."""
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
        labguard.lab_route_present(lab_of(plan)),
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
