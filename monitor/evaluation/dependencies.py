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

from collections import deque
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from monitor.evaluation.conditions import Raise, cause_of
from monitor.evaluation.ping import PingState
from monitor.model.cadence import interval_at
from monitor.model.inventory import Inventory, Site, Target
from monitor.model.keys import endpoint_key
from monitor.model.vocabulary import ConditionKind, SubjectKind, TargetKind, TargetStatus

if TYPE_CHECKING:
    from monitor.evaluation.evaluator import Evaluator


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


class Graph:
    """Parents and children among the inventory's targets."""

    def __init__(self, inventory: Inventory) -> None:
        self._children: dict[str, list[Target]] = {}
        for target in inventory.targets():
            if target.kind is TargetKind.LINK and target.endpoint is not None:
                self._children.setdefault(endpoint_key(target.endpoint), []).append(target)

    @staticmethod
    def parent(target: Target) -> str | None:
        if target.kind is TargetKind.LINK and target.endpoint is not None:
            return endpoint_key(target.endpoint)
        return None

    def children(self, endpoint: Target, at: datetime) -> list[Target]:
        return [c for c in self._children.get(endpoint.key, []) if c.is_active(at)]

    def affected_sites(self, target: Target) -> tuple[str, ...]:
        kids = self._children.get(target.key, [])
        return tuple(sorted({c.site for c in kids if c.site is not None}))


def down_kind(target: Target) -> ConditionKind | None:
    if target.kind is TargetKind.LINK:
        return ConditionKind.DOWN
    if target.kind is TargetKind.ENDPOINT:
        return ConditionKind.ENDPOINT_DOWN
    return None  # control targets only decide blindness


class Watch:
    """Timelines the judges need: state flips, last round lost, when things fell and rose."""

    def __init__(self) -> None:
        self.flips: dict[str, deque[datetime]] = {}
        self.lost: dict[str, bool] = {}
        self.down_since: dict[str, datetime] = {}
        self.back_at: dict[str, datetime] = {}
        self.last_round: dict[str, datetime] = {}
        self.lost_since: dict[str, datetime] = {}
        self.failed_poll: dict[str, datetime] = {}  # device -> start of its last failed poll

    def round(self, key: str, at: datetime, lost: bool) -> None:
        self.lost[key] = lost
        self.last_round[key] = at
        if not lost:
            self.lost_since.pop(key, None)
        else:
            self.lost_since.setdefault(key, at)

    def shift(self, delta: timedelta) -> None:
        """The wall clock was stepped by `delta`: move every anchor with it, so that
        windows and graces keep measuring the time that really passed."""
        for flips in self.flips.values():
            for i, moment in enumerate(flips):
                flips[i] = moment + delta
        for anchors in (
            self.down_since,
            self.back_at,
            self.last_round,
            self.lost_since,
            self.failed_poll,
        ):
            for key, moment in anchors.items():
                anchors[key] = moment + delta

    def poll(self, device: str, at: datetime, failed: bool) -> None:
        if failed:
            self.failed_poll[device] = at
        else:
            self.failed_poll.pop(device, None)

    def failed_since(self, key: str, moment: datetime) -> bool:
        """The target lost a round, or the device failed a poll, that started at `moment`
        or later (rounds of one instant: the parent's answer proves the path was back)."""
        round_at = self.last_round.get(key)
        if round_at is not None and round_at >= moment and self.lost.get(key, False):
            return True
        polled = self.failed_poll.get(key)
        return polled is not None and polled >= moment

    def changed(self, key: str, at: datetime, _status: str) -> None:
        self.flips.setdefault(key, deque()).append(at)

    def recent(self, key: str, at: datetime, window: float) -> int:
        flips = self.flips.get(key)
        if not flips:
            return 0
        while flips and (at - flips[0]).total_seconds() > window:
            flips.popleft()
        return len(flips)

    def went(self, key: str, previous: TargetStatus, status: TargetStatus, at: datetime) -> None:
        if status is TargetStatus.DOWN:
            self.down_since[key] = at
        elif previous is TargetStatus.DOWN:
            self.back_at[key] = at


def attribution(ev: Evaluator, target: Target, at: datetime) -> str | Defer | None:
    """Whose fault a DOWN is: a parent's (a cause), not yet known, or the target's own.

    examnet's own uplink (the control targets) is everyone's parent: until
    it has been judged, no target is called down.
    """
    if _control_undecided(ev, target.key):
        return DEFER
    if ev.book.holds(SubjectKind.TARGET, target.key, ConditionKind.FLAPPING) is not None:
        return cause_of(("target", target.key, str(ConditionKind.FLAPPING)))
    parent = Graph.parent(target)
    return None if parent is None else _parents_part(ev, parent, target, at)


def _parents_part(ev: Evaluator, parent: str, target: Target, at: datetime) -> str | Defer | None:
    parent_down = cause_of(("target", parent, str(ConditionKind.ENDPOINT_DOWN)))
    ping = ev.pings.get(parent, PingState())
    if ping.status is TargetStatus.DOWN:
        return parent_down
    if ev.book.holds(SubjectKind.TARGET, parent, ConditionKind.CHILDREN_DOWN) is not None:
        return cause_of(("target", parent, str(ConditionKind.CHILDREN_DOWN)))
    if _parent_undecided(ev, parent, target.key, ping):
        return DEFER
    return parent_down if _in_recovery_grace(ev, parent, target, at) else None


def _control_undecided(ev: Evaluator, key: str) -> bool:
    for control in ev.controls:
        if control == key:
            return False
        ping = ev.pings.get(control, PingState())
        if ping.status is not TargetStatus.DOWN and _parent_undecided(ev, control, key, ping):
            return True
    return False


def _parent_undecided(ev: Evaluator, parent: str, child: str, ping: PingState) -> bool:
    if ping.lost_rounds > 0:
        return True  # the parent is failing too: wait for its verdict
    since = ev.watch.lost_since.get(child)
    seen = ev.watch.last_round.get(parent)
    return since is not None and (seen is None or seen < since)  # not probed since


def _in_recovery_grace(ev: Evaluator, parent: str, child: Target, at: datetime) -> bool:
    """The parent is back, the child not yet: it may be on its way (K answered rounds).

    The grace ends as soon as the child loses a round that started after the
    parent came back: that silence is its own.
    """
    back = ev.watch.back_at.get(parent)
    since = ev.watch.down_since.get(child.key)
    # no time of fall: restored DOWN at start-up, so it fell before the parent came back
    if back is None or (since is not None and since > back):
        return False
    if ev.watch.failed_since(child.key, back):
        return False
    grace = (child.thresholds.up_after + 1) * interval_at(ev.inventory, at)
    return (at - back).total_seconds() < grace


def down_cause(ev: Evaluator, parent: str) -> str | None:
    """What a target's silence comes from while it is down: its own cause, else itself."""
    if ev.status(parent) is not TargetStatus.DOWN:
        return None
    target = ev.targets.get(parent)
    kind = down_kind(target) if target is not None else None
    held = ev.book.holds(SubjectKind.TARGET, parent, kind) if kind is not None else None
    if held is None:
        return None
    return held.cause or cause_of(held.key)


def device_attribution(ev: Evaluator, device: str, at: datetime) -> str | Defer | Keep | None:
    """Whose fault a silent device is: its link's (or endpoint's) outage, not yet known,
    unchanged (the parent just came back), or its own."""
    parent = ev.device_parents.get(device)
    if parent is None:
        return None
    cause = down_cause(ev, parent)
    if cause is not None:
        return cause
    ping = ev.pings.get(parent, PingState())
    if ping.lost_rounds > 0 or ev.status(parent) is TargetStatus.DOWN:
        return DEFER  # the link is failing too: wait for its verdict
    back = ev.watch.back_at.get(parent)
    if back is not None and not ev.watch.failed_since(device, back):
        return KEEP  # not polled since its link came back
    return None


def children_down(ev: Evaluator, endpoint: Target, at: datetime) -> Raise | None:
    """The endpoint answers, but every link behind it (two or more) is down."""
    if ev.pings.get(endpoint.key, PingState()).status is not TargetStatus.UP:
        return None
    kids = ev.graph.children(endpoint, at)
    if len(kids) < 2:
        return None
    if not all(ev.pings.get(k.key, PingState()).status is TargetStatus.DOWN for k in kids):
        return None
    # just back: its children need their up_after rounds to say so (no 10-second incident)
    if any(_in_recovery_grace(ev, endpoint.key, k, at) for k in kids):
        return None
    sites = ev.graph.affected_sites(endpoint)
    return Raise(
        f"{endpoint.endpoint} answers, but all {len(kids)} links behind it are down "
        f"(sites: {', '.join(sites)})",
        carrier=endpoint.carrier,
        affected=sites,
    )


def site_cause(ev: Evaluator, site: Site, at: datetime) -> str | None:
    """The one parent condition that explains every down link of the site, if there is one."""
    causes = set()
    for link in site.active_links(at):
        key = link.target_key
        if ev.status(key) is not TargetStatus.DOWN:
            continue
        held = ev.book.holds(SubjectKind.TARGET, key, ConditionKind.DOWN)
        causes.add(held.cause if held is not None else _quiet_cause(ev, key))
    return causes.pop() if len(causes) == 1 else None


def _quiet_cause(ev: Evaluator, key: str) -> str | None:
    """A down link with no condition of its own: quiet behind its parent's outage.

    After a restart its quiet DOWN is restored from the latest states without
    the cause it had; the parent's outage, restored from its open incident,
    still explains it, so the site keeps its group (no false resolve and re-page).
    """
    target = ev.targets.get(key)
    parent = Graph.parent(target) if target is not None else None
    return down_cause(ev, parent) if parent is not None else None


def control_down(ev: Evaluator) -> bool:
    return any(ev.pings.get(k, PingState()).status is TargetStatus.DOWN for k in ev.controls)


def control_up(ev: Evaluator) -> bool:
    """Every control target answers again (unknown, as after a restart, is not back)."""
    return all(ev.pings.get(k, PingState()).status is TargetStatus.UP for k in ev.controls)


def is_blind(ev: Evaluator) -> bool:
    """A control target down, and most targets failing with it."""
    if not control_down(ev):
        return False
    others = [
        k for k, t in ev.targets.items() if t.kind is not TargetKind.CONTROL and k in ev.watch.lost
    ]
    if not others:
        return False
    share = sum(ev.watch.lost[k] for k in others) / len(others)
    return share >= ev.inventory.monitor.blind_share
