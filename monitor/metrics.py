"""Every Prometheus metric examnet exports, on a registry the app owns.

Process events (rounds, skips) are counters updated as they happen. Per
target, site and calendar state comes from a collector that reads the
current snapshot at scrape time, so series vanish with their targets and a
scrape never mixes two rounds. The contract is in docs/metrics.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.device_metrics import device_families
from monitor.model.calendar import phase_at, session_at
from monitor.model.vocabulary import Phase, TargetKind, TargetStatus
from monitor.snapshot import StoreFigures, View
from monitor.target_metrics import StaticPart, not_probed, site_families, target_families
from probes.pinger import PingerStats


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
        self.renders = Counter(
            "examnet_exposition_renders",
            "Renders of /metrics (the HTTP port serves each for up to one probe interval).",
            registry=r,
        )
        self.render_cpu = Gauge(
            "examnet_exposition_render_cpu_seconds",
            "CPU time of the previous render of /metrics.",
            registry=r,
        )
        self.exposition_bytes = Gauge(
            "examnet_exposition_bytes", "Size of the previous render of /metrics.", registry=r
        )
        self._static = StaticPart()
        self._state: _StateCollector | None = None
        if view is not None:
            self._state = _StateCollector(view, self._static)
            r.register(self._state)

    def exposition(self) -> bytes:
        """The text Prometheus scrapes: the registry, and the cached info part.

        Counts itself: renders, the CPU and the bytes of the last one (what
        the HTTP port's cache saves, docs/performance.md).
        """
        started = time.thread_time()
        self.renders.inc()
        body = generate_latest(self.registry)
        body = self._static.exposition() + body
        self.render_cpu.set(time.thread_time() - started)
        self.exposition_bytes.set(len(body))
        return body

    def info(self) -> StaticPart:
        """The info families (target and site descriptions), as Prometheus reads them."""
        return self._static


class _StateCollector(Collector):
    def __init__(self, view: Callable[[], View], static: StaticPart) -> None:
        self._view = view
        self._static = static

    def describe(self) -> Iterator[Metric]:
        # Present nothing at registration: the view may not exist yet.
        return iter(())

    def collect(self) -> Iterator[Metric]:
        view = self._view()
        self._static.use(view.inventory)
        yield from target_families(view.targets)
        yield not_probed(view.targets, view.now, view.interval)
        yield from site_families(view.sites)
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
    # `site` lets a site's dashboard list its incidents; counts stay few (open ones only).
    family = GaugeMetricFamily(
        "examnet_open_incidents",
        "Incidents open now.",
        labels=["kind", "severity", "carrier", "site"],
    )
    counts: dict[tuple[str, str, str, str], int] = {}
    for c in view.open_incidents:
        key = (str(c.kind), str(c.severity), c.carrier or "", c.site or "")
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
