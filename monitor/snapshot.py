"""What the monitor knows right now, as immutable values.

The pipeline (event loop) replaces these whole; the metrics and HTTP threads
only read them, so a scrape sees each target consistently without locks.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from monitor.evaluation import SiteVerdict
from monitor.evaluation.conditions import Condition
from monitor.evaluation.counters import InterfaceRates
from monitor.evaluation.figures import RoundFigures
from monitor.evaluation.snmp import PowerVerdict
from monitor.model.inventory import Device, Inventory, Site, Target
from monitor.model.vocabulary import DeviceStatus, TargetStatus
from probes.pinger import PingerStats
from probes.snmpdata import SnmpObservation

# RTT buckets in seconds, from a LAN hop to a congested satellite path.
RTT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


@dataclass(frozen=True, slots=True)
class RttHistogram:
    """Counts per bucket (the last one is +Inf), not cumulative."""

    counts: tuple[int, ...] = (0,) * (len(RTT_BUCKETS) + 1)
    total: float = 0.0

    def add(self, rtts: Iterable[float]) -> RttHistogram:
        counts = list(self.counts)
        total = self.total
        for rtt in rtts:
            counts[bisect.bisect_left(RTT_BUCKETS, rtt)] += 1
            total += rtt
        return RttHistogram(tuple(counts), total)

    def merge(self, other: RttHistogram) -> RttHistogram:
        counts = tuple(a + b for a, b in zip(self.counts, other.counts, strict=True))
        return RttHistogram(counts, self.total + other.total)

    @property
    def count(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class TargetSnapshot:
    target: Target
    status: TargetStatus = TargetStatus.UNKNOWN
    figures: RoundFigures | None = None
    last_round_at: float | None = None  # seconds since the epoch
    error: str | None = None
    rtt: RttHistogram = field(default_factory=RttHistogram)


@dataclass(frozen=True, slots=True)
class SiteSnapshot:
    site: Site
    verdict: SiteVerdict | None


@dataclass(frozen=True, slots=True)
class DeviceSnapshot:
    """The last word of one device, for metrics and status."""

    device: Device
    status: DeviceStatus = DeviceStatus.UNKNOWN
    last_poll: SnmpObservation | None = None
    last_answer: SnmpObservation | None = None
    rates: tuple[InterfaceRates, ...] = ()
    power: PowerVerdict | None = None
    reboots: int = 0
    links: dict[str, str] = field(default_factory=dict)  # interface label -> link key


@dataclass(frozen=True, slots=True)
class StoreFigures:
    """The storage counters, as the store reports them."""

    queued: int
    written_total: int
    dropped_total: int
    write_errors_total: int
    dropped: Mapping[str, int] = field(default_factory=dict)  # by kind of record


@dataclass(frozen=True, slots=True)
class View:
    """Everything the collector reads at scrape time."""

    inventory: Inventory
    now: datetime
    targets: Sequence[TargetSnapshot]
    sites: Sequence[SiteSnapshot]
    store: StoreFigures | None
    pinger: PingerStats | None
    interval: float
    devices: Sequence[DeviceSnapshot] = ()
    device_troubles: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    open_incidents: Sequence[Condition] = ()
    blind: bool = False
