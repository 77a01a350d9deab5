"""Every Prometheus metric examnet exports, on a registry the app owns.

Process events (rounds, skips) are counters updated as they happen. Per
target, site and calendar state comes from a collector that reads the
current snapshot at scrape time, so series vanish with their targets and a
scrape never mixes two rounds. The contract is in docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from monitor.calendar import phase_at, session_at
from monitor.device_metrics import device_families
from monitor.evaluation import SiteStatus, TargetStatus
from monitor.evaluation.conditions import Condition
from monitor.inventory import Inventory, Phase, TargetKind
from monitor.snapshot import RTT_BUCKETS, DeviceSnapshot, SiteSnapshot, TargetSnapshot
from probes.pinger import PingerStats

TARGET_LABELS = ("target", "kind", "site", "carrier", "link")


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


class Metrics:
    def __init__(self, view: Callable[[], View] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.rounds = Counter(
            "examnet_rounds",
            "Probe rounds run, by kind and result (answered, lost, failed).",
            ["kind", "result"],
            registry=r,
        )
        self.round_duration = Histogram(
            "examnet_round_duration_seconds",
            "Wall time of one probe round.",
            ["kind"],
            buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20),
            registry=r,
        )
        self.missed_runs = Counter(
            "examnet_missed_runs",
            "Scheduled runs that did not happen, by reason.",
            ["reason"],
            registry=r,
        )
        self.state_changes = Counter(
            "examnet_state_changes",
            "State changes, by subject kind and new state.",
            ["subject_kind", "state"],
            registry=r,
        )
        self.up = Gauge("examnet_up", "1 while the monitor runs its schedule.", registry=r)
        self.clock_steps = Counter(
            "examnet_clock_steps",
            "Steps of the wall clock examnet noticed (NTP corrections); probing was planned "
            "again from the new time.",
            registry=r,
        )
        self.incidents_opened = Counter(
            "examnet_incidents_opened",
            "Incidents opened, by kind and severity at opening.",
            ["kind", "severity"],
            registry=r,
        )
        self.readiness = Gauge(
            "examnet_readiness_ready",
            "1 if the last readiness snapshot before the session found every site ready, 0 if not.",
            ["session"],
            registry=r,
        )
        self.polls = Counter(
            "examnet_snmp_polls",
            "SNMP polls, by result (answered, or the failure kind).",
            ["result"],
            registry=r,
        )
        self.poll_duration = Histogram(
            "examnet_snmp_poll_duration_seconds",
            "Wall time of one SNMP poll of a device.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        if view is not None:
            r.register(_StateCollector(view))


class _StateCollector(Collector):
    def __init__(self, view: Callable[[], View]) -> None:
        self._view = view

    def describe(self) -> Iterator[Metric]:
        # Present nothing at registration: the view may not exist yet.
        return iter(())

    def collect(self) -> Iterator[Metric]:
        view = self._view()
        yield from _target_families(view)
        yield from _site_families(view)
        yield from _calendar_families(view)
        yield from device_families(view)
        yield from _incident_families(view)
        yield from _carrier_families(view)
        yield from _store_families(view.store)
        yield from _pinger_families(view.pinger)
        interval = GaugeMetricFamily(
            "examnet_probe_interval_seconds", "Seconds between two rounds of a target, now."
        )
        interval.add_metric([], view.interval)
        yield interval


def _one_hot(
    family: GaugeMetricFamily, labels: list[str], states: Iterable[str], current: str
) -> None:
    """One series per possible state, 1 for the current one (state="…")."""
    for state in states:
        family.add_metric([*labels, state], 1.0 if state == current else 0.0)


def _labels(snapshot: TargetSnapshot) -> list[str]:
    t = snapshot.target
    return [t.key, str(t.kind), t.site or "", t.carrier, t.link or ""]


def _target_families(view: View) -> Iterator[Metric]:
    up = GaugeMetricFamily(
        "examnet_target_up",
        "1 if the target is up, 0 if down; absent while unknown.",
        labels=TARGET_LABELS,
    )
    state = GaugeMetricFamily(
        "examnet_target_state",
        "1 for the target's current state.",
        labels=[*TARGET_LABELS, "state"],
    )
    rtt = GaugeMetricFamily(
        "examnet_target_rtt_seconds",
        "Mean RTT of the answered echoes of the last round.",
        labels=TARGET_LABELS,
    )
    loss = GaugeMetricFamily(
        "examnet_target_loss_ratio", "Share of echoes lost, last round.", labels=TARGET_LABELS
    )
    jitter = GaugeMetricFamily(
        "examnet_target_jitter_seconds",
        "Mean absolute RTT change between consecutive echoes.",
        labels=TARGET_LABELS,
    )
    last = GaugeMetricFamily(
        "examnet_target_last_round_timestamp_seconds",
        "When the last round of the target started.",
        labels=TARGET_LABELS,
    )
    echo = HistogramMetricFamily(
        "examnet_target_echo_rtt_seconds", "RTT of every answered echo.", labels=TARGET_LABELS
    )
    for snap in view.targets:
        labels = _labels(snap)
        _one_hot(state, labels, TargetStatus, snap.status)
        if snap.status is not TargetStatus.UNKNOWN:
            up.add_metric(labels, 1.0 if snap.status is TargetStatus.UP else 0.0)
        if snap.last_round_at is not None:
            last.add_metric(labels, snap.last_round_at)
        _add_figures(snap, labels, rtt, loss, jitter)
        echo.add_metric(labels, _buckets(snap), snap.rtt.total)
    yield from (up, state, rtt, loss, jitter, last, echo)


def _add_figures(
    snap: TargetSnapshot,
    labels: list[str],
    rtt: GaugeMetricFamily,
    loss: GaugeMetricFamily,
    jitter: GaugeMetricFamily,
) -> None:
    f = snap.figures
    if f is None:
        return
    if f.loss is not None:
        loss.add_metric(labels, f.loss)
    if f.rtt_avg is not None:
        rtt.add_metric(labels, f.rtt_avg)
    if f.jitter is not None:
        jitter.add_metric(labels, f.jitter)


def _buckets(snap: TargetSnapshot) -> list[tuple[str, float]]:
    out = []
    running = 0
    for bound, count in zip((*RTT_BUCKETS, float("inf")), snap.rtt.counts, strict=True):
        running += count
        out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
    return out


def _site_families(view: View) -> Iterator[Metric]:
    labels = ("site", "district")
    state = GaugeMetricFamily(
        "examnet_site_state", "1 for the site's current state.", labels=[*labels, "state"]
    )
    carriers = GaugeMetricFamily(
        "examnet_site_carriers_up", "Carriers with a link up.", labels=labels
    )
    links = GaugeMetricFamily("examnet_site_links_up", "Links up.", labels=labels)
    needed = GaugeMetricFamily(
        "examnet_site_min_carriers", "Carriers the plan requires.", labels=labels
    )
    for snap in view.sites:
        values = [snap.site.id, snap.site.district]
        status = snap.verdict.status if snap.verdict else SiteStatus.UNKNOWN
        _one_hot(state, values, SiteStatus, status)
        needed.add_metric(values, snap.site.min_carriers)
        if snap.verdict is not None:
            carriers.add_metric(values, len(snap.verdict.carriers_up))
            links.add_metric(values, snap.verdict.links_up)
    yield from (state, carriers, links, needed)


def _calendar_families(view: View) -> Iterator[Metric]:
    calendar = view.inventory.calendar
    phase = GaugeMetricFamily(
        "examnet_exam_phase", "1 for the calendar phase now.", labels=["phase"]
    )
    _one_hot(phase, [], Phase, phase_at(calendar, view.now))
    session = GaugeMetricFamily(
        "examnet_exam_session_active",
        "1 while the exam session runs (for shading dashboards).",
        labels=["session"],
    )
    running = session_at(calendar, view.now)
    for s in calendar.sessions:
        session.add_metric([s.name], 1.0 if s is running else 0.0)
    yield from (phase, session)


def _store_families(store: StoreFigures | None) -> Iterator[Metric]:
    if store is None:
        return
    queued = GaugeMetricFamily("examnet_db_queue_depth", "Rows waiting to be written.")
    queued.add_metric([], store.queued)
    yield queued
    dropped = CounterMetricFamily(
        "examnet_db_rows_dropped",
        "Rows lost for good (spool full, or refused by the database), by kind of record.",
        labels=["kind"],
    )
    for kind, count in sorted((store.dropped or {"unknown": store.dropped_total}).items()):
        dropped.add_metric([kind], count)
    yield dropped
    for name, doc, value in (
        ("examnet_db_rows_written", "Rows written to the database.", store.written_total),
        (
            "examnet_db_write_errors",
            "Failed database writes (rows kept, retried).",
            store.write_errors_total,
        ),
    ):
        family = CounterMetricFamily(name, doc)
        family.add_metric([], value)
        yield family


def _pinger_families(stats: PingerStats | None) -> Iterator[Metric]:
    if stats is None:
        return
    for name, doc, value in (
        ("examnet_icmp_requests", "Echo requests sent.", stats.sent),
        ("examnet_icmp_replies", "Echo replies matched in time.", stats.received),
        ("examnet_icmp_late_replies", "Replies after their timeout (counted lost).", stats.late),
        ("examnet_icmp_stray_packets", "ICMP packets that matched no request.", stats.strays),
        ("examnet_icmp_send_errors", "Requests the kernel refused to send.", stats.send_errors),
        (
            "examnet_icmp_socket_drops",
            "Replies dropped on a full socket buffer (examnet's own loss).",
            stats.socket_drops,
        ),
    ):
        family = CounterMetricFamily(name, doc)
        family.add_metric([], value)
        yield family


def _incident_families(view: View) -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "examnet_open_incidents", "Incidents open now.", labels=["kind", "severity", "carrier"]
    )
    counts: dict[tuple[str, str, str], int] = {}
    for c in view.open_incidents:
        key = (str(c.kind), str(c.severity), c.carrier or "")
        counts[key] = counts.get(key, 0) + 1
    for key, count in sorted(counts.items()):
        family.add_metric(list(key), count)
    blind = GaugeMetricFamily(
        "examnet_blind",
        "1 while examnet's own network is down (control target and most targets failing together).",
    )
    blind.add_metric([], 1.0 if view.blind else 0.0)
    yield from (family, blind)


def _carrier_families(view: View) -> Iterator[Metric]:
    links = GaugeMetricFamily(
        "examnet_carrier_links", "A carrier's links, by state.", labels=["carrier", "state"]
    )
    endpoints = GaugeMetricFamily(
        "examnet_carrier_endpoints_down", "A carrier's endpoints that are down.", labels=["carrier"]
    )
    counts = {(c.id, s.value): 0 for c in view.inventory.carriers for s in TargetStatus}
    down = {c.id: 0 for c in view.inventory.carriers}
    for snap in view.targets:
        carrier = snap.target.carrier
        if snap.target.kind is TargetKind.LINK and (carrier, snap.status.value) in counts:
            counts[(carrier, snap.status.value)] += 1
        elif snap.target.kind is TargetKind.ENDPOINT and snap.status is TargetStatus.DOWN:
            down[carrier] = down.get(carrier, 0) + 1
    for (carrier, state), count in sorted(counts.items()):
        links.add_metric([carrier, state], count)
    for carrier, count in sorted(down.items()):
        endpoints.add_metric([carrier], count)
    yield from (links, endpoints)
