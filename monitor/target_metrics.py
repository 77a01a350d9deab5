"""The per-target and per-site part of /metrics, shaped to stay small at scale.

Descriptive labels (site, district, carrier, link, coordinates) live once
per target and site in `examnet_target_info` / `examnet_site_info`, joined
in PromQL with `* on(target) group_left(carrier) examnet_target_info` — the
pattern of node_exporter's `node_uname_info`. Every other series carries
only its key. Repeating five labels on every series, and a 13-bucket RTT
histogram per target, made 3.9 kB and 285 µs of render CPU per target; the
round's RTT is exported SmokePing-style instead (min, median, max, loss,
jitter of each round) and the echo histogram is kept per carrier.

The info families only change with the inventory, so their exposition is
rendered once per inventory and cached (`StaticPart`). Built on
prometheus_client's `Metric.add_sample` with one label dict per target:
`add_metric`'s zip per sample was a third of the render.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import datetime

from prometheus_client import generate_latest
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.model.inventory import Inventory, Target
from monitor.model.vocabulary import SiteStatus, TargetStatus
from monitor.snapshot import RTT_BUCKETS, RttHistogram, SiteSnapshot, TargetSnapshot

TARGET_INFO_LABELS = ("target", "kind", "site", "district", "carrier", "link", "link_kind")
SITE_INFO_LABELS = ("site", "name", "district", "latitude", "longitude")
# Numbers for states, worst last, so max() is the worst, as Icinga numbers its
# service states (OK 0, WARNING 1, CRITICAL 2); unknown has none: the series is
# absent. One series instead of one per state (the Prometheus enum pattern) or
# a separate 0/1 `up`: a third of the per-target series at 10,000 targets.
# "Up" is `examnet_target_state_code < 2` (degraded links carry traffic).
TARGET_CODES = {TargetStatus.UP: 0, TargetStatus.DEGRADED: 1, TargetStatus.DOWN: 2}
SITE_CODES = {
    SiteStatus.OK: 0,
    SiteStatus.DEGRADED: 1,
    SiteStatus.LOST_REDUNDANCY: 2,
    SiteStatus.ISOLATED: 3,
}
STALE_INTERVALS = 3
# Round figures to 1 µs (and ratios to 1e-6): 17 digits of float noise cost bytes on
# the wire and compress badly in Prometheus's TSDB; kernel timestamps are not that exact.
RESOLUTION = 6
ROUND_FIGURES = (
    ("loss_ratio", "Share of echoes lost in the last round.", "loss"),
    ("rtt_min_seconds", "Smallest RTT of the last round's answered echoes.", "rtt_min"),
    ("rtt_median_seconds", "Median RTT of the last round's answered echoes.", "rtt_median"),
    ("rtt_max_seconds", "Largest RTT of the last round's answered echoes.", "rtt_max"),
    (
        "jitter_seconds",
        "Mean absolute RTT change between consecutive echoes, last round.",
        "jitter",
    ),
)


def _gauge(name: str, documentation: str) -> Metric:
    return Metric(name, documentation, "gauge")


def target_families(targets: Sequence[TargetSnapshot]) -> Iterator[Metric]:
    state = _gauge(
        "examnet_target_state_code",
        "The target's state: 0 up, 1 degraded (up, but lossy, slow or congested), 2 down; "
        "absent while unknown.",
    )
    figures = [(_gauge(f"examnet_target_{n}", doc), attr) for n, doc, attr in ROUND_FIGURES]
    for snap in targets:
        key = {"target": snap.target.key}
        code = TARGET_CODES.get(snap.status)
        if code is not None:
            state.add_sample(state.name, key, code)
        if snap.figures is None:
            continue
        for family, attribute in figures:
            value = getattr(snap.figures, attribute)
            if value is not None:
                family.add_sample(family.name, key, round(value, RESOLUTION))
    yield from (state, *(f for f, _ in figures))
    yield echo_histogram(targets)


def not_probed(targets: Sequence[TargetSnapshot], now: datetime, interval: float) -> Metric:
    """Active targets without a round for three intervals: examnet stopped probing them."""
    since = now.timestamp() - STALE_INTERVALS * interval
    count = sum(
        1
        for snap in targets
        if snap.target.is_active(now) and (snap.last_round_at or float("-inf")) < since
    )
    family = _gauge(
        "examnet_targets_not_probed",
        f"Active targets without a round in the last {STALE_INTERVALS} intervals.",
    )
    family.add_sample(family.name, {}, count)
    return family


def echo_histogram(targets: Sequence[TargetSnapshot]) -> Metric:
    """Every answered echo, by carrier and target kind, for fleet-wide percentiles.

    Summed at scrape time from the targets' own counts, so a target that
    leaves takes its echoes with it (rate() sees a counter reset).
    """
    totals: dict[tuple[str, str], RttHistogram] = {}
    for snap in targets:
        key = (snap.target.carrier, str(snap.target.kind))
        totals[key] = totals.get(key, RttHistogram()).merge(snap.rtt)
    family = HistogramMetricFamily(
        "examnet_echo_rtt_seconds",
        "RTT of every answered echo, by carrier and target kind.",
        labels=["carrier", "kind"],
    )
    for (carrier, kind), histogram in sorted(totals.items()):
        family.add_metric([carrier, kind], _cumulative(histogram), histogram.total)
    return family


def _cumulative(histogram: RttHistogram) -> list[tuple[str, float]]:
    out = []
    running = 0
    for bound, count in zip((*RTT_BUCKETS, float("inf")), histogram.counts, strict=True):
        running += count
        out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
    return out


def site_families(sites: Sequence[SiteSnapshot]) -> Iterator[Metric]:
    state = _gauge(
        "examnet_site_state_code",
        "The site's state: 0 ok, 1 degraded, 2 lost_redundancy, 3 isolated; absent while unknown.",
    )
    carriers = _gauge("examnet_site_carriers_up", "Independent carriers with a link up.")
    links = _gauge("examnet_site_links_up", "Links up.")
    for snap in sites:
        if snap.verdict is None or snap.verdict.status is SiteStatus.UNKNOWN:
            continue
        key = {"site": snap.site.id}
        state.add_sample(state.name, key, SITE_CODES[snap.verdict.status])
        carriers.add_sample(carriers.name, key, len(snap.verdict.carriers_up))
        links.add_sample(links.name, key, snap.verdict.links_up)
    yield from (state, carriers, links)


def info_families(inventory: Inventory) -> Iterator[Metric]:
    """What describes targets and sites: changes only with the inventory."""
    target_info = _gauge(
        "examnet_target_info", "1 for every target; its labels describe it (join on target)."
    )
    for labels in _target_descriptions(inventory):
        target_info.add_sample(target_info.name, labels, 1.0)
    site_info = _gauge(
        "examnet_site_info", "1 for every site; its labels describe it (join on site)."
    )
    needed = _gauge("examnet_site_min_carriers", "Carriers the plan requires.")
    for site in inventory.sites:
        where = ("", "") if site.coordinates is None else tuple(map(repr, site.coordinates))
        values = (site.id, site.name, site.district, *where)
        site_info.add_sample(site_info.name, dict(zip(SITE_INFO_LABELS, values, strict=True)), 1.0)
        needed.add_sample(needed.name, {"site": site.id}, site.min_carriers)
    yield from (target_info, site_info, needed)


def _target_descriptions(inventory: Inventory) -> Iterator[dict[str, str]]:
    sites = {s.id: s for s in inventory.sites}
    media = {link.key: str(link.kind) for s in inventory.sites for link in s.links}
    targets: list[Target] = [*inventory.targets(), *inventory.control_targets()]
    for t in targets:
        site = sites.get(t.site or "")
        values = (
            t.key,
            str(t.kind),
            t.site or "",
            site.district if site is not None else "",
            t.carrier,
            t.link or "",
            media.get(f"{t.site}/{t.link}", ""),
        )
        yield dict(zip(TARGET_INFO_LABELS, values, strict=True))


class StaticPart(Collector):
    """The info families, with their exposition cached per inventory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inventory: Inventory | None = None
        self._families: list[Metric] = []
        self._text = b""

    def use(self, inventory: Inventory) -> None:
        with self._lock:
            if inventory is self._inventory:
                return
            self._families = list(info_families(inventory))
            self._text = generate_latest(self)
            self._inventory = inventory

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def exposition(self) -> bytes:
        return self._text
