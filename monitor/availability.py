"""Availability over a range: per link, site or carrier, from the stored incident intervals.

The database returns the outages overlapping the range (monitor.storage.availability,
scoped to a carrier in the query); this module does the interval arithmetic
over them: clip to the range (and to now: the future is not counted),
intersect with the exam sessions when asked, subtract the silences whose
matchers match the incident's labels when asked. Silences are matched here,
in Python, with the same matchers as the alerting (a matcher may be a
regular expression, which SQLite cannot evaluate), on the rows the query
returned; an incident's labels are those its record gives (`record_labels`)
and its site's district from the inventory, so a silence on `district`
holds as it did for the alerting.

- a link is unavailable during its `down` incidents and the outages of the
  carrier endpoint it hangs off (`endpoint_down`, `children_down`): while a
  gateway is down its links' own incidents are part of the gateway's;
- a site is unavailable while `isolated`, and without full redundancy while
  `isolated` or `lost_redundancy`;
- a carrier's availability is the mean of its links';
- the time no run of the monitor was watching (`measured`, from the
  `monitor_runs` table) is neither up nor down: it is left out of every
  figure and reported as `unmeasured_seconds`; an outage that went on
  while the monitor was stopped counts only for the time it was seen;
- a link with an `active` window (a mobile BTS brought for the exam days)
  is counted inside that window only: before and after it the link is not
  part of its site, neither up nor down (as the evaluation treats it).

Incident counts, MTTR (mean duration of the ended incidents) and time to
acknowledge (mean of first ack − start) are over the incidents that count:
those with some time left after clipping (and sessions, and silences).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import fmean
from typing import Any, Literal

from alerts.rules import record_labels
from monitor.model.calendar import TimeRange
from monitor.model.inventory import Inventory, Link
from monitor.model.keys import endpoint_key, link_key
from monitor.model.matchers import Matcher, matches_all, parse_matcher
from monitor.model.records import SilenceRecord
from monitor.model.vocabulary import ConditionKind
from monitor.storage.alert_rows import StoredIncident
from monitor.storage.availability import ENDPOINT_KINDS

Span = tuple[datetime, datetime]  # [start, end)
By = Literal["link", "site", "carrier"]


def union(spans: Iterable[Span]) -> list[Span]:
    """The spans merged: sorted, disjoint, none empty."""
    merged: list[Span] = []
    for start, end in sorted(s for s in spans if s[0] < s[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def intersect(a: Iterable[Span], b: Iterable[Span]) -> list[Span]:
    """The time in both `a` and `b`."""
    left, right = union(a), union(b)
    return union(
        (max(s1, s2), min(e1, e2)) for s1, e1 in left for s2, e2 in right if s1 < e2 and s2 < e1
    )


def subtract(a: Iterable[Span], b: Iterable[Span]) -> list[Span]:
    """The time in `a` and not in `b`."""
    out: list[Span] = []
    holes = union(b)
    for start, end in union(a):
        cursor = start
        for h_start, h_end in holes:
            if h_end <= cursor or h_start >= end:
                continue
            if h_start > cursor:
                out.append((cursor, h_start))
            cursor = max(cursor, h_end)
        if cursor < end:
            out.append((cursor, end))
    return out


def seconds(spans: Iterable[Span]) -> float:
    return sum((end - start).total_seconds() for start, end in union(spans))


@dataclass(frozen=True, slots=True)
class Options:
    """What to count: the range (clipped to `now`), sessions only, silenced time excluded."""

    since: datetime
    until: datetime
    now: datetime
    sessions_only: bool = False
    exclude_silenced: bool = False


def windows(options: Options, sessions: Sequence[Span]) -> list[Span]:
    """The time considered: the range up to now, and only the sessions when asked."""
    considered = [(options.since, min(options.until, options.now))]
    return intersect(considered, sessions) if options.sessions_only else union(considered)


class Silences:
    """The silences of the range, each as its matchers and the span it held."""

    def __init__(
        self, records: Iterable[SilenceRecord], districts: Mapping[str, str] | None = None
    ) -> None:
        self._districts = districts or {}
        self._held: list[tuple[list[Matcher], Span]] = []
        for s in records:
            try:
                self._held.append(
                    ([parse_matcher(m) for m in s.matchers], (s.starts_at, s.ends_at))
                )
            except ValueError:
                continue  # a silence refused since it was stored holds nothing (monitor.alerting)

    def spans_for(self, stored: StoredIncident) -> list[Span]:
        labels = record_labels(stored.record)
        labels["district"] = self._districts.get(stored.record.site or "", "")
        return union(span for matchers, span in self._held if matches_all(matchers, labels))


def counted_spans(
    stored: StoredIncident, considered: Sequence[Span], silences: Silences, options: Options
) -> list[Span]:
    """The time of one incident that counts: within the windows, not silenced if asked."""
    r = stored.record
    spans = intersect([(r.started_at, r.ended_at or options.now)], considered)
    if options.exclude_silenced and spans:
        spans = subtract(spans, silences.spans_for(stored))
    return spans


@dataclass(frozen=True, slots=True)
class Tally:
    """The counted outage time of a subject, and the incidents that made it."""

    spans: list[Span]
    incidents: list[StoredIncident]

    def figures(self) -> dict[str, Any]:
        ended = [i.record for i in self.incidents if i.record.ended_at is not None]
        acked = [i for i in self.incidents if i.acks]
        return {
            "incidents": len(self.incidents),
            "mttr_seconds": _mean(
                (r.ended_at - r.started_at).total_seconds() for r in ended if r.ended_at
            ),
            "time_to_ack_seconds": _mean(
                (min(a.at for a in i.acks) - i.record.started_at).total_seconds() for i in acked
            ),
        }


def _mean(values: Iterable[float]) -> float | None:
    found = list(values)
    return fmean(found) if found else None


class Calculator:
    """Tallies the outages of one query, by subject and kind."""

    def __init__(
        self,
        outages: Iterable[StoredIncident],
        silences: Iterable[SilenceRecord],
        options: Options,
        sessions: Sequence[Span],
        *,
        districts: Mapping[str, str] | None = None,
        measured: Sequence[Span] | None = None,
    ) -> None:
        self.options = options
        asked = windows(options, sessions)
        self.considered = asked if measured is None else intersect(asked, measured)
        self.total = seconds(self.considered)
        self.unmeasured = seconds(asked) - self.total
        held = Silences(silences, districts)
        self._by: dict[tuple[str, str], list[tuple[StoredIncident, list[Span]]]] = {}
        for stored in outages:
            spans = counted_spans(stored, self.considered, held, options)
            if spans:
                key = (stored.record.subject, str(stored.record.kind))
                self._by.setdefault(key, []).append((stored, spans))

    def tally(self, subject: str, kinds: Iterable[ConditionKind]) -> Tally:
        found = [item for k in kinds for item in self._by.get((subject, str(k)), [])]
        return Tally(union(s for _, spans in found for s in spans), [i for i, _ in found])

    def link(self, link: Link) -> Tally:
        """A link's outages: its own, and its upstream endpoint's."""
        own = self.tally(link_key(link.site, link.id), (ConditionKind.DOWN,))
        if link.upstream is None:
            return own
        upstream = self.tally(endpoint_key(link.upstream), ENDPOINT_KINDS)
        return Tally(union([*own.spans, *upstream.spans]), [*own.incidents, *upstream.incidents])

    def considered_for(self, active: TimeRange | None) -> list[Span]:
        """The time considered for a subject that exists only while `active` (None: always)."""
        if active is None:
            return self.considered
        return intersect(self.considered, [(active.start, active.end)])

    def down_seconds(self, tally: Tally, active: TimeRange | None = None) -> float:
        return seconds(intersect(tally.spans, self.considered_for(active)))

    def share_up(self, tally: Tally, active: TimeRange | None = None) -> float | None:
        """The share of the considered time outside the tally's spans (None: no time)."""
        total = seconds(self.considered_for(active))
        if total <= 0:
            return None
        return 1.0 - self.down_seconds(tally, active) / total


def _links(inventory: Inventory, scope: str | None) -> list[Link]:
    return [link for link in inventory.links() if scope in (None, link.carrier)]


def served_sites(inventory: Inventory, scope: str | None) -> list[str]:
    """The sites a scope sees: all, or those where its carrier has a link."""
    return [
        s.id
        for s in inventory.sites
        if scope is None or any(link.carrier == scope for link in s.links)
    ]


def report(
    calc: Calculator, inventory: Inventory, by: By, scope: str | None
) -> list[dict[str, Any]]:
    """One row per link, site or carrier the scope may see."""
    if by == "link":
        return [_link_row(calc, link) for link in _links(inventory, scope)]
    if by == "site":
        return [_site_row(calc, site) for site in served_sites(inventory, scope)]
    carriers = sorted({link.carrier for link in _links(inventory, scope)})
    return [_carrier_row(calc, c, _links(inventory, c)) for c in carriers]


def _link_row(calc: Calculator, link: Link) -> dict[str, Any]:
    tally = calc.link(link)
    return {
        "link": link.id,
        "site": link.site,
        "carrier": link.carrier,
        "availability": calc.share_up(tally, link.active),
        "down_seconds": calc.down_seconds(tally, link.active),
        "seconds": seconds(calc.considered_for(link.active)),
    } | tally.figures()


def _site_row(calc: Calculator, site: str) -> dict[str, Any]:
    isolated = calc.tally(site, (ConditionKind.ISOLATED,))
    either = calc.tally(site, (ConditionKind.ISOLATED, ConditionKind.LOST_REDUNDANCY))
    return {
        "site": site,
        "availability": calc.share_up(isolated),
        "isolated_seconds": seconds(isolated.spans),
        "redundant_availability": calc.share_up(either),
        "without_redundancy_seconds": seconds(either.spans),
    } | either.figures()


def _carrier_row(calc: Calculator, carrier: str, links: list[Link]) -> dict[str, Any]:
    tallies = [calc.link(link) for link in links]
    pairs = list(zip(tallies, links, strict=True))
    shares = [s for s in (calc.share_up(t, link.active) for t, link in pairs) if s is not None]
    # an endpoint's outage is each of its links': counted once for the carrier
    every = Tally([], list({i.id: i for t in tallies for i in t.incidents}.values()))
    return {
        "carrier": carrier,
        "links": len(links),
        "availability": fmean(shares) if shares else None,
        "down_seconds": sum(calc.down_seconds(t, link.active) for t, link in pairs),
    } | every.figures()
