"""An incident's chart data (`timeline.figures`): the rounds and interface samples of its
subject around it, within a carrier's scope, thinned to a bound."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.model.inventory import Target
from monitor.model.records import IncidentRecord, InterfaceSample, RoundRecord
from monitor.model.vocabulary import TargetKind
from monitor.storage import Store, history
from monitor.storage.history import IncidentQuery
from monitor.views import incident_detail_json

START = datetime(2027, 6, 3, 0, 30, tzinfo=UTC)
TARGETS = [
    Target("link:thpt-a/viettel-fibre", TargetKind.LINK, "10.0.0.1", "viettel", "thpt-a",
           "viettel-fibre"),
    Target("link:thpt-a/vnpt-fibre", TargetKind.LINK, "10.0.0.2", "vnpt", "thpt-a", "vnpt-fibre"),
    Target("link:thpt-b/viettel-fibre", TargetKind.LINK, "10.0.1.1", "viettel", "thpt-b",
           "viettel-fibre"),
    Target("device:thpt-a/router", TargetKind.DEVICE, "10.0.0.9", "viettel", "thpt-a"),
]  # fmt: skip


def an_incident(subject_kind: str, subject: str, carrier: str | None) -> IncidentRecord:
    return IncidentRecord(
        subject_kind=subject_kind,
        subject=subject,
        kind="down",
        started_at=START,
        ended_at=START + timedelta(minutes=5),
        severity="critical",
        phase="during",
        reason="no echo",
        updated_at=START,
        carrier=carrier,
        site="thpt-a",
    )


def seed(store: Store) -> None:
    store.register_targets(TARGETS)
    for minute in range(-30, 30):  # an hour of rounds, one a minute, on every link
        at = START + timedelta(minutes=minute)
        for target in TARGETS[:3]:
            down = 0 <= minute < 5 and target.carrier == "viettel"
            store.add_round(
                RoundRecord(
                    target.key,
                    at,
                    10.0,
                    3,
                    0 if down else 3,
                    1.0 if down else 0.0,
                    *(() if down else (1, 2, 2, 3)),
                )
            )
        for link, name in (("thpt-a/viettel-fibre", "eth1"), ("thpt-a/vnpt-fibre", "eth2")):
            store.add(InterfaceSample("device:thpt-a/router", at, name, 1, link, 1, 8e5, 2e5,
                                      0.8, 0.2))  # fmt: skip
    store.add(an_incident("target", "link:thpt-a/viettel-fibre", "viettel"))
    store.add(an_incident("site", "thpt-a", None))
    store.add(an_incident("device", "device:thpt-a/router", "viettel"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'examnet.db'}"
    writer = Store(url, flush_interval=0.01)
    writer.upgrade()
    seed(writer)
    assert writer.close() == 0
    reader = Store(url)
    yield reader
    reader.close()


def detail(store: Store, subject: str, scope: str | None) -> dict[str, object]:
    found = [
        i for i in store.access.search(IncidentQuery(limit=10)).incidents
        if i.record.subject == subject
    ]  # fmt: skip
    timeline = store.access.timeline(found[0], "0" * 16, scope=scope, now=START)
    figures = incident_detail_json(found[0], timeline, scope)["timeline"]["figures"]  # type: ignore[index]
    assert isinstance(figures, dict)
    return figures


def test_it_charts_a_links_rounds_and_its_interface_from_10_minutes_before_to_10_after(
    store: Store,
) -> None:
    figures = detail(store, "link:thpt-a/viettel-fibre", "viettel")
    rounds = figures["rounds"]
    assert isinstance(rounds, list)
    assert {r["target"] for r in rounds} == {"link:thpt-a/viettel-fibre"}
    assert len(rounds) == 26  # minutes -10 … 15, both ends included
    assert rounds[0]["at"] == (START - timedelta(minutes=10)).isoformat()
    assert [r["loss"] for r in rounds[10:15]] == [1.0] * 5
    assert rounds[0]["rtt_median_ms"] == 2
    samples = figures["interfaces"]
    assert isinstance(samples, list)
    assert {(s["interface"], s["link"]) for s in samples} == {("eth1", "thpt-a/viettel-fibre")}
    assert samples[0]["utilisation_in"] == 0.8
    assert (figures["every_round"], figures["every_sample"]) == (1, 1)


def test_a_site_has_its_targets_and_a_carrier_sees_only_its_own(store: Store) -> None:
    everything = detail(store, "thpt-a", None)
    assert {r["target"] for r in everything["rounds"]} == {  # type: ignore[attr-defined]
        "link:thpt-a/viettel-fibre", "link:thpt-a/vnpt-fibre"}  # fmt: skip
    assert {s["interface"] for s in everything["interfaces"]} == {"eth1", "eth2"}  # type: ignore[attr-defined]
    # a device polled over viettel's link: viettel sees the device's viettel interface only
    device = detail(store, "device:thpt-a/router", "viettel")
    assert device["rounds"] == []
    assert {s["interface"] for s in device["interfaces"]} == {"eth1"}  # type: ignore[attr-defined]
    assert "vnpt" not in repr(device)
    assert {s["interface"] for s in detail(store, "device:thpt-a/router", None)["interfaces"]} == {  # type: ignore[attr-defined]
        "eth1", "eth2"}  # fmt: skip


def test_a_long_incident_is_thinned_evenly_to_the_bound(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "MAX_FIGURES", 10)
    figures = detail(store, "thpt-a", None)
    rounds = figures["rounds"]
    assert isinstance(rounds, list)
    assert figures["every_round"] == 6  # 52 rounds of two targets, to ≤ 10: every 6th
    assert len(rounds) == 10
    assert rounds[0]["at"] == (START - timedelta(minutes=10)).isoformat()


def test_thinning_keeps_every_lost_round_and_the_worst_rtt_in_the_chart(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run of k rounds is drawn as one point with its worst figures (RRD's MAX):
    every-k-th-row thinning drew Viettel's outage as one lost round of five."""
    monkeypatch.setattr(history, "MAX_FIGURES", 10)
    rounds = detail(store, "thpt-a", None)["rounds"]
    assert isinstance(rounds, list)
    viettel = [r for r in rounds if r["target"] == "link:thpt-a/viettel-fibre"]
    starts = [datetime.fromisoformat(r["at"]) for r in viettel]
    lost = [START + timedelta(minutes=m) for m in range(5)]  # the outage's rounds, as seeded
    for moment in lost:  # the point whose run holds the lost round shows it lost
        [point] = [r for r, at in zip(viettel, starts, strict=True) if at <= moment][-1:]
        assert point["loss"] == 1.0, (moment, point)
    assert all(r["rtt_max_ms"] == 3 for r in viettel if r["loss"] == 0.0)
    assert sum(r["loss"] == 1.0 for r in viettel) == 2  # runs [-4, 1] and [2, 7] of six rounds
