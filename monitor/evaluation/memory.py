"""What the evaluator remembers between calls: one explicit object.

The evaluator owns a `Memory` and hands it to the helpers that judge
dependencies (`dependencies`) and pick up after a restart (`restore`):
they read and write this state, never the evaluator itself, so nothing in
the evaluation imports the evaluator back.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from monitor.evaluation.conditions import Book
from monitor.evaluation.ping import PingState
from monitor.evaluation.snmp import DeviceState, InterfaceState, PowerVerdict
from monitor.evaluation.states import SiteVerdict
from monitor.model.inventory import Device, Inventory, Site, Target
from monitor.model.keys import endpoint_key
from monitor.model.vocabulary import TargetKind, TargetStatus


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


@dataclass(slots=True)
class Memory:
    """The inventory as the judges look it up, and every judgement so far."""

    inventory: Inventory
    book: Book
    targets: dict[str, Target]  # link, endpoint and control targets by key
    controls: tuple[str, ...]  # the control targets' keys: examnet's own uplink
    known_sites: dict[str, Site]  # the inventory's sites by id
    graph: Graph
    device_parents: dict[str, str]  # device -> the target it is polled over
    known_devices: dict[str, Device]
    pings: dict[str, PingState] = field(default_factory=dict)
    interfaces: dict[str, InterfaceState] = field(default_factory=dict)
    reported: dict[str, TargetStatus] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)  # the last reachability reason
    sites: dict[str, SiteVerdict] = field(default_factory=dict)
    devices: dict[str, DeviceState] = field(default_factory=dict)
    power: dict[str, PowerVerdict] = field(default_factory=dict)
    watch: Watch = field(default_factory=Watch)
    polled: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # error, note
    judged_sites: set[str] = field(default_factory=set)  # had a verdict since start
    readiness_taken: set[tuple[str, float]] = field(default_factory=set)

    @classmethod
    def of(cls, inventory: Inventory) -> Memory:
        """A fresh memory of `inventory`: nothing judged yet."""
        controls = inventory.control_targets()
        return cls(
            inventory=inventory,
            book=Book(inventory),
            targets={t.key: t for t in (*inventory.targets(), *controls)},
            controls=tuple(t.key for t in controls),
            known_sites={site.id: site for site in inventory.sites},
            graph=Graph(inventory),
            device_parents={d.key: d.parent for d in inventory.devices() if d.parent},
            known_devices={d.key: d for d in inventory.devices()},
        )

    def status(self, target: str) -> TargetStatus:
        return self.reported.get(target, TargetStatus.UNKNOWN)
