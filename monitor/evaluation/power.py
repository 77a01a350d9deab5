"""Power conditions of a site or endpoint: on battery, low, and at risk for the session."""

from __future__ import annotations

from datetime import datetime

from monitor.evaluation.conditions import Figures, Raise
from monitor.evaluation.snmp import PowerVerdict
from monitor.model.calendar import session_at
from monitor.model.inventory import Inventory
from monitor.model.vocabulary import ConditionKind, PowerStatus


def power_conditions(
    inventory: Inventory, verdict: PowerVerdict | None, at: datetime, site: str | None
) -> list[tuple[ConditionKind, Raise | None]]:
    on = verdict is not None and verdict.status in (PowerStatus.ON_BATTERY, PowerStatus.POWER_LOW)
    low = verdict is not None and verdict.status is PowerStatus.POWER_LOW
    reason = verdict.reason if verdict is not None else ""
    minutes: float | None = verdict.minutes_remaining if verdict is not None else None
    figures: Figures = {"minutes_remaining": minutes}
    return [
        (ConditionKind.ON_BATTERY, Raise(reason, site=site, figures=figures) if on else None),
        (ConditionKind.POWER_LOW, Raise(reason, site=site, figures=figures) if low else None),
        (ConditionKind.POWER_AT_RISK, _at_risk(inventory, minutes, at, site) if on else None),
    ]


def _at_risk(
    inventory: Inventory, minutes: float | None, at: datetime, site: str | None
) -> Raise | None:
    """R2: the battery will not carry the site to the end of the running exam session."""
    session = session_at(inventory.calendar, at)
    if session is None or minutes is None:
        return None
    to_go = (session.end - at).total_seconds() / 60
    if minutes >= to_go:
        return None
    return Raise(
        f"{minutes:.0f} minutes of battery left, {to_go:.0f} minutes of {session.name} to go",
        site=site,
        figures={"minutes_remaining": minutes},
    )
