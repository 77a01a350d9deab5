"""The exam calendar as pure functions of a moment.

The scheduler asks what cadence applies now and when that can next change;
the evaluator and metrics ask which phase and session a moment falls in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from monitor.inventory import Calendar, Inventory, Phase, Session, Target


def phase_at(calendar: Calendar, moment: datetime) -> Phase:
    if calendar.during.contains(moment):
        return Phase.DURING
    if calendar.before is not None and calendar.before.contains(moment):
        return Phase.BEFORE
    if calendar.after is not None and calendar.after.contains(moment):
        return Phase.AFTER
    return Phase.OUTSIDE


def session_at(calendar: Calendar, moment: datetime) -> Session | None:
    for session in calendar.sessions:
        if session.start <= moment < session.end:
            return session
    return None


def interval_at(inventory: Inventory, moment: datetime) -> float:
    """Seconds between two rounds of a target: faster while a session runs."""
    if session_at(inventory.calendar, moment) is not None:
        return inventory.probe.session_interval
    return inventory.probe.interval


def active_targets(inventory: Inventory, moment: datetime) -> tuple[Target, ...]:
    """Targets that exist now: a mobile BTS link only inside its window."""
    return tuple(t for t in inventory.targets() if t.is_active(moment))


def _boundaries(inventory: Inventory) -> Iterable[datetime]:
    for session in inventory.calendar.sessions:
        yield session.start
        yield session.end
        for seconds in inventory.readiness:  # readiness snapshots before the session
            yield session.start - timedelta(seconds=seconds)
    for target in inventory.targets():
        if target.active is not None:
            yield target.active.start
            yield target.active.end


def next_change_after(inventory: Inventory, moment: datetime) -> datetime | None:
    """The next moment at which the cadence or the set of active targets changes."""
    later = [b for b in _boundaries(inventory) if b > moment]
    return min(later, default=None)
