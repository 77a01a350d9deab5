"""Routing, grouping, repeats, resolves, silences, acknowledgements, escalation.

Alertmanager's model, with its timers: an alert follows the ordered routes
whose matchers fit it (on, past a route with `continue`); for each route
and receiver it joins the group of its `group_by` labels. A new group
waits `group_wait` (to gather an endpoint and the sites it cuts into one
notification), then changes go out at most every `group_interval`, and an
unchanged firing group is repeated every `repeat_interval`.

Three departures, each asked for by its users: a silence mutes an alert but
never hides its *resolution* from the receivers that saw it fire; an
acknowledged alert stops repeating and escalating; and news that is worse
than what a group last said does not wait for `group_interval`. An alert
that joins a group with a higher severity than the group was last notified
with, or turns critical during an exam session, goes out after `group_wait`
at most: a site that lost redundancy 30 s after its first link went down
must not be told 3.5 min later, after the repair (issue 9.4).

Timers run on the clock's monotonic time, so a step of the wall clock (an
NTP correction) neither fires nor holds them; wall time is only what people
read (notification times, alert ends) and what silences are written in.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import count
from typing import Protocol

from alerts.model import Alert, Notification, Reason
from monitor.model.clock import Clock
from monitor.model.matchers import Matcher, matches_all
from monitor.model.vocabulary import severity_rank

NOTHING = -1  # the rank of a group that told of no firing alert (and of an unknown severity)


def rank(alert: Alert) -> int:
    return severity_rank(alert.labels.get("severity", ""))


class RouteLike(Protocol):
    """What the engine reads of a route (monitor.model.alerting.Route)."""

    @property
    def matchers(self) -> tuple[Matcher, ...]: ...
    @property
    def receivers(self) -> tuple[str, ...]: ...
    @property
    def group_by(self) -> tuple[str, ...]: ...
    @property
    def group_wait(self) -> float: ...
    @property
    def group_interval(self) -> float: ...
    @property
    def repeat_interval(self) -> float: ...
    @property
    def continue_(self) -> bool: ...
    @property
    def escalate_to(self) -> str | None: ...
    @property
    def escalate_after(self) -> float: ...


class SilenceLike(Protocol):
    @property
    def matchers(self) -> tuple[Matcher, ...]: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...


@dataclass
class Group:
    """One route's receiver's alerts of one group; its times are monotonic seconds."""

    key: str
    receiver: str
    route: RouteLike
    labels: dict[str, str]
    next_flush: float
    alerts: dict[str, Alert] = field(default_factory=dict)
    notified: dict[str, float] = field(default_factory=dict)  # firing, told; since when
    last_notified_at: float | None = None
    told_rank: int = NOTHING  # the highest severity of the firing alerts last told
    escalated: set[str] = field(default_factory=set)
    escalation_of: str | None = None  # the group whose alerts this one escalates


class AlertEngine:
    def __init__(
        self,
        routes: Sequence[RouteLike],
        *,
        clock: Clock,
        language_of: Callable[[str], str],
        in_session: Callable[[datetime], bool],
    ) -> None:
        self.routes = tuple(routes)
        self.clock = clock
        self._language_of = language_of
        self._in_session = in_session
        self.groups: dict[str, Group] = {}
        self.silences: tuple[SilenceLike, ...] = ()
        self.acked: frozenset[str] = frozenset()
        self._retired = count()

    # --- inputs -----------------------------------------------------------------

    def update(self, alert: Alert) -> None:
        """A new alert, or a newer version of one (severity rose, it resolved).

        An alert's labels are its identity to receivers (Alertmanager keys
        alerts by them): when they change, whoever was told the old ones is
        told those resolved and the new ones firing, never left with a ghost.
        """
        fp = alert.fingerprint
        mono = self.clock.monotonic()
        chosen = set()
        for index, route in self._routes_for(alert):
            for receiver in route.receivers:
                chosen.add(self._group(index, route, receiver, alert, mono).key)
        for key, group in self.groups.items():
            old = group.alerts.get(fp)
            if old is not None and old.labels != alert.labels:
                if not alert.firing:  # resolve exactly what they were told
                    group.alerts[fp] = replace(alert, labels=old.labels)
                    continue
                if fp in group.notified:
                    self._retire(group, old)
                del group.alerts[fp]
            # where it is routed now; and where it already was with the same labels, or
            # was escalated to: keep it current there
            same = old is not None and old.labels == alert.labels
            if key in chosen or same or (old is not None and group.escalation_of is not None):
                group.alerts[fp] = alert
                self._hasten(group, old, alert, mono)

    def _hasten(self, group: Group, old: Alert | None, alert: Alert, mono: float) -> None:
        """Worse news than the group last told waits group_wait at most, not group_interval."""
        if group.last_notified_at is None or not alert.firing:
            return  # a group not told yet waits group_wait anyway
        worse = rank(alert) > group.told_rank
        turned_critical = (
            old is not None
            and old.labels.get("severity") != "critical"
            and alert.labels.get("severity") == "critical"
            and self._in_session(self.clock.now())
        )
        if worse or turned_critical:
            group.next_flush = min(group.next_flush, mono + group.route.group_wait)

    def _retire(self, group: Group, old: Alert) -> None:
        """The version told before a label change, resolved now under a key of its own."""
        key = f"{old.fingerprint}~{next(self._retired)}"
        group.alerts[key] = replace(old, fingerprint=key, ends_at=self.clock.now())
        group.notified[key] = group.notified.pop(old.fingerprint)

    def set_silences(self, silences: Iterable[SilenceLike]) -> None:
        self.silences = tuple(silences)

    def set_acked(self, fingerprints: Iterable[str]) -> None:
        self.acked = frozenset(fingerprints)

    def muted(self, alert: Alert, now: datetime) -> bool:
        """Silences are appointments people made: they start and end on the wall clock."""
        return any(
            s.start <= now < s.end and matches_all(s.matchers, alert.labels) for s in self.silences
        )

    # --- outputs ----------------------------------------------------------------

    def flush(self) -> list[Notification]:
        """Every notification due now; call it often (every second or so)."""
        now, mono = self.clock.now(), self.clock.monotonic()
        out: list[Notification] = []
        for group in list(self.groups.values()):
            self._escalate(group, now, mono)
        for key, group in list(self.groups.items()):
            if mono >= group.next_flush:
                notification = self._flush(group, now, mono)
                if notification is not None:
                    out.append(notification)
            if not group.alerts:
                del self.groups[key]
        return out

    # --- groups -----------------------------------------------------------------

    def _routes_for(self, alert: Alert) -> list[tuple[int, RouteLike]]:
        """The routes that take the alert, with their places in the file (part of group keys)."""
        chosen = []
        for index, route in enumerate(self.routes):
            if matches_all(route.matchers, alert.labels):
                chosen.append((index, route))
                if not route.continue_:
                    break
        return chosen

    def _group(
        self, index: int, route: RouteLike, receiver: str, alert: Alert, mono: float
    ) -> Group:
        labels = {name: alert.labels.get(name, "") for name in route.group_by}
        key = f"{index}|{receiver}|" + "|".join(f"{k}={v}" for k, v in sorted(labels.items()))
        group = self.groups.get(key)
        if group is None:
            group = Group(key, receiver, route, labels, next_flush=mono + route.group_wait)
            self.groups[key] = group
        return group

    def _flush(self, group: Group, now: datetime, mono: float) -> Notification | None:
        visible = [a for a in group.alerts.values() if a.firing and not self.muted(a, now)]
        new = [a for a in visible if a.fingerprint not in group.notified]
        # resolved: told to those who saw it fire, muted or not
        resolved = [
            a for a in group.alerts.values() if not a.firing and a.fingerprint in group.notified
        ]
        for a in [a for a in group.alerts.values() if not a.firing]:
            del group.alerts[a.fingerprint]  # resolved ones never told are simply dropped
        interval = group.route.group_interval
        if new or resolved:
            for a in new:
                group.notified[a.fingerprint] = mono
            for a in resolved:
                group.notified.pop(a.fingerprint, None)
            reason = self._reason(group, visible)
            self._told(group, visible, mono)
            return self._notification(group, reason, (*visible, *resolved), now)
        group.next_flush = mono + min(interval, 1.0)
        return self._repeat(group, visible, now, mono)

    def _told(self, group: Group, visible: list[Alert], mono: float) -> None:
        group.last_notified_at = mono
        group.next_flush = mono + group.route.group_interval
        group.told_rank = max((rank(a) for a in visible), default=NOTHING)

    def _reason(self, group: Group, visible: list[Alert]) -> Reason:
        if group.escalation_of is not None and group.last_notified_at is None:
            return Reason.ESCALATION
        if not visible:
            return Reason.RESOLVED
        return Reason.NEW if group.last_notified_at is None else Reason.UPDATE

    def _repeat(
        self, group: Group, visible: list[Alert], now: datetime, mono: float
    ) -> Notification | None:
        last = group.last_notified_at
        if last is None or mono - last < group.route.repeat_interval:
            return None
        if not [a for a in visible if a.fingerprint not in self.acked]:
            return None  # every firing alert is acknowledged: no repeats
        self._told(group, visible, mono)
        return self._notification(group, Reason.REPEAT, tuple(visible), now)

    def _notification(
        self, group: Group, reason: Reason, alerts: tuple[Alert, ...], now: datetime
    ) -> Notification:
        return Notification(
            id=uuid.uuid4().hex,
            receiver=group.receiver,
            group_key=group.key,
            group_labels=dict(group.labels),
            reason=reason,
            alerts=alerts,
            created_at=now,
            language=self._language_of(group.receiver),
        )

    # --- escalation --------------------------------------------------------------

    def _escalate(self, group: Group, now: datetime, mono: float) -> None:
        """Critical, unacknowledged, in an exam session, told too long ago: go up."""
        route = group.route
        if route.escalate_to is None or group.escalation_of is not None:
            return
        if not self._in_session(now):
            return
        for fp, since in list(group.notified.items()):
            alert = group.alerts.get(fp)
            if (
                alert is None
                or not alert.firing
                or fp in self.acked
                or fp in group.escalated
                or alert.labels.get("severity") != "critical"
                or mono - since < route.escalate_after
            ):
                continue
            group.escalated.add(fp)
            self._escalation_group(group, route.escalate_to, mono).alerts[fp] = alert

    def _escalation_group(self, group: Group, receiver: str, mono: float) -> Group:
        key = f"escalation|{receiver}|{group.key}"
        found = self.groups.get(key)
        if found is None:
            found = Group(
                key,
                receiver,
                group.route,
                dict(group.labels),
                next_flush=mono,
                escalation_of=group.key,
            )
            self.groups[key] = found
        return found

    # --- restart ------------------------------------------------------------------

    def restore(self, last: Iterable[Notification]) -> None:
        """Rebuild what each receiver was told from the last notification of each group.

        Call before the open incidents' alerts are fed in again; `settle`
        after them marks what was told firing but is no longer open as resolved.
        The stored wall times become monotonic ones here, once: how long ago
        each was told, by the wall clock now, is all there is to go on.
        """
        now, mono = self.clock.now(), self.clock.monotonic()
        for note in last:
            route = self._route_of(note.group_key)
            if route is None:
                continue
            told_at = mono - max(0.0, (now - note.created_at).total_seconds())
            group = Group(
                note.group_key,
                note.receiver,
                route,
                dict(note.group_labels),
                next_flush=mono,
                last_notified_at=told_at,
                told_rank=max((rank(a) for a in note.firing), default=NOTHING),
                escalation_of="restored" if note.group_key.startswith("escalation|") else None,
            )
            for alert in note.firing:
                group.alerts[alert.fingerprint] = alert
                group.notified[alert.fingerprint] = told_at
            if group.alerts:
                self.groups[note.group_key] = group

    def settle(self, open_fingerprints: set[str]) -> None:
        """After a restart: what was told firing and is not open any more has resolved."""
        now = self.clock.now()
        for group in self.groups.values():
            for fp, alert in list(group.alerts.items()):
                if alert.firing and fp not in open_fingerprints:
                    group.alerts[fp] = replace(alert, ends_at=now)

    def _route_of(self, group_key: str) -> RouteLike | None:
        head = group_key.removeprefix("escalation|").split("|", 2)
        index = head[0] if not group_key.startswith("escalation|") else head[1].split("|")[0]
        try:
            return self.routes[int(index)]
        except (ValueError, IndexError):
            return None
