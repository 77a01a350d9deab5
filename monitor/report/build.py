"""The report as data: windows (sessions, phases), per site and carrier, from stored rows.

Pure: the rows come in (incidents with their acks, readiness snapshots), the
report comes out; reading the database is the caller's. Availability is
`monitor.availability`'s Calculator over the same incidents (it tallies only
the outage kinds it is asked for), so the report and /api/availability agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from monitor.availability import Calculator, Options, Span, report, served_sites, subtract, union
from monitor.model.inventory import Inventory
from monitor.model.records import IncidentRecord, ReadinessRecord
from monitor.model.vocabulary import ConditionKind
from monitor.report.rules import (
    ENDPOINT_KINDS,
    Outcome,
    Requirement,
    Window,
    judge_carrier,
    judge_site,
)
from monitor.storage.alert_rows import StoredIncident
from monitor.storage.availability import OUTAGE_KINDS

State = Literal["up", "degraded", "down"]
WindowKind = Literal["session", "phase"]
Named = tuple[WindowKind, str, datetime, datetime]


@dataclass(frozen=True, slots=True)
class Scope:
    """What the report covers: [since, until), one session or all, one carrier or all."""

    since: datetime
    until: datetime
    now: datetime
    session: str | None = None
    carrier: str | None = None


@dataclass(frozen=True, slots=True)
class SiteRow:
    site: str
    name: str
    district: str
    outcomes: dict[Requirement, Outcome]
    availability: float | None
    redundant_availability: float | None
    incidents: int


@dataclass(frozen=True, slots=True)
class CarrierRow:
    carrier: str
    name: str
    outcomes: dict[Requirement, Outcome]
    availability: float | None
    incidents: int
    mttr_seconds: float | None
    time_to_ack_seconds: float | None


@dataclass(frozen=True, slots=True)
class Strip:
    """One site's states over a window, for the site×time chart (up where nothing is said)."""

    site: str
    segments: list[tuple[datetime, datetime, State]]


@dataclass(frozen=True, slots=True)
class WindowReport:
    kind: WindowKind
    name: str
    start: datetime
    end: datetime
    judged_from: datetime  # start, or --from when later
    judged_until: datetime  # end (or --to when earlier), or now while it runs
    sites: list[SiteRow]
    carriers: list[CarrierRow]
    strips: list[Strip]
    readiness: list[ReadinessRecord] = field(default_factory=list)
    unmeasured_seconds: float = 0.0  # of the judged time, no run of the monitor watched

    def counts(self, requirement: Requirement) -> dict[Outcome, int]:
        found: dict[Outcome, int] = defaultdict(int)
        for row in self.sites:
            found[row.outcomes[requirement]] += 1
        return found


@dataclass(frozen=True, slots=True)
class IncidentLine:
    id: int
    record: IncidentRecord
    time_to_ack_seconds: float | None
    time_to_recover_seconds: float | None

    def lasted(self, now: datetime) -> float:
        """How long it lasted, or has lasted so far."""
        return ((self.record.ended_at or now) - self.record.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class Report:
    plan: str
    scope: Scope
    carrier_name: str | None
    windows: list[WindowReport]
    incidents: list[IncidentLine]
    skipped_future: int  # windows not begun yet, left out


def _windows(inventory: Inventory, scope: Scope) -> list[Named]:
    cal = inventory.calendar
    found: list[Named] = [
        ("session", s.name, s.start, s.end) for s in cal.sessions if scope.session in (None, s.name)
    ]
    if scope.session is None:
        phases = (("before", cal.before), ("during", cal.during), ("after", cal.after))
        found += [("phase", name, r.start, r.end) for name, r in phases if r is not None]
    return [w for w in found if w[2] < scope.until and w[3] > scope.since]


class _Index:
    """The incidents by site (endpoint outages under every site they reach) and by carrier."""

    def __init__(self, stored: Sequence[StoredIncident]) -> None:
        self.by_site: dict[str, list[IncidentRecord]] = defaultdict(list)
        self.by_carrier: dict[str, list[IncidentRecord]] = defaultdict(list)
        for s in stored:
            r = s.record
            if r.site is not None:
                self.by_site[r.site].append(r)
            if r.kind in ENDPOINT_KINDS:
                for site in r.affected:
                    if site != r.site:
                        self.by_site[site].append(r)
            if r.carrier is not None:
                self.by_carrier[r.carrier].append(r)


def _strip(records: Iterable[IncidentRecord], window: Window, site: str) -> Strip | None:
    bounds: Span = (window.start, window.end)
    down: list[Span] = []
    other: list[Span] = []
    for r in records:
        if not window.touches(r):
            continue
        span = (max(r.started_at, bounds[0]), min(r.ended_at or bounds[1], bounds[1]))
        (down if r.kind == ConditionKind.ISOLATED else other).append(span)
    if not down and not other:
        return None
    segments: list[tuple[datetime, datetime, State]] = [(s, e, "down") for s, e in union(down)]
    segments += [(s, e, "degraded") for s, e in subtract(other, down)]
    return Strip(site, sorted(segments))


def _window(
    inventory: Inventory, index: _Index, calc: Calculator, scope: Scope, window: Window
) -> tuple[list[SiteRow], list[CarrierRow], list[Strip]]:
    sites = {s.id: s for s in inventory.sites}
    availability = {row["site"]: row for row in report(calc, inventory, "site", scope.carrier)}
    site_rows, strips = [], []
    for ident in served_sites(inventory, scope.carrier):
        # the index holds the window's incidents only
        site, touching = sites[ident], index.by_site.get(ident, [])
        has_ups = any(d.ups for d in site.devices)
        row = availability[ident]
        visible = [r for r in touching if scope.carrier in (None, r.carrier)]
        site_rows.append(
            SiteRow(
                ident,
                site.name,
                site.district,
                judge_site(touching, window, has_ups=has_ups),
                row["availability"],
                row["redundant_availability"],
                len(visible),
            )
        )
        strip = _strip(touching, window, ident)
        if strip is not None:
            strips.append(strip)
    names = {c.id: c.name for c in inventory.carriers}
    carrier_rows = []
    for row in report(calc, inventory, "carrier", scope.carrier):
        own = index.by_carrier.get(row["carrier"], [])
        carrier_rows.append(
            CarrierRow(
                row["carrier"],
                names.get(row["carrier"], row["carrier"]),
                judge_carrier(own, window),
                row["availability"],
                len(own),
                row["mttr_seconds"],
                row["time_to_ack_seconds"],
            )
        )
    return site_rows, carrier_rows, strips


def _unwatched(outcomes: dict[Requirement, Outcome]) -> dict[Requirement, Outcome]:
    return {q: Outcome.NOT_WATCHED if o is Outcome.MET else o for q, o in outcomes.items()}


def _line(stored: StoredIncident) -> IncidentLine:
    r = stored.record
    ack = min((a.at for a in stored.acks), default=None)
    return IncidentLine(
        stored.id,
        r,
        None if ack is None else (ack - r.started_at).total_seconds(),
        None if r.ended_at is None else (r.ended_at - r.started_at).total_seconds(),
    )


def build(
    inventory: Inventory,
    stored: Sequence[StoredIncident],
    readiness: Sequence[ReadinessRecord],
    scope: Scope,
    measured: Sequence[Span] | None = None,
) -> Report:
    """The report over `scope` from the incidents overlapping it (already cut to its carrier).

    `measured` is when a run of the monitor watched (None: always); a window
    it did not watch at all has no outcome but "not watched", none "met".
    """
    windows, skipped = [], 0
    for kind, name, start, end in _windows(inventory, scope):
        since, until = max(start, scope.since), min(end, scope.until)
        if since >= scope.now:
            skipped += 1
            continue
        judged = Window(since, min(until, scope.now))
        within = [s for s in stored if judged.touches(s.record)]
        # the Calculator tallies only the outage kinds: it is given only those
        outages = [s for s in within if s.record.kind in OUTAGE_KINDS]
        calc = Calculator(outages, [], Options(since, until, scope.now), [], measured=measured)
        sites, carriers, strips = _window(inventory, _Index(within), calc, scope, judged)
        if calc.total <= 0 and calc.unmeasured > 0:  # nobody watched: nothing was met
            sites = [replace(row, outcomes=_unwatched(row.outcomes)) for row in sites]
            carriers = [replace(row, outcomes=_unwatched(row.outcomes)) for row in carriers]
        before = [
            r
            for r in readiness
            if kind == "session" and r.session == name and r.session_start == start
        ]
        windows.append(
            WindowReport(
                kind,
                name,
                start,
                end,
                judged.start,
                judged.end,
                sites,
                carriers,
                strips,
                sorted(before, key=lambda r: r.taken_at),
                calc.unmeasured,
            )
        )
    covered = [Window(w.judged_from, w.judged_until) for w in windows]
    listed = [
        _line(s)
        for s in stored
        if scope.carrier in (None, s.record.carrier)
        and (scope.session is None or any(w.touches(s.record) for w in covered))
    ]
    names = {c.id: c.name for c in inventory.carriers}
    carrier_name = None if scope.carrier is None else names.get(scope.carrier, scope.carrier)
    return Report(inventory.plan.name, scope, carrier_name, windows, listed, skipped)


def readiness_entries(record: ReadinessRecord, scope: str | None, served: set[str]) -> list[Any]:
    """The sites a snapshot found not ready that a scope may see (a carrier: no reasons)."""
    if scope is None:
        return [(n.get("site"), n.get("reason")) for n in record.not_ready]
    return [(n.get("site"), None) for n in record.not_ready if n.get("site") in served]
