"""The evaluator: observations in, state changes and incidents out.

It keeps the current judgement of every target, site, device and power
source; the judging itself is in pure functions (ping, snmp, sites,
dependencies). Every public call returns the events it caused, in order:
state changes (the headline history) and incident records (open, update,
close). Time comes from the observations and `tick(now)`, never a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from monitor.evaluation import dependencies as deps
from monitor.evaluation import readiness as ready
from monitor.evaluation.conditions import Book, Event, Figures, Raise
from monitor.evaluation.counters import InterfaceRates
from monitor.evaluation.memory import Memory
from monitor.evaluation.ping import (
    QUALITY_KINDS,
    PingState,
    judge_quality,
    judge_reachability,
    quality_words,
)
from monitor.evaluation.power import power_conditions
from monitor.evaluation.restore import restore
from monitor.evaluation.sites import judge_site
from monitor.evaluation.snmp import (
    DeviceState,
    InterfaceState,
    PowerVerdict,
    judge_device,
    judge_interface,
)
from monitor.evaluation.states import RoundOutcome, SiteVerdict
from monitor.model.inventory import Inventory, Target
from monitor.model.records import IncidentRecord, ReadinessRecord, RoundRecord, StateChange
from monitor.model.vocabulary import (
    ConditionKind,
    DeviceStatus,
    SiteStatus,
    SubjectKind,
    TargetKind,
    TargetStatus,
)

_SITE_KINDS = {
    SiteStatus.ISOLATED: ConditionKind.ISOLATED,
    SiteStatus.LOST_REDUNDANCY: ConditionKind.LOST_REDUNDANCY,
    SiteStatus.DEGRADED: ConditionKind.DEGRADED,
}


class Evaluator:
    def __init__(
        self,
        inventory: Inventory,
        initial: Mapping[tuple[str, str], str] | None = None,
        incidents: Iterable[IncidentRecord] = (),
        recent: Mapping[str, Sequence[RoundRecord]] | None = None,
    ) -> None:
        self.memory = Memory.of(inventory)
        restore(self.memory, initial or {}, incidents, recent or {})

    # --- reading --------------------------------------------------------------

    @property
    def inventory(self) -> Inventory:
        return self.memory.inventory

    @property
    def book(self) -> Book:
        return self.memory.book

    @property
    def sites(self) -> dict[str, SiteVerdict]:
        return self.memory.sites

    @property
    def devices(self) -> dict[str, DeviceState]:
        return self.memory.devices

    @property
    def interfaces(self) -> dict[str, InterfaceState]:
        return self.memory.interfaces

    @property
    def power(self) -> dict[str, PowerVerdict]:
        return self.memory.power

    def status(self, target: str) -> TargetStatus:
        return self.memory.status(target)

    @property
    def blind(self) -> bool:
        return (
            self.memory.book.holds(SubjectKind.MONITOR, "examnet", ConditionKind.BLIND) is not None
        )

    def shift(self, delta: timedelta) -> None:
        """The wall clock was stepped by `delta` (monitor.clockwatch): windows, sustain and
        hold, and recovery graces measure the time that really passed, not the step."""
        self.memory.watch.shift(delta)
        for key, iface in self.memory.interfaces.items():
            self.memory.interfaces[key] = replace(
                iface,
                over_since=None if iface.over_since is None else iface.over_since + delta,
                under_since=None if iface.under_since is None else iface.under_since + delta,
                read_at=None if iface.read_at is None else iface.read_at + delta,
            )

    # --- observations ------------------------------------------------------------

    def observe(self, target: Target, outcome: RoundOutcome, at: datetime) -> list[Event]:
        """A ping round of a link, endpoint or control target."""
        t = target.thresholds
        state, transition = judge_reachability(
            self.memory.pings.get(target.key, PingState()), outcome, t
        )
        if transition is not None:
            self.memory.reasons[target.key] = transition.reason
            self.memory.watch.changed(target.key, at, str(transition.status))
        self.memory.pings[target.key] = judge_quality(state, outcome, t)
        self.memory.watch.round(
            target.key, at, outcome.error is not None or outcome.figures.all_lost
        )
        if self._blindness(at):
            return self.memory.book.drain()
        self._settle(target, at, _round_figures(outcome))
        if target.kind is TargetKind.ENDPOINT:
            self._settle_children(target, at)
        elif target.kind is TargetKind.CONTROL:
            for other in self.memory.targets.values():  # verdicts that waited for examnet's uplink
                if other.kind is not TargetKind.CONTROL:
                    self._settle(other, at, {})
        return self.memory.book.drain()

    def observe_interface(
        self, target: Target, rates: InterfaceRates, start: datetime, end: datetime
    ) -> list[Event]:
        """An SNMP interval of the interface that carries a link."""
        state = self.memory.interfaces.get(target.key, InterfaceState())
        self.memory.interfaces[target.key] = judge_interface(
            state, rates, start, end, target.thresholds
        )
        figures: Figures = {"utilisation": rates.utilisation, "interface": rates.configured}
        self._settle(target, end, figures)
        return self.memory.book.drain()

    def observe_device(
        self,
        device: str,
        error: str | None,
        at: datetime,
        *,
        timed_out: bool,
        down_after: int,
        note: str = "",
    ) -> list[Event]:
        """A poll of an SNMP agent: answered, or why not (`note` adds context)."""
        old = self.memory.devices.get(device, DeviceState())
        new = judge_device(old, error, timed_out, down_after)
        self.memory.devices[device] = new
        self.memory.watch.poll(device, at, failed=error is not None)
        self.memory.polled[device] = (error, note)
        if new.status is not old.status:
            self._emit(
                StateChange(
                    SubjectKind.DEVICE,
                    device,
                    at,
                    old.status,
                    new.status,
                    self._device_reason(device, new, error, note),
                    {"failed_polls": new.failed_polls},
                )
            )
        self._settle_device(device, at)
        return self.memory.book.drain()

    def _device_reason(self, device: str, state: DeviceState, error: str | None, note: str) -> str:
        if error is None:
            return "answers"
        parent = self.memory.device_parents.get(device)
        if parent is not None and self.status(parent) is TargetStatus.DOWN:
            # not "wrong community or device down": the path to it is down
            return (
                f"{state.failed_polls} polls failed: no answer: it is polled over "
                f"{parent}, which is down"
            )
        return f"{state.failed_polls} polls failed: {error}{note}"

    def _settle_device(self, device: str, at: datetime) -> None:
        """Its own unreachability, or an effect of the link it is polled over (quiet)."""
        state = self.memory.devices.get(device, DeviceState())
        unreachable = state.status in (DeviceStatus.NO_ANSWER, DeviceStatus.REFUSED)
        if not unreachable:
            self.memory.book.clear(SubjectKind.DEVICE, device, ConditionKind.DEVICE_UNREACHABLE, at)
            return
        cause = deps.device_attribution(self.memory, device, at)
        if isinstance(cause, deps.Defer | deps.Keep):
            return
        error, note = self.memory.polled.get(device, (state.last_error, ""))
        parent = self.memory.targets.get(self.memory.device_parents.get(device, ""))
        owner = self.memory.known_devices.get(device)
        self.memory.book.raise_(
            SubjectKind.DEVICE,
            device,
            ConditionKind.DEVICE_UNREACHABLE,
            at,
            Raise(
                self._device_reason(device, state, error, note),
                carrier=parent.carrier if parent is not None else None,
                site=owner.site if owner is not None else None,
                cause=cause,
                quiet=cause is not None,
            ),
        )

    def _settle_devices_behind(self, target: str, at: datetime) -> None:
        for device, parent in self.memory.device_parents.items():
            if parent == target:
                self._settle_device(device, at)

    def observe_power(self, owner: str, verdict: PowerVerdict, at: datetime) -> list[Event]:
        """A UPS reading for a site or an endpoint."""
        old = self.memory.power.get(owner)
        self.memory.power[owner] = verdict
        before = old.status if old is not None else None
        if before is not verdict.status:
            self._emit(
                StateChange(
                    SubjectKind.POWER,
                    owner,
                    at,
                    before or "unknown",
                    verdict.status,
                    verdict.reason,
                    {"minutes_remaining": verdict.minutes_remaining},
                )
            )
        self._settle_power(owner, at)
        return self.memory.book.drain()

    def tick(self, at: datetime) -> list[Event]:
        """Time passed (a session started or ended): severities and power at risk follow."""
        self.memory.book.tick(at)
        for session in self.memory.inventory.calendar.sessions:
            if session.start <= at:  # readiness is moot once the papers are open
                self.memory.book.clear(
                    SubjectKind.READINESS, session.name, ConditionKind.NOT_READY, at
                )
        for owner in self.memory.power:
            self._settle_power(owner, at)
        for key in list(self.memory.watch.flips):
            target = self.memory.targets.get(key)
            if target is not None:
                self._settle_flapping(target, at)
        return self.memory.book.drain()

    def readiness(self, at: datetime) -> tuple[list[ReadinessRecord], list[Event]]:
        """Snapshots due by now (configured minutes before each session)."""
        records = []
        for session, offset in ready.due(
            self.memory.inventory.calendar,
            self.memory.inventory.readiness,
            at,
            self.memory.readiness_taken,
        ):
            open_count = sum(1 for c in self.memory.book.active.values() if not c.quiet)
            record = ready.snapshot(
                session,
                offset,
                at,
                sites=self.memory.inventory.sites,
                verdicts=self.memory.sites,
                power=self.memory.power,
                open_incidents=open_count,
            )
            records.append(record)
            what = None if record.ready else Raise(ready.words(record))
            self.memory.book.settle(
                SubjectKind.READINESS, session.name, ConditionKind.NOT_READY, at, what
            )
        return records, self.memory.book.drain()

    def reassess_sites(self, at: datetime) -> list[Event]:
        """After the set of active links changed (a mobile BTS came or went)."""
        self._reassess_all(at)
        return self.memory.book.drain()

    def _reassess_all(self, at: datetime) -> None:
        for site in self.memory.inventory.sites:
            self._reassess_site(site.id, at)

    # --- targets ---------------------------------------------------------------

    def _headline(self, target: Target) -> tuple[TargetStatus, str]:
        ping = self.memory.pings.get(target.key, PingState())
        down = self._down_reason(target, ping)
        if down is not None:
            return TargetStatus.DOWN, down
        if ping.status is TargetStatus.UNKNOWN:
            return TargetStatus.UNKNOWN, self.memory.reasons.get(target.key, "no verdict yet")
        troubles = [
            quality_words(k, ping, target.thresholds)[0] for k in QUALITY_KINDS if k in ping.quality
        ]
        iface = self.memory.interfaces.get(target.key)
        if iface is not None and iface.congested:
            troubles.append(
                f"interface {iface.name} near capacity "
                f"(utilisation {iface.utilisation or 0:.0%}, sustained)"
            )
        if troubles:
            return TargetStatus.DEGRADED, "; ".join(troubles)
        if self.memory.reported.get(target.key) is TargetStatus.DEGRADED:
            return TargetStatus.UP, "back to normal"
        if self._interface_held_it_down(target, ping):
            return TargetStatus.UP, f"interface {iface.name if iface else '?'} is up again"
        return TargetStatus.UP, self.memory.reasons.get(target.key, "answers")

    def _interface_held_it_down(self, target: Target, ping: PingState) -> bool:
        """Back up because SNMP says its interface is: its echoes had answered for a while.

        Otherwise the recovery would quote the echoes' reason, which was true
        rounds earlier and not why the link is up now.
        """
        return (
            self.memory.reported.get(target.key) is TargetStatus.DOWN
            and ping.status is TargetStatus.UP
            and ping.answered_rounds > target.thresholds.up_after
        )

    def _down_reason(self, target: Target, ping: PingState) -> str | None:
        """Why the target is down (its interface, its parent, its rounds), or None."""
        iface = self.memory.interfaces.get(target.key)
        if iface is not None and iface.oper_up is False:
            return f"interface {iface.name} is down (ifOperStatus)"
        if ping.status is not TargetStatus.DOWN:
            return None
        parent = self.memory.graph.parent(target)
        if parent is not None and self.status(parent) is TargetStatus.DOWN:
            return f"its upstream {parent} is down"
        return self.memory.reasons.get(target.key, "down")

    def _settle(self, target: Target, at: datetime, figures: Figures) -> None:
        status, reason = self._headline(target)
        previous = self.memory.reported.get(target.key, TargetStatus.UNKNOWN)
        if (
            status is TargetStatus.DOWN
            and previous is not TargetStatus.DOWN
            and isinstance(deps.attribution(self.memory, target, at), deps.Defer)
        ):
            return  # a parent (or examnet's own uplink) is failing too: wait for its verdict
        recaused = self._settle_down(target, at, status, reason, figures)
        if recaused and status is previous and target.site is not None:
            self._reassess_site(target.site, at)  # its cause changed: so may the site's
        if target.kind is not TargetKind.CONTROL:
            self._settle_quality(target, at, figures)
            self._settle_congestion(target, at)
            self._settle_flapping(target, at)
        if status is previous:
            return
        self.memory.reported[target.key] = status
        self.memory.watch.went(target.key, previous, status, at)
        self._emit(
            StateChange(SubjectKind.TARGET, target.key, at, previous, status, reason, dict(figures))
        )
        self._settle_devices_behind(target.key, at)
        if target.site is not None:
            self._reassess_site(target.site, at)

    def _settle_down(
        self, target: Target, at: datetime, status: TargetStatus, reason: str, figures: Figures
    ) -> bool:
        """Raise or clear the target's own down condition; True when its cause changed."""
        kind = deps.down_kind(target)
        if kind is None:
            return False
        if status is not TargetStatus.DOWN:
            self.memory.book.clear(SubjectKind.TARGET, target.key, kind, at)
            return False
        cause = deps.attribution(self.memory, target, at)
        if isinstance(cause, deps.Defer):
            return False  # its parent may be going down: wait for the parent's verdict
        held = self.memory.book.holds(SubjectKind.TARGET, target.key, kind)
        affected = self.memory.graph.affected_sites(target)
        self.memory.book.raise_(
            SubjectKind.TARGET,
            target.key,
            kind,
            at,
            Raise(
                reason,
                carrier=target.carrier,
                site=target.site,
                figures=figures,
                cause=cause,
                affected=affected,
                quiet=cause is not None,
            ),
        )
        return held is not None and held.cause != cause

    def _settle_quality(self, target: Target, at: datetime, figures: Figures) -> None:
        ping = self.memory.pings.get(target.key, PingState())
        for kind in QUALITY_KINDS:
            what = None
            if kind in ping.quality and ping.status is not TargetStatus.DOWN:
                reason, critical = quality_words(kind, ping, target.thresholds)
                what = Raise(reason, critical, target.carrier, target.site, figures)
            self.memory.book.settle(SubjectKind.TARGET, target.key, kind, at, what)

    def _settle_congestion(self, target: Target, at: datetime) -> None:
        iface = self.memory.interfaces.get(target.key)
        what = None
        if iface is not None and iface.congested and iface.oper_up is not False:
            util = iface.utilisation or 0.0
            what = Raise(
                f"interface {iface.name} at {util:.0%} of its capacity, sustained",
                util >= target.thresholds.utilisation_crit,
                target.carrier,
                target.site,
                {"utilisation": util},
            )
        self.memory.book.settle(SubjectKind.TARGET, target.key, ConditionKind.CONGESTED, at, what)

    def _settle_flapping(self, target: Target, at: datetime) -> None:
        t = target.thresholds
        changes = self.memory.watch.recent(target.key, at, t.flap_window)
        active = (
            self.memory.book.holds(SubjectKind.TARGET, target.key, ConditionKind.FLAPPING)
            is not None
        )
        flapping = changes >= t.flap_changes or (active and changes > t.flap_changes // 2)
        what = (
            Raise(
                f"{changes} state changes in the last {t.flap_window / 60:.0f} min",
                carrier=target.carrier,
                site=target.site,
            )
            if flapping
            else None
        )
        self.memory.book.settle(SubjectKind.TARGET, target.key, ConditionKind.FLAPPING, at, what)

    def _settle_children(self, endpoint: Target, at: datetime) -> None:
        for child in self.memory.graph.children(endpoint, at):
            self._settle(child, at, {})
        what = deps.children_down(self.memory, endpoint, at)
        self.memory.book.settle(
            SubjectKind.TARGET, endpoint.key, ConditionKind.CHILDREN_DOWN, at, what
        )

    # --- sites, power, blindness --------------------------------------------------

    def _reassess_site(self, site_id: str, at: datetime) -> None:
        previous = self.memory.sites.get(site_id)
        settled = site_id in self.memory.judged_sites
        verdict = judge_site(
            self.memory.known_sites[site_id], self.memory.reported, at, settled=settled
        )
        if verdict.status is not SiteStatus.UNKNOWN:
            self.memory.judged_sites.add(site_id)
        self.memory.sites[site_id] = verdict
        cause = deps.site_cause(self.memory, self.memory.known_sites[site_id], at)
        for status, kind in _SITE_KINDS.items():
            what = (
                Raise(verdict.reason, site=site_id, cause=cause)
                if (verdict.status is status)
                else None
            )
            if verdict.status is not SiteStatus.UNKNOWN:
                self.memory.book.settle(SubjectKind.SITE, site_id, kind, at, what)
        before = previous.status if previous is not None else SiteStatus.UNKNOWN
        if before is verdict.status or (previous is None and verdict.status is SiteStatus.UNKNOWN):
            return
        self._emit(
            StateChange(
                SubjectKind.SITE,
                site_id,
                at,
                before,
                verdict.status,
                verdict.reason,
                {
                    "links_up": verdict.links_up,
                    "carriers_up": len(verdict.carriers_up),
                    "independent_up": verdict.independent_up,
                },
            )
        )

    def _settle_power(self, owner: str, at: datetime) -> None:
        verdict = self.memory.power.get(owner)
        site = owner if owner in self.memory.known_sites else None
        for kind, what in power_conditions(self.memory.inventory, verdict, at, site):
            self.memory.book.settle(SubjectKind.POWER, owner, kind, at, what)

    def _blindness(self, at: datetime) -> bool:
        """Enter or leave BLIND; True while blind (judgements are frozen, not cleared)."""
        # enter when the control and most targets fail; leave only when the control is
        # back up (not merely "not down": after a restart its state is unknown)
        blind_now = not deps.control_up(self.memory) if self.blind else deps.is_blind(self.memory)
        if blind_now == self.blind:
            return blind_now
        if blind_now:
            self.memory.book.raise_(
                SubjectKind.MONITOR,
                "examnet",
                ConditionKind.BLIND,
                at,
                Raise(
                    "the control target and most targets stopped answering together: "
                    "examnet's own network is down, not the sites'"
                ),
            )
            for key in self.memory.targets:
                self._blank(key, at)
            return True
        self.memory.book.clear(SubjectKind.MONITOR, "examnet", ConditionKind.BLIND, at)
        for target in self.memory.targets.values():
            self._settle(target, at, {})
        self._reassess_all(at)
        return False

    def _blank(self, key: str, at: datetime) -> None:
        previous = self.memory.reported.get(key, TargetStatus.UNKNOWN)
        if previous is not TargetStatus.UNKNOWN:
            self.memory.reported[key] = TargetStatus.UNKNOWN
            self._emit(
                StateChange(
                    SubjectKind.TARGET,
                    key,
                    at,
                    previous,
                    TargetStatus.UNKNOWN,
                    "examnet is blind: its own network is down",
                    {},
                )
            )

    def _emit(self, change: StateChange) -> None:
        # states are stored as their plain values
        self.memory.book.out.append(
            replace(change, previous=str(change.previous), state=str(change.state))
        )


def _round_figures(outcome: RoundOutcome) -> Figures:
    f = outcome.figures
    return {
        "sent": f.sent,
        "received": f.received,
        "loss": f.loss,
        "rtt_ms": None if f.rtt_median is None else round(f.rtt_median * 1000, 3),
    }
