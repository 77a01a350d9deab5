"""Judging rounds: per-target UP/DOWN with hysteresis, and the site roll-up.

Pure functions of (state, round, time, thresholds): no I/O, no clock. The
`Evaluator` only keeps the current states and turns transitions into
`StateChange` rows for the pipeline to store, log and export.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from monitor.counters import InterfaceRates
from monitor.figures import RoundFigures
from monitor.inventory import Inventory, Site, Target, Thresholds
from monitor.records import StateChange, SubjectKind
from monitor.snmp_judge import (
    DeviceState,
    DeviceStatus,
    InterfaceState,
    PowerStatus,
    PowerVerdict,
    judge_device,
    judge_interface,
)


class TargetStatus(StrEnum):
    UNKNOWN = "unknown"  # no verdict yet, or the rounds could not run
    UP = "up"
    DOWN = "down"
    CONGESTED = "congested"  # up, but its interface has been near capacity (R3 at risk)


class SiteStatus(StrEnum):
    UNKNOWN = "unknown"
    OK = "ok"
    DEGRADED = "degraded"  # enough carriers, but a link is congested (R3 at risk)
    LOST_REDUNDANCY = "lost_redundancy"  # fewer carriers up than min_carriers (R1 at risk)
    ISOLATED = "isolated"  # no link up at all (R1 violated)


_WORKING = (TargetStatus.UP, TargetStatus.CONGESTED)  # a congested link still carries traffic


@dataclass(frozen=True, slots=True)
class TargetState:
    status: TargetStatus = TargetStatus.UNKNOWN
    lost_rounds: int = 0  # consecutive rounds with every echo lost
    answered_rounds: int = 0  # consecutive rounds with at least one answer
    failed_rounds: int = 0  # consecutive rounds that could not run


@dataclass(frozen=True, slots=True)
class RoundOutcome:
    """What the evaluator needs of a round: its figures and why it failed."""

    figures: RoundFigures
    error: str | None = None  # the round could not run
    loss_reason: str | None = None  # the commonest reason echoes were lost


@dataclass(frozen=True, slots=True)
class Transition:
    previous: str
    status: str
    reason: str


def judge_round(
    state: TargetState, outcome: RoundOutcome, thresholds: Thresholds
) -> tuple[TargetState, Transition | None]:
    """DOWN after `down_after` lost rounds, UP after `up_after` answered ones.

    The first answered round of an UNKNOWN target makes it UP at once: there
    is no outage to confirm. A round that could not run is no evidence
    either way; `down_after` of them in a row make the target UNKNOWN.
    """
    if outcome.error is not None:
        new = replace(state, failed_rounds=state.failed_rounds + 1)
        if state.status is not TargetStatus.UNKNOWN and new.failed_rounds >= thresholds.down_after:
            reason = f"{new.failed_rounds} rounds could not run: {outcome.error}"
            return _moved(new, TargetStatus.UNKNOWN, state.status, reason)
        return new, None
    if outcome.figures.all_lost:
        new = TargetState(state.status, lost_rounds=state.lost_rounds + 1)
        if state.status is not TargetStatus.DOWN and new.lost_rounds >= thresholds.down_after:
            return _moved(new, TargetStatus.DOWN, state.status, _down_reason(new, outcome))
        return new, None
    new = TargetState(state.status, answered_rounds=state.answered_rounds + 1)
    needed = 1 if state.status is TargetStatus.UNKNOWN else thresholds.up_after
    if state.status is not TargetStatus.UP and new.answered_rounds >= needed:
        return _moved(new, TargetStatus.UP, state.status, _up_reason(new, outcome))
    return new, None


def _moved(
    state: TargetState, status: TargetStatus, previous: TargetStatus, reason: str
) -> tuple[TargetState, Transition]:
    return replace(state, status=status), Transition(previous, status, reason)


def _down_reason(state: TargetState, outcome: RoundOutcome) -> str:
    why = f" ({outcome.loss_reason})" if outcome.loss_reason else ""
    return f"every echo lost in {state.lost_rounds} consecutive rounds{why}"


def _up_reason(state: TargetState, outcome: RoundOutcome) -> str:
    f = outcome.figures
    return f"answered {f.received}/{f.sent} echoes in {state.answered_rounds} consecutive rounds"


@dataclass(frozen=True, slots=True)
class SiteVerdict:
    status: SiteStatus
    links_up: int
    carriers_up: tuple[str, ...]
    reason: str


def judge_site(
    site: Site, statuses: Mapping[str, TargetStatus], moment: datetime, *, settled: bool = False
) -> SiteVerdict:
    """Roll a site's active links up: isolated, lost redundancy, ok or unknown.

    `settled`: the site already had a verdict. Until it has, links without a
    verdict might still make up the carriers it needs, so it stays unknown
    rather than claim lost redundancy at start-up.
    """
    links = [link for link in site.links if link.active is None or link.active.contains(moment)]
    status_of = {link.id: statuses.get(f"link:{link.key}", TargetStatus.UNKNOWN) for link in links}
    up = [link for link in links if status_of[link.id] in _WORKING]
    carriers = tuple(sorted({link.carrier for link in up}))
    down = [link.id for link in links if status_of[link.id] is TargetStatus.DOWN]
    if not up and links and len(down) == len(links):
        return SiteVerdict(SiteStatus.ISOLATED, 0, (), "no link up: " + ", ".join(down) + " down")
    pending = [link.id for link in links if status_of[link.id] is TargetStatus.UNKNOWN]
    if len(carriers) < site.min_carriers and pending and not settled:
        reason = "no verdict yet on " + ", ".join(pending)
        return SiteVerdict(SiteStatus.UNKNOWN, len(up), carriers, reason)
    if len(carriers) < site.min_carriers:
        reason = (
            f"{len(carriers)} of {site.min_carriers} required carriers up "
            f"({', '.join(carriers)}); down: {', '.join(down) or 'none'}"
        )
        return SiteVerdict(SiteStatus.LOST_REDUNDANCY, len(up), carriers, reason)
    congested = [link.id for link in links if status_of[link.id] is TargetStatus.CONGESTED]
    if congested:
        reason = f"congested: {', '.join(congested)}; {len(carriers)} carriers up"
        return SiteVerdict(SiteStatus.DEGRADED, len(up), carriers, reason)
    return SiteVerdict(SiteStatus.OK, len(up), carriers, f"{len(carriers)} carriers up")


def commonest_loss_reason(reasons: list[str | None]) -> str | None:
    counted = Counter(r for r in reasons if r)
    return counted.most_common(1)[0][0] if counted else None


class Evaluator:
    """Holds the current states; every call returns the changes it caused.

    A link's reported state combines its ping target and, when it names one,
    its SNMP interface: an interface that is down makes the link DOWN even if
    something still answers ping; sustained utilisation makes it CONGESTED.
    """

    def __init__(
        self, inventory: Inventory, initial: Mapping[tuple[str, str], str] | None = None
    ) -> None:
        self.inventory = inventory
        self._sites = {site.id: site for site in inventory.sites}
        self.targets: dict[str, TargetState] = {}  # ping judgement
        self.interfaces: dict[str, InterfaceState] = {}  # by link target key
        self.reported: dict[str, TargetStatus] = {}  # what was last recorded
        self._ping_reason: dict[str, str] = {}
        self.sites: dict[str, SiteVerdict] = {}
        self.devices: dict[str, DeviceState] = {}
        self.power: dict[str, PowerVerdict] = {}
        for (kind, subject), status in (initial or {}).items():
            self._restore(kind, subject, status)

    def _restore(self, kind: str, subject: str, status: str) -> None:
        # After a restart the last stored state stands until rounds confirm or
        # change it, so a restart neither repeats nor loses a transition.
        if kind == SubjectKind.TARGET and status in _values(TargetStatus):
            reported = TargetStatus(status)
            ping = TargetStatus.UP if reported is TargetStatus.CONGESTED else reported
            self.targets[subject] = TargetState(ping)
            self.reported[subject] = reported
            if reported is TargetStatus.CONGESTED:
                self.interfaces[subject] = InterfaceState(oper_up=True, congested=True)
        elif kind == SubjectKind.SITE and subject in self._sites:
            self.sites[subject] = SiteVerdict(SiteStatus(status), 0, (), "restored")
        elif kind == SubjectKind.DEVICE and status in _values(DeviceStatus):
            self.devices[subject] = DeviceState(DeviceStatus(status))
        elif kind == SubjectKind.POWER and status in _values(PowerStatus):
            self.power[subject] = PowerVerdict(PowerStatus(status), "restored")

    def status(self, target: str) -> TargetStatus:
        return self.reported.get(target, TargetStatus.UNKNOWN)

    def observe(self, target: Target, outcome: RoundOutcome, at: datetime) -> list[StateChange]:
        """A ping round of a link or endpoint."""
        state = self.targets.get(target.key, TargetState())
        new, transition = judge_round(state, outcome, target.thresholds)
        self.targets[target.key] = new
        if transition is not None:
            self._ping_reason[target.key] = transition.reason
        return self._report(target, at, _round_figures(outcome.figures))

    def observe_interface(
        self, target: Target, rates: InterfaceRates, start: datetime, end: datetime
    ) -> list[StateChange]:
        """An SNMP interval of the interface that carries a link."""
        state = self.interfaces.get(target.key, InterfaceState())
        self.interfaces[target.key] = judge_interface(state, rates, start, end, target.thresholds)
        return self._report(target, end, _interface_figures(rates))

    def _link_status(self, key: str) -> tuple[TargetStatus, str]:
        ping = self.targets.get(key, TargetState()).status
        ping_reason = self._ping_reason.get(key, "no verdict yet")
        iface = self.interfaces.get(key)
        if iface is not None and iface.oper_up is False:
            return TargetStatus.DOWN, f"interface {iface.name} is down (ifOperStatus)"
        if ping is TargetStatus.DOWN or iface is None:
            return ping, ping_reason
        if iface.congested:
            return TargetStatus.CONGESTED, (
                f"interface {iface.name} near capacity: utilisation "
                f"{iface.utilisation or 0:.0%}, sustained"
            )
        if self.reported.get(key) is TargetStatus.CONGESTED:
            return ping, f"interface {iface.name} back under its threshold"
        if self.reported.get(key) is TargetStatus.DOWN and ping is TargetStatus.UP:
            return ping, f"interface {iface.name} is up; {ping_reason}"
        return ping, ping_reason

    def _report(self, target: Target, at: datetime, figures: Figures) -> list[StateChange]:
        status, reason = self._link_status(target.key)
        previous = self.reported.get(target.key, TargetStatus.UNKNOWN)
        if status is previous:
            return []
        self.reported[target.key] = status
        transition = Transition(previous, status, reason)
        changes = [_change(SubjectKind.TARGET, target.key, at, transition, figures)]
        if target.site is not None:
            changes += self.reassess_site(target.site, at)
        return changes

    def observe_device(
        self,
        device: str,
        error: str | None,
        at: datetime,
        *,
        timed_out: bool,
        down_after: int,
        note: str = "",
    ) -> list[StateChange]:
        """A poll of an SNMP agent: answered, or why not (`note` adds context)."""
        state = self.devices.get(device, DeviceState())
        new = judge_device(state, error, timed_out, down_after)
        self.devices[device] = new
        if new.status is state.status:
            return []
        reason = "answers" if error is None else f"{new.failed_polls} polls failed: {error}{note}"
        transition = Transition(state.status, new.status, reason)
        return [
            _change(SubjectKind.DEVICE, device, at, transition, {"failed_polls": new.failed_polls})
        ]

    def observe_power(self, owner: str, verdict: PowerVerdict, at: datetime) -> list[StateChange]:
        """A UPS reading for a site or an endpoint."""
        previous = self.power.get(owner)
        self.power[owner] = verdict
        before = previous.status if previous is not None else PowerStatus.UNKNOWN
        if before is verdict.status:
            return []
        transition = Transition(before, verdict.status, verdict.reason)
        return [
            _change(
                SubjectKind.POWER,
                owner,
                at,
                transition,
                {"minutes_remaining": verdict.minutes_remaining},
            )
        ]

    def reassess_site(self, site_id: str, at: datetime) -> list[StateChange]:
        previous = self.sites.get(site_id)
        settled = previous is not None and previous.status is not SiteStatus.UNKNOWN
        verdict = judge_site(self._sites[site_id], self.reported, at, settled=settled)
        self.sites[site_id] = verdict
        if previous is not None and previous.status is verdict.status:
            return []
        before = previous.status if previous is not None else SiteStatus.UNKNOWN
        if previous is None and verdict.status is SiteStatus.UNKNOWN:
            return []
        transition = Transition(before, verdict.status, verdict.reason)
        figures: Figures = {
            "links_up": verdict.links_up,
            "carriers_up": len(verdict.carriers_up),
        }
        return [_change(SubjectKind.SITE, site_id, at, transition, figures)]


Figures = dict[str, float | int | str | None]


def _values(kind: type[StrEnum]) -> set[str]:
    return {member.value for member in kind}


def _round_figures(figures: RoundFigures) -> Figures:
    return {
        "sent": figures.sent,
        "received": figures.received,
        "loss": figures.loss,
        "rtt_avg_ms": None if figures.rtt_avg is None else round(figures.rtt_avg * 1000, 3),
    }


def _interface_figures(rates: InterfaceRates) -> Figures:
    util = rates.utilisation
    return {
        "interface": rates.configured,
        "utilisation": None if util is None else round(util, 4),
        "in_bps": rates.in_bps,
        "out_bps": rates.out_bps,
    }


def _change(
    kind: SubjectKind, subject: str, at: datetime, transition: Transition, figures: Figures
) -> StateChange:
    return StateChange(
        subject_kind=kind,
        subject=subject,
        at=at,
        previous=str(transition.previous),
        state=str(transition.status),
        reason=transition.reason,
        figures=figures,
    )
