"""The plan's requirements judged from stored incidents: met, at risk or violated (pure).

Each rule reads only the incidents that overlap a window (an exam session or
a phase) and touch one site or one carrier; it never reads rounds again: an
incident already says that the evaluator saw a condition, and for how long.
The definitions here are the ones printed in the report's footer and in
docs/report.md (`DEFINITIONS`); a change to a rule changes both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from monitor.model.records import IncidentRecord
from monitor.model.vocabulary import ConditionKind as K
from monitor.storage import availability


class Requirement(StrEnum):
    R1 = "r1"  # uninterrupted communications
    REDUNDANCY = "redundancy"  # at least `min_carriers` independent carriers
    R2 = "r2"  # backup power
    R3 = "r3"  # no congestion


class Outcome(StrEnum):
    """Best first: the worst of several outcomes is the one with the highest rank."""

    MET = "met"
    AT_RISK = "at_risk"
    VIOLATED = "violated"
    NOT_WATCHED = "not_watched"  # nothing examnet watches can tell (a site without a UPS)

    @property
    def rank(self) -> int:
        return {"not_watched": 0, "met": 1, "at_risk": 2, "violated": 3}[self.value]


ENDPOINT_KINDS = frozenset(availability.ENDPOINT_KINDS)  # a carrier endpoint's outages
LINK_LOST = frozenset({K.DOWN}) | ENDPOINT_KINDS
CONGESTION_VIOLATED = frozenset({K.CONGESTED, K.LOSS})
CONGESTION_AT_RISK = frozenset({K.LATENCY, K.JITTER, K.RTT_ANOMALY, K.DEGRADED})
POWER_VIOLATED = frozenset({K.POWER_LOW, K.POWER_AT_RISK})
POWER_AT_RISK = frozenset({K.ON_BATTERY})


@dataclass(frozen=True, slots=True)
class Window:
    """[start, end) as judged: `end` is already clipped to now (the future has no incidents)."""

    start: datetime
    end: datetime

    def touches(self, r: IncidentRecord) -> bool:
        return r.started_at < self.end and (r.ended_at is None or r.ended_at > self.start)


def touching_site(records: Iterable[IncidentRecord], site: str) -> list[IncidentRecord]:
    """A site's incidents: its own, its links' and its power's, and endpoint outages reaching it."""
    return [
        r for r in records if r.site == site or (r.kind in ENDPOINT_KINDS and site in r.affected)
    ]


def _kinds(records: Iterable[IncidentRecord], window: Window) -> set[K]:
    return {r.kind for r in records if window.touches(r)}


def _grade(found: set[K], violated: Iterable[K], at_risk: Iterable[K]) -> Outcome:
    if found & set(violated):
        return Outcome.VIOLATED
    if found & set(at_risk):
        return Outcome.AT_RISK
    return Outcome.MET


def judge_site(
    records: Sequence[IncidentRecord], window: Window, *, has_ups: bool
) -> dict[Requirement, Outcome]:
    """One site over one window, from the incidents of `touching_site`."""
    found = _kinds(records, window)
    power = _grade(found, POWER_VIOLATED, POWER_AT_RISK)
    if not has_ups and power is Outcome.MET:
        power = Outcome.NOT_WATCHED
    return {
        Requirement.R1: _grade(found, {K.ISOLATED}, {K.LOST_REDUNDANCY}),
        Requirement.REDUNDANCY: _grade(
            found, {K.ISOLATED, K.LOST_REDUNDANCY}, LINK_LOST | {K.FLAPPING}
        ),
        Requirement.R2: power,
        Requirement.R3: _grade(found, CONGESTION_VIOLATED, CONGESTION_AT_RISK),
    }


def judge_carrier(records: Sequence[IncidentRecord], window: Window) -> dict[Requirement, Outcome]:
    """One carrier over one window, from its own incidents (its links and endpoints).

    Redundancy and power are the site's, not one carrier's: not judged here.
    """
    found = _kinds(records, window)
    return {
        Requirement.R1: _grade(found, LINK_LOST, {K.FLAPPING}),
        Requirement.R3: _grade(found, CONGESTION_VIOLATED, CONGESTION_AT_RISK),
    }


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    return max(outcomes, key=lambda o: o.rank, default=Outcome.MET)


# What each outcome means, for the footer and docs/report.md: (requirement, language) -> lines.
DEFINITIONS: dict[str, dict[Requirement, str]] = {
    "en": {
        Requirement.R1: "R1 uninterrupted communications — violated: the site was isolated "
        "(no link up) at some time of the window; at risk: it lost redundancy (fewer working "
        "independent carriers than the plan's minimum) but was never isolated; met: neither.",
        Requirement.REDUNDANCY: "Redundancy (at least N independent carriers) — violated: the "
        "site lost redundancy or was isolated; at risk: one of its links was down (or the "
        "carrier endpoint it hangs off, or a link flapped) while the minimum still held; met: "
        "none of these.",
        Requirement.R2: "R2 backup power — violated: a UPS of the site was low or would not "
        "last the session (power_low, power_at_risk); at risk: the site ran on battery "
        "(on_battery); met: neither; not watched: the site has no UPS examnet polls.",
        Requirement.R3: "R3 no congestion — violated: a link of the site was congested "
        "(utilisation) or lost packets (loss); at risk: latency, jitter or RTT far above its "
        "baseline, or the site degraded; met: none of these.",
    },
    "vi": {
        Requirement.R1: "R1 thông suốt liên lạc — vi phạm: điểm thi mất liên lạc hoàn toàn "
        "(không còn đường truyền nào) vào một lúc trong khoảng; có nguy cơ: mất dự phòng (ít "
        "nhà mạng độc lập hoạt động hơn mức tối thiểu của kế hoạch) nhưng chưa mất liên lạc; "
        "đạt: không có cả hai.",
        Requirement.REDUNDANCY: "Dự phòng (ít nhất N nhà mạng độc lập) — vi phạm: điểm thi mất "
        "dự phòng hoặc mất liên lạc; có nguy cơ: một đường truyền bị mất (hoặc thiết bị nhà "
        "mạng phía trên, hoặc đường truyền chập chờn) trong khi vẫn đủ mức tối thiểu; đạt: "
        "không có các trường hợp trên.",
        Requirement.R2: "R2 nguồn điện dự phòng — vi phạm: UPS của điểm thi sắp cạn hoặc không "
        "đủ đến hết buổi thi; có nguy cơ: điểm thi chạy bằng UPS (mất điện lưới); đạt: không "
        "có cả hai; không giám sát: điểm thi không có UPS được examnet truy vấn.",
        Requirement.R3: "R3 không nghẽn mạng — vi phạm: một đường truyền của điểm thi bị nghẽn "
        "(mức sử dụng) hoặc mất gói; có nguy cơ: trễ, dao động trễ hoặc trễ bất thường so với "
        "thường lệ, hoặc điểm thi suy giảm; đạt: không có các trường hợp trên.",
    },
}
