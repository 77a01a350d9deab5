"""Impairing a lab that is up: links down, rate, loss, and load (floods).

Each change acts on the machine through `Shell` and records itself in the
lab's state, so `status` reports it and `clear`, `restore` or `down` undo it.
Rates are qdiscs (`examlab.shaping`), loss an nftables table per namespace
rebuilt from the state, and load a bounded UDP sender (`examlab.flood`)
started in the target's upstream namespace.
"""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence

from examlab import shaping
from examlab.flood import parse_rate
from examlab.processes import start_ticks
from examlab.shell import Shell, batch, in_namespace, ip, tc
from examlab.state import Flood, LabState, StateStore, flood_running, stop_flood
from examlab.topology import LabPlan, LinkPlan, Port, Target

log = logging.getLogger(__name__)

NFT_IMPAIR_TABLE = "examnet_impair"  # loss rules, rebuilt on every change
SIDES = ("carrier", "site")


def _restore(plan: LabPlan, shell: Shell, ports: Sequence[Port]) -> None:
    """Put back the neighbours and routes that downing a port flushed (idempotent)."""
    for port in ports:
        lines = [shlex.join(["neigh", "replace", *n.spec()]) for n in plan.neighbours_through(port)]
        lines += [shlex.join(["route", "replace", *r.spec()]) for r in plan.routes_through(port)]
        batch(shell, ip(port.namespace), lines)


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
    some traffic is protected (see `examlab.shaping`)."""
    rate_bps = parse_rate(rate)
    for port in (target.carrier_side, target.far_side):
        if protect:
            _remove_root_qdisc(shell, port)
            batch(shell, tc(port.namespace), shaping.htb_lines(port.device, rate_bps, protect))
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


def restore(plan: LabPlan, state: LabState, target: Target, shell: Shell) -> None:
    """Undo every impairment of a target: qdiscs, loss, both sides down."""
    clear(plan, state, target, shell)
    impairment = state.impairment(target.name)
    if impairment.site_down:
        set_admin(plan, state, target, up=True, shell=shell, side="site")
    set_admin(plan, state, target, up=True, shell=shell)


# --- load -------------------------------------------------------------------------


def flood_origin(plan: LabPlan, target: Target) -> tuple[str, str]:
    """(namespace, source address) a flood towards the target starts from: its upstream."""
    if isinstance(target, LinkPlan):
        return target.upstream_namespace, str(target.gateway)
    return plan.hub_namespace, str(plan.hub.ip)


def start_flood(
    plan: LabPlan, state: LabState, target: Target, *, seconds: float, rate: str, store: StateStore
) -> subprocess.Popen[bytes]:
    """Start `examlab.flood` in the target's upstream namespace; recorded in the state."""
    namespace, source = flood_origin(plan, target)
    argv = in_namespace(
        namespace,
        sys.executable,
        "-m",
        "examlab.flood",
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
