"""Who depends on whom, and what is whose fault.

A link hangs off its upstream endpoint (Nagios parent/child). When the
endpoint is down, the links behind it are down *because of it*: one
carrier-level incident names the endpoint and the sites it touches, and the
links' own conditions are quiet. Two races are handled so a parent's outage
never turns into a burst of child incidents:

- going down: a child that failed before its parent was judged waits
  (DEFER) until the parent's next round says whether it is the parent;
- coming back: children need K answered rounds to come back up, later than
  their parent; for that grace they stay attributed to it — until a child
  fails a round (or a poll) that started after its parent came back: then it
  is down on its own, and its incident is its site's problem at once.

SNMP devices hang off the link or endpoint they are polled over
(`Device.parent`): a router polled over a link behind a dead gateway is
silent because of the gateway, and says so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from monitor.evaluation.conditions import Raise, cause_of
from monitor.evaluation.memory import Graph, Memory
from monitor.evaluation.ping import PingState
from monitor.model.cadence import interval_at, snmp_interval_at
from monitor.model.inventory import Site, Target
from monitor.model.vocabulary import ConditionKind, SubjectKind, TargetKind, TargetStatus


class Defer:
    """Not yet known whose fault it is: the parent has not been judged since."""

    def __repr__(self) -> str:
        return "DEFER"


DEFER: Final = Defer()


class Keep:
    """The parent came back, but the child has not been looked at since: leave it be."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final = Keep()


def down_kind(target: Target) -> ConditionKind | None:
    if target.kind is TargetKind.LINK:
        return ConditionKind.DOWN
    if target.kind is TargetKind.ENDPOINT:
        return ConditionKind.ENDPOINT_DOWN
    return None  # control targets only decide blindness


def attribution(mem: Memory, target: Target, at: datetime) -> str | Defer | None:
    """Whose fault a DOWN is: a parent's (a cause), not yet known, or the target's own.

    examnet's own uplink (the control targets) is everyone's parent: until
    it has been judged, no target is called down.
    """
    if _control_undecided(mem, target.key):
        return DEFER
    if mem.book.holds(SubjectKind.TARGET, target.key, ConditionKind.FLAPPING) is not None:
        return cause_of(("target", target.key, str(ConditionKind.FLAPPING)))
    parent = Graph.parent(target)
    return None if parent is None else _parents_part(mem, parent, target, at)


def _parents_part(mem: Memory, parent: str, target: Target, at: datetime) -> str | Defer | None:
    parent_down = cause_of(("target", parent, str(ConditionKind.ENDPOINT_DOWN)))
    ping = mem.pings.get(parent, PingState())
    if ping.status is TargetStatus.DOWN:
        return parent_down
    if mem.book.holds(SubjectKind.TARGET, parent, ConditionKind.CHILDREN_DOWN) is not None:
        return cause_of(("target", parent, str(ConditionKind.CHILDREN_DOWN)))
    if _parent_undecided(mem, parent, target.key, ping):
        return DEFER
    return parent_down if _in_recovery_grace(mem, parent, target, at) else None


def _control_undecided(mem: Memory, key: str) -> bool:
    for control in mem.controls:
        if control == key:
            return False
        ping = mem.pings.get(control, PingState())
        if ping.status is not TargetStatus.DOWN and _parent_undecided(mem, control, key, ping):
            return True
    return False


def _parent_undecided(mem: Memory, parent: str, child: str, ping: PingState) -> bool:
    if ping.lost_rounds > 0:
        return True  # the parent is failing too: wait for its verdict
    since = mem.watch.lost_since.get(child)
    seen = mem.watch.last_round.get(parent)
    return since is not None and (seen is None or seen < since)  # not probed since


def _in_recovery_grace(mem: Memory, parent: str, child: Target, at: datetime) -> bool:
    """The parent is back, the child not yet: it may be on its way (K answered rounds).

    The grace ends as soon as the child loses a round that started after the
    parent came back: that silence is its own.
    """
    back = mem.watch.back_at.get(parent)
    since = mem.watch.down_since.get(child.key)
    # no time of fall: restored DOWN at start-up, so it fell before the parent came back
    if back is None or (since is not None and since > back):
        return False
    if mem.watch.failed_since(child.key, back):
        return False
    grace = (child.thresholds.up_after + 1) * interval_at(mem.inventory, at)
    if _interface_read_before(mem, child, back):
        grace += snmp_interval_at(mem.inventory, at)  # until a poll after the parent's return
    return (at - back).total_seconds() < grace


def _interface_read_before(mem: Memory, child: Target, back: datetime) -> bool:
    """Its interface was last seen down by a poll taken while the parent was down.

    That reading is stale once the parent is back: the link's echoes may
    answer rounds before the next poll says the interface is up again.
    """
    iface = mem.interfaces.get(child.key)
    return (
        iface is not None
        and iface.oper_up is False
        and (iface.read_at is None or iface.read_at < back)
    )


def down_cause(mem: Memory, parent: str) -> str | None:
    """What a target's silence comes from while it is down: its own cause, else itself."""
    if mem.status(parent) is not TargetStatus.DOWN:
        return None
    target = mem.targets.get(parent)
    kind = down_kind(target) if target is not None else None
    held = mem.book.holds(SubjectKind.TARGET, parent, kind) if kind is not None else None
    if held is None:
        return None
    return held.cause or cause_of(held.key)


def device_attribution(mem: Memory, device: str, at: datetime) -> str | Defer | Keep | None:
    """Whose fault a silent device is: its link's (or endpoint's) outage, not yet known,
    unchanged (the parent just came back), or its own."""
    parent = mem.device_parents.get(device)
    if parent is None:
        return None
    cause = down_cause(mem, parent)
    if cause is not None:
        return cause
    ping = mem.pings.get(parent, PingState())
    if ping.lost_rounds > 0 or mem.status(parent) is TargetStatus.DOWN:
        return DEFER  # the link is failing too: wait for its verdict
    back = mem.watch.back_at.get(parent)
    if back is not None and not mem.watch.failed_since(device, back):
        return KEEP  # not polled since its link came back
    return None


def children_down(mem: Memory, endpoint: Target, at: datetime) -> Raise | None:
    """The endpoint answers, but every link behind it (two or more) is down."""
    if mem.pings.get(endpoint.key, PingState()).status is not TargetStatus.UP:
        return None
    kids = mem.graph.children(endpoint, at)
    if len(kids) < 2:
        return None
    if not all(mem.pings.get(k.key, PingState()).status is TargetStatus.DOWN for k in kids):
        return None
    # just back: its children need their up_after rounds to say so (no 10-second incident)
    if any(_in_recovery_grace(mem, endpoint.key, k, at) for k in kids):
        return None
    sites = mem.graph.affected_sites(endpoint)
    return Raise(
        f"{endpoint.endpoint} answers, but all {len(kids)} links behind it are down "
        f"(sites: {', '.join(sites)})",
        carrier=endpoint.carrier,
        affected=sites,
    )


def site_cause(mem: Memory, site: Site, at: datetime) -> str | None:
    """The one parent condition that explains every down link of the site, if there is one."""
    causes = set()
    for link in site.active_links(at):
        key = link.target_key
        if mem.status(key) is not TargetStatus.DOWN:
            continue
        held = mem.book.holds(SubjectKind.TARGET, key, ConditionKind.DOWN)
        causes.add(held.cause if held is not None else _quiet_cause(mem, key))
    return causes.pop() if len(causes) == 1 else None


def _quiet_cause(mem: Memory, key: str) -> str | None:
    """A down link with no condition of its own: quiet behind its parent's outage.

    After a restart its quiet DOWN is restored from the latest states without
    the cause it had; the parent's outage, restored from its open incident,
    still explains it, so the site keeps its group (no false resolve and re-page).
    """
    target = mem.targets.get(key)
    parent = Graph.parent(target) if target is not None else None
    return down_cause(mem, parent) if parent is not None else None


def control_down(mem: Memory) -> bool:
    return any(mem.pings.get(k, PingState()).status is TargetStatus.DOWN for k in mem.controls)


def control_up(mem: Memory) -> bool:
    """Every control target answers again (unknown, as after a restart, is not back)."""
    return all(mem.pings.get(k, PingState()).status is TargetStatus.UP for k in mem.controls)


def is_blind(mem: Memory) -> bool:
    """A control target down, and most targets failing with it."""
    if not control_down(mem):
        return False
    others = [
        k
        for k, t in mem.targets.items()
        if t.kind is not TargetKind.CONTROL and k in mem.watch.lost
    ]
    if not others:
        return False
    share = sum(mem.watch.lost[k] for k in others) / len(others)
    return share >= mem.inventory.monitor.blind_share
