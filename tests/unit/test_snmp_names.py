"""Interface names to ifIndex: matching, and walking GETBULK answers column by column."""

from __future__ import annotations

import asyncio
from typing import Any

from pysnmp.proto import rfc1902, rfc1905

from probes import snmpdata as oids
from probes.snmp_failures import NO_ANSWER_V2C, no_answer
from probes.snmp_names import absorb, match, walk
from probes.snmp_session import Answer
from probes.snmpdata import PollFailure

NAME, DESCR, ALIAS = oids.IF_NAME, oids.IF_DESCR, oids.IF_ALIAS


def vb(oid: str, value: Any) -> tuple[Any, Any]:
    return rfc1902.ObjectName(oid), value


def text(value: str) -> Any:
    return rfc1902.OctetString(value.encode())


def test_it_prefers_ifname_then_ifdescr_then_ifalias() -> None:
    table = {NAME: {1: "lo", 2: "eth0"}, DESCR: {2: "Intel eth", 3: "uplink"},
             ALIAS: {3: "eth0", 4: "to-viettel"}}  # fmt: skip
    found = match(["eth0", "uplink", "to-viettel", "nope"], table, [NAME, DESCR, ALIAS])
    assert found == {"eth0": (2, "eth0"), "uplink": (3, "uplink"), "to-viettel": (4, "to-viettel")}


def test_it_takes_the_lowest_index_of_a_duplicate_name_and_ignores_trailing_nuls() -> None:
    assert match(["ge0"], {NAME: {9: "ge0", 4: "ge0\x00"}}, [NAME]) == {"ge0": (4, "ge0\x00")}


def test_it_reads_a_row_major_bulk_answer_into_columns() -> None:
    table: dict[str, dict[int, str]] = {DESCR: {}, ALIAS: {}}
    cursor = {DESCR: (1, 3, 6, 1, 2, 1, 2, 2, 1, 2), ALIAS: (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 18)}
    varbinds = [
        vb(f"{DESCR}.1", text("lo")), vb(f"{ALIAS}.1", text("")),
        vb(f"{DESCR}.2", text("eth0")), vb(f"{ALIAS}.2", text("uplink")),
        vb(f"{oids.IF_SPEED}.1", rfc1902.Gauge32(0)), vb(f"{ALIAS}.3", text("backup")),
    ]  # fmt: skip
    still = absorb(varbinds, [DESCR, ALIAS], cursor, table)
    assert table == {DESCR: {1: "lo", 2: "eth0"}, ALIAS: {1: "", 2: "uplink", 3: "backup"}}
    assert still == [ALIAS]  # ifDescr ran into ifSpeed: over


def test_it_ends_a_column_at_end_of_mib_view_or_when_it_does_not_go_forward() -> None:
    table: dict[str, dict[int, str]] = {NAME: {}}
    start = tuple(int(p) for p in NAME.split("."))
    cursor = {NAME: (*start, 5)}
    backwards = [vb(f"{NAME}.3", text("x"))]
    assert absorb(backwards, [NAME], cursor, table) == []
    cursor = {NAME: start}
    assert absorb([vb(f"{NAME}.1", rfc1905.endOfMibView)], [NAME], cursor, table) == []
    assert absorb([], [NAME], {NAME: start}, table) == []  # an empty answer ends it too
    assert table == {NAME: {}}


def test_it_stops_a_walk_at_the_first_failed_request() -> None:
    calls: list[list[str]] = []

    async def bulk(wanted: list[str], repetitions: int) -> Answer:
        calls.append(wanted)
        return Answer(no_answer(NO_ANSWER_V2C))

    outcome = asyncio.run(walk(bulk, [NAME], lambda a: a))
    assert not isinstance(outcome, dict)
    assert outcome.kind is PollFailure.TIMEOUT
    assert len(calls) == 1


def test_it_cuts_an_endless_table_short() -> None:
    rows = iter(range(1, 10**9))

    async def bulk(wanted: list[str], repetitions: int) -> Answer:
        varbinds = tuple(vb(f"{NAME}.{next(rows)}", text("x")) for _ in range(repetitions))
        return Answer(None, varbinds)

    outcome = asyncio.run(walk(bulk, [NAME], lambda a: a))
    assert isinstance(outcome, dict)
    assert 1_000 <= len(outcome[NAME]) <= 20_000
