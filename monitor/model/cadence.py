"""The plan's cadence as pure functions of a moment.

The scheduler asks what cadence applies now and when that can next change.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from monitor.model.calendar import session_at
from monitor.model.inventory import Inventory, Target


def interval_at(inventory: Inventory, moment: datetime) -> float:
    """Seconds between two rounds of a target: faster while a session runs."""
    if session_at(inventory.calendar, moment) is not None:
        return inventory.probe.session_interval
    return inventory.probe.interval


def snmp_interval_at(inventory: Inventory, moment: datetime) -> float:
    """Seconds between two polls of a device: faster while a session runs."""
    if session_at(inventory.calendar, moment) is not None:
        return inventory.snmp.session_interval
    return inventory.snmp.interval


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
