"""Availability from stored incident intervals: clipping, overlaps, sessions, silences, scope.

The incidents are rows written to SQLite; the range is 4 hours of the
exam day, 2027-06-03 00:00–04:00 UTC, and the session "Ngữ văn" is
00:30–02:30 UTC (07:30–09:30 in Hà Nội).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.availability import (
    Calculator,
    Options,
    intersect,
    report,
    served_sites,
    subtract,
    union,
)
from monitor.model.inventory import Inventory
from monitor.model.records import IncidentRecord, SilenceRecord
from monitor.storage import Store
from monitor.storage.availability import OutageQuery
from tests.fixtures.inventories import TWO_CARRIER_SITE, inventory_from

T0 = datetime(2027, 6, 3, 0, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=4)
HOUR = 3600.0


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def outage(subject: str, kind: str, start: float, end: float | None) -> IncidentRecord:
    link = subject.startswith("link:")
    return IncidentRecord(
        subject_kind="target" if link else "site",
        subject=subject,
        kind=kind,
        started_at=at(start),
        ended_at=None if end is None else at(end),
        severity="critical",
        phase="during",
        reason="test",
        updated_at=at(start),
        carrier="viettel" if link else None,
        site="thpt-a",
    )


VIETTEL = "link:thpt-a/viettel-fibre"
ROWS = [
    outage(VIETTEL, "down", -1, 1),  # began before the range: clipped to 00:00
    outage(VIETTEL, "down", 0.5, 1.5),  # overlaps the first: counted once
    outage(VIETTEL, "down", 3, None),  # still open: up to now
    outage(VIETTEL, "loss", 0, 4),  # not an outage
    outage("thpt-a", "isolated", 0.75, 1.25),
    outage("thpt-a", "lost_redundancy", 0, 2),
]


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    return inventory_from(TWO_CARRIER_SITE, tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'examnet.db'}"
    writer = Store(url, flush_interval=0.01)
    writer.upgrade()
    for record in ROWS:
        writer.add(record)
    assert writer.close() == 0
    reader = Store(url)
    ids = {i.record.started_at: i.id for i in reader.alerting.incident_rows()}
    reader.access.acknowledge(ids[at(-1)], "noc", "noc", "", at(-1) + timedelta(minutes=10))
    reader.access.acknowledge(ids[at(-1)], "noc", "noc", "", at(-1) + timedelta(minutes=50))
    reader.access.acknowledge(ids[at(0.5)], "noc", "noc", "", at(0.5) + timedelta(minutes=20))
    reader.alerting.add_silence(
        SilenceRecord(
            id="works", matchers=('link="viettel-fibre"',), starts_at=at(0), ends_at=at(1),
            created_by="noc", created_at=at(0), comment="planned works",
        )
    )  # fmt: skip
    yield reader
    reader.close()


def rows(
    store: Store, inventory: Inventory, by: str, scope: str | None = None, **asked: bool
) -> dict[str, dict[str, Any]]:
    options = Options(T0, NOW, NOW, **asked)
    found, silences = store.access.outages(
        OutageQuery(T0, NOW, scope, served_sites(inventory, scope))
    )
    sessions = [(s.start, s.end) for s in inventory.calendar.sessions]
    calc = Calculator(found, silences, options, sessions)
    return {row[by]: row for row in report(calc, inventory, by, scope)}  # type: ignore[arg-type]


def test_it_merges_intersects_and_subtracts_spans() -> None:
    assert union([(at(1), at(2)), (at(0), at(1.5)), (at(3), at(3))]) == [(at(0), at(2))]
    assert intersect([(at(0), at(2))], [(at(1), at(3)), (at(-1), at(0.5))]) == [
        (at(0), at(0.5)),
        (at(1), at(2)),
    ]
    assert subtract([(at(0), at(4))], [(at(1), at(2)), (at(1.5), at(3))]) == [
        (at(0), at(1)),
        (at(3), at(4)),
    ]
    assert subtract([(at(0), at(1))], [(at(-1), at(5))]) == []


def test_it_counts_a_links_down_time_clipped_to_the_range_and_overlaps_once(
    store: Store, inventory: Inventory
) -> None:
    link = rows(store, inventory, "link")["viettel-fibre"]
    # 00:00–01:30 (two overlapping incidents, one begun before) and 03:00–now
    assert link["down_seconds"] == pytest.approx(2.5 * HOUR)
    assert link["availability"] == pytest.approx(1 - 2.5 / 4)
    assert link["incidents"] == 3
    assert link["mttr_seconds"] == pytest.approx(1.5 * HOUR)  # the two ended: 2 h and 1 h
    assert link["time_to_ack_seconds"] == pytest.approx(15 * 60)  # first acks: 10 and 20 min
    assert rows(store, inventory, "link")["vnpt-fibre"]["availability"] == 1.0


def test_it_counts_only_the_exam_sessions_when_asked(store: Store, inventory: Inventory) -> None:
    link = rows(store, inventory, "link", sessions_only=True)["viettel-fibre"]
    # the session is 00:30–02:30; down in it 00:30–01:30; the open incident is after it
    assert link["down_seconds"] == pytest.approx(HOUR)
    assert link["availability"] == pytest.approx(0.5)
    assert link["incidents"] == 2


def test_it_leaves_out_time_under_a_matching_silence_when_asked(
    store: Store, inventory: Inventory
) -> None:
    link = rows(store, inventory, "link", exclude_silenced=True)["viettel-fibre"]
    assert link["down_seconds"] == pytest.approx(1.5 * HOUR)  # 01:00–01:30 and 03:00–04:00
    assert link["availability"] == pytest.approx(1 - 1.5 / 4)
    site = rows(store, inventory, "site", exclude_silenced=True)["thpt-a"]
    assert site["isolated_seconds"] == pytest.approx(0.5 * HOUR)  # the silence names a link


def test_it_reports_a_site_isolated_and_without_full_redundancy(
    store: Store, inventory: Inventory
) -> None:
    site = rows(store, inventory, "site")["thpt-a"]
    assert site["availability"] == pytest.approx(1 - 0.5 / 4)
    assert site["redundant_availability"] == pytest.approx(1 - 2 / 4)
    assert site["incidents"] == 2


def test_it_gives_a_carrier_the_mean_of_its_links(store: Store, inventory: Inventory) -> None:
    carriers = rows(store, inventory, "carrier")
    assert carriers["viettel"]["availability"] == pytest.approx(1 - 2.5 / 4)
    assert carriers["vnpt"]["availability"] == 1.0
    assert set(carriers) == {"viettel", "vnpt", "mobifone"}


def test_it_keeps_a_carrier_to_its_own_rows_in_the_query(
    store: Store, inventory: Inventory
) -> None:
    found, _ = store.access.outages(OutageQuery(T0, NOW, "vnpt", ["thpt-a"]))
    assert {i.record.kind for i in found} == {"isolated", "lost_redundancy"}  # no viettel link
    assert set(rows(store, inventory, "link", "vnpt")) == {"vnpt-fibre"}
    assert set(rows(store, inventory, "carrier", "vnpt")) == {"vnpt"}
    assert rows(store, inventory, "site", "vnpt")["thpt-a"]["availability"] == pytest.approx(
        1 - 0.5 / 4
    )
    assert served_sites(inventory, "nobody") == []


def _calculator(
    tmp_path: Path, inventory: Inventory, records: list[IncidentRecord],
    silences: list[SilenceRecord], options: Options,
) -> Calculator:  # fmt: skip
    url = f"sqlite:///{tmp_path / 'other.db'}"
    writer = Store(url, flush_interval=0.01)
    writer.upgrade()
    for record in records:
        writer.add(record)
    assert writer.close() == 0
    reader = Store(url)
    try:
        for silence in silences:
            reader.alerting.add_silence(silence)
        query = OutageQuery(options.since, options.until, None, served_sites(inventory, None))
        found, held = reader.access.outages(query)
    finally:
        reader.close()
    districts = {s.id: s.district for s in inventory.sites}
    return Calculator(found, held, options, [], districts=districts)


def test_a_silence_on_the_sites_district_leaves_its_time_out(
    tmp_path: Path, inventory: Inventory
) -> None:
    """`district` is not in an incident's record: it comes from the inventory, as when alerting."""
    works = SilenceRecord(
        id="district-works", matchers=('district="Cao Lộc"',), starts_at=at(0), ends_at=at(1),
        created_by="noc", created_at=at(0), comment="district-wide power works",
    )  # fmt: skip
    elsewhere = SilenceRecord(
        id="elsewhere", matchers=('district="Lộc Bình"',), starts_at=at(1), ends_at=at(2),
        created_by="noc", created_at=at(0), comment="another district",
    )  # fmt: skip
    calc = _calculator(tmp_path, inventory, [outage(VIETTEL, "down", 0, 2)], [works, elsewhere],
                       Options(T0, NOW, NOW, exclude_silenced=True))  # fmt: skip
    link = {r["link"]: r for r in report(calc, inventory, "link", None)}["viettel-fibre"]
    assert link["down_seconds"] == pytest.approx(HOUR)  # 01:00–02:00: Lộc Bình's is not its own
    assert link["availability"] == pytest.approx(1 - 1 / 4)


def test_a_link_is_counted_only_inside_its_active_window(
    tmp_path: Path, inventory: Inventory
) -> None:
    """The mobile BTS is part of the site 2027-06-02 00:00 – 06-06 00:00 local (UTC+7) only."""
    since = datetime(2027, 6, 5, 15, 0, tzinfo=UTC)  # its window ends at 17:00 UTC
    until = since + timedelta(hours=4)
    bts = replace(
        outage("link:thpt-a/mobifone-bts", "down", 0, 0), carrier="mobifone",
        started_at=since + timedelta(hours=1), ended_at=since + timedelta(hours=3),
    )  # fmt: skip
    calc = _calculator(tmp_path, inventory, [bts], [], Options(since, until, until))
    links = {r["link"]: r for r in report(calc, inventory, "link", None)}
    # in its window 15:00–17:00 (2 h), down 16:00–17:00; the hour after its window is not its
    assert links["mobifone-bts"]["seconds"] == pytest.approx(2 * HOUR)
    assert links["mobifone-bts"]["down_seconds"] == pytest.approx(HOUR)
    assert links["mobifone-bts"]["availability"] == pytest.approx(0.5)
    assert links["vnpt-fibre"]["seconds"] == pytest.approx(4 * HOUR)
    carrier = {r["carrier"]: r for r in report(calc, inventory, "carrier", None)}["mobifone"]
    assert carrier["availability"] == pytest.approx(0.5)
    assert carrier["down_seconds"] == pytest.approx(HOUR)
    # a range wholly outside its window: nothing to count, neither up nor down
    later = Options(until, until + timedelta(hours=1), until + timedelta(hours=1))
    (tmp_path / "after").mkdir()
    after = _calculator(tmp_path / "after", inventory, [bts], [], later)
    row = {r["link"]: r for r in report(after, inventory, "link", None)}["mobifone-bts"]
    assert (row["availability"], row["seconds"]) == (None, 0.0)


def test_a_gateways_outage_is_its_links_outage_counted_once_for_the_carrier(
    tmp_path: Path, inventory: Inventory
) -> None:
    """While viettel-gw is down its link's own `down` is part of the gateway's incident."""
    gateway = replace(
        outage("endpoint:viettel-gw", "endpoint_down", 1, 2), subject_kind="target",
        carrier="viettel", site=None, affected=("thpt-a",),
    )  # fmt: skip
    records = [gateway, outage(VIETTEL, "down", 1.5, 2.5)]
    calc = _calculator(tmp_path, inventory, records, [], Options(T0, NOW, NOW))
    link = {r["link"]: r for r in report(calc, inventory, "link", None)}["viettel-fibre"]
    assert link["down_seconds"] == pytest.approx(1.5 * HOUR)  # 01:00–02:30
    assert link["incidents"] == 2
    carrier = {r["carrier"]: r for r in report(calc, inventory, "carrier", None)}
    assert carrier["viettel"]["down_seconds"] == pytest.approx(1.5 * HOUR)
    assert carrier["viettel"]["incidents"] == 2
    assert carrier["vnpt"]["down_seconds"] == 0  # vnpt-fibre hangs off no gateway of viettel
    # a carrier's query does not read another carrier's endpoint
    (tmp_path / "scoped").mkdir()
    url = f"sqlite:///{tmp_path / 'scoped' / 'db'}"
    writer = Store(url, flush_interval=0.01)
    writer.upgrade()
    writer.add(gateway)
    assert writer.close() == 0
    reader = Store(url)
    try:
        assert reader.access.outages(OutageQuery(T0, NOW, "vnpt", ["thpt-a"]))[0] == []
        assert len(reader.access.outages(OutageQuery(T0, NOW, "viettel", ["thpt-a"]))[0]) == 1
    finally:
        reader.close()
