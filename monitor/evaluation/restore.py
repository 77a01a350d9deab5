"""Picking up where a previous run left off, from what the database says.

The last stored state of every subject stands, and every open incident is a
condition that still holds, so a restart neither repeats a transition nor
opens a duplicate incident nor closes one falsely: conditions clear only
when new observations say so.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from monitor.evaluation.figures import RoundFigures
from monitor.evaluation.memory import Memory
from monitor.evaluation.ping import QUALITY_KINDS, PingState, replay
from monitor.evaluation.snmp import DeviceState, InterfaceState, PowerVerdict
from monitor.evaluation.states import RoundOutcome, SiteVerdict
from monitor.model.inventory import Inventory
from monitor.model.records import IncidentRecord, RoundRecord
from monitor.model.vocabulary import (
    ConditionKind,
    DeviceStatus,
    PowerStatus,
    SiteStatus,
    SubjectKind,
    TargetStatus,
)

_OLD_NAMES = {"congested": "degraded"}  # stored by examnet before 0.2


def restore(
    mem: Memory,
    states: Mapping[tuple[str, str], str],
    incidents: Iterable[IncidentRecord],
    recent: Mapping[str, Sequence[RoundRecord]],
) -> None:
    for (kind, subject), status in states.items():
        _restore_state(mem, kind, subject, _OLD_NAMES.get(status, status))
    open_ = [i for i in incidents if i.ended_at is None]
    mem.book.restore(open_)
    for incident in open_:
        _restore_condition(mem, incident)
    for key, rounds in recent.items():
        target = mem.targets.get(key)
        if target is not None and rounds:
            state = mem.pings.get(key, PingState())
            mem.pings[key] = replay(state, map(outcome_of, rounds), target.thresholds)


def outcome_of(record: RoundRecord) -> RoundOutcome:
    """A stored round as the evaluator saw it (milliseconds back to seconds)."""

    def s(ms: float | None) -> float | None:
        return None if ms is None else ms / 1000.0

    figures = RoundFigures(
        record.sent,
        record.received,
        record.loss,
        s(record.rtt_min_ms),
        s(record.rtt_avg_ms),
        s(record.rtt_median_ms),
        s(record.rtt_max_ms),
        s(record.jitter_ms),
    )
    return RoundOutcome(figures, error=record.error)


def _restore_state(mem: Memory, kind: str, subject: str, status: str) -> None:
    if kind == SubjectKind.TARGET and status in TargetStatus._value2member_map_:
        reported = TargetStatus(status)
        mem.reported[subject] = reported
        ping = TargetStatus.UP if reported is TargetStatus.DEGRADED else reported
        mem.pings[subject] = PingState(status=ping)
    elif kind == SubjectKind.SITE and status in SiteStatus._value2member_map_:
        if subject in mem.known_sites:
            mem.sites[subject] = SiteVerdict(SiteStatus(status), 0, (), "restored")
            if status != SiteStatus.UNKNOWN:
                mem.judged_sites.add(subject)
    elif kind == SubjectKind.DEVICE and status in DeviceStatus._value2member_map_:
        mem.devices[subject] = DeviceState(DeviceStatus(status))
    elif kind == SubjectKind.POWER and status in PowerStatus._value2member_map_:
        mem.power[subject] = PowerVerdict(PowerStatus(status), "restored")


def _restore_condition(mem: Memory, incident: IncidentRecord) -> None:
    kind = ConditionKind(incident.kind)
    key = incident.subject
    if kind in QUALITY_KINDS:
        ping = mem.pings.get(key, PingState(status=TargetStatus.UP))
        mem.pings[key] = replace(ping, quality=ping.quality | {kind})
    elif kind in (ConditionKind.DOWN, ConditionKind.ENDPOINT_DOWN) and key in mem.targets:
        # its last verdict was DOWN, even if it was reported UNKNOWN since (examnet
        # blind): one answer must not bring it UP at once as for a target never judged
        ping = mem.pings.get(key, PingState())
        mem.pings[key] = replace(ping, status=TargetStatus.DOWN)
    elif kind is ConditionKind.CONGESTED:
        mem.interfaces[key] = InterfaceState(oper_up=True, congested=True)
    elif kind is ConditionKind.FLAPPING and key in mem.targets:
        # the flips themselves are not stored: it still flaps, as far as we know,
        # until a window without them passes (else a restart would close it falsely)
        changes = mem.targets[key].thresholds.flap_changes
        mem.watch.flips[key] = deque([incident.updated_at] * changes)


def rounds_remembered(inventory: Inventory) -> int:
    """How many rounds per target a restart reads back: the longest memory any
    target's judging has (its baseline, usually)."""
    memories = (
        max(t.baseline_rounds, t.quality_window, t.down_after, t.up_after)
        for t in (target.thresholds for target in inventory.targets())
    )
    return max(memories, default=0)
