"""Readiness snapshots: a while before each exam session, is every site ready?

Not ready: a site isolated, short of independent carriers, unknown, or with
its power low. A degraded site is ready, with a note. Pure functions of the
evaluator's current judgement and the calendar.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from monitor.evaluation.snmp import PowerVerdict
from monitor.evaluation.states import SiteVerdict
from monitor.model.calendar import Calendar, Session
from monitor.model.inventory import Site
from monitor.model.records import ReadinessRecord
from monitor.model.vocabulary import PowerStatus, SiteStatus

NOT_READY = (SiteStatus.ISOLATED, SiteStatus.LOST_REDUNDANCY, SiteStatus.UNKNOWN)


def due(
    calendar: Calendar, offsets: Iterable[float], now: datetime, taken: set[tuple[str, float]]
) -> list[tuple[Session, float]]:
    """Snapshots whose moment has come for sessions not yet started.

    After a late start only the nearest passed moment is taken (the earlier
    ones are marked taken): one snapshot, not a burst of stale ones.
    """
    found = []
    for session in calendar.sessions:
        if now >= session.start:
            continue
        passed = [
            o
            for o in offsets
            if session.start - timedelta(seconds=o) <= now and (session.name, o) not in taken
        ]
        if passed:
            nearest = min(passed)
            taken.update((session.name, o) for o in passed)
            found.append((session, nearest))
    return found


def snapshot(
    session: Session,
    offset: float,
    at: datetime,
    *,
    sites: Iterable[Site],
    verdicts: dict[str, SiteVerdict],
    power: dict[str, PowerVerdict],
    open_incidents: int,
) -> ReadinessRecord:
    all_sites = list(sites)
    not_ready: list[dict[str, str | None]] = []
    for site in all_sites:
        verdict = verdicts.get(site.id)
        state = verdict.status if verdict is not None else SiteStatus.UNKNOWN
        supply = power.get(site.id)
        low = supply is not None and supply.status is PowerStatus.POWER_LOW
        if state in NOT_READY or low:
            not_ready.append(
                {
                    "site": site.id,
                    "state": str(state),
                    "power": None if supply is None else str(supply.status),
                    "reason": verdict.reason if verdict is not None else "no verdict yet",
                }
            )
    return ReadinessRecord(
        session=session.name,
        session_start=session.start,
        taken_at=at,
        seconds_before=round(offset),
        ready=not not_ready,
        sites_total=len(all_sites),
        sites_ready=len(all_sites) - len(not_ready),
        not_ready=tuple(not_ready),
        open_incidents=open_incidents,
    )


def words(record: ReadinessRecord) -> str:
    head = f"{record.session} in {_lead(record.seconds_before)}"
    if record.ready:
        return f"ready for {head}: all {record.sites_total} sites ready"
    listed = ", ".join(_site_words(n) for n in record.not_ready)
    return (
        f"NOT ready for {head}: {record.sites_total - record.sites_ready} of "
        f"{record.sites_total} sites not ready: {listed}"
    )


def _site_words(entry: dict[str, str | None]) -> str:
    power = f", power {entry['power']}" if entry["power"] else ""
    return f"{entry['site']} ({entry['state']}{power})"


def _lead(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"
