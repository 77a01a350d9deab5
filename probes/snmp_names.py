"""Interface names to ifIndex: a GETBULK walk of the name columns, rarely.

ifName is walked first (RFC 2863: the name the device's own UI uses); names
it lacks are looked for in ifDescr, then ifAlias, walked together in one
more walk only when needed. The walk asks all its columns at once: a
GETBULK answer is row-major, varbind i belongs to column i % columns
(RFC 3416 4.2.3). A column ends where its OIDs leave the column, at
endOfMibView, or where an agent stops going forward; the walk stops at the
first failed request (pysnmp's bulk_walk_cmd would yield timeouts forever).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from monitor.model.inventory import Device
from probes import snmp_failures
from probes import snmpdata as oids
from probes.snmp_failures import Failure
from probes.snmp_session import Answer, SnmpSession
from probes.snmp_values import absent, oid_of, read_text
from probes.snmpwire import Absent

BULK_VARBINDS = 40  # varbinds per GETBULK answer, all columns together
MAX_WALK_REQUESTS = 250  # a 10,000-row table: enough; an agent that never ends is cut short
ROUNDS: tuple[tuple[str, ...], ...] = ((oids.IF_NAME,), (oids.IF_DESCR, oids.IF_ALIAS))

Table = dict[str, dict[int, str]]  # column -> ifIndex -> text
Found = dict[str, tuple[int, str]]  # configured name -> (ifIndex, the device's text)
Took = Callable[[Answer], Answer]


async def resolve(session: SnmpSession, device: Device, names: Sequence[str],
                  took: Took) -> tuple[Found, tuple[str, ...]] | Failure:  # fmt: skip
    """Each name's ifIndex, and the names found nowhere; or why the walk failed."""
    found: Found = {}
    for columns in ROUNDS:
        pending = [n for n in names if n not in found]
        if not pending:
            break
        table = await walk(lambda o, r: session.bulk(device, o, r), columns, took)
        if isinstance(table, Failure):
            return table
        found.update(match(pending, table, columns))
    return found, tuple(n for n in names if n not in found)


def match(names: Iterable[str], table: Table, columns: Sequence[str]) -> Found:
    """Exact matches, column by column in order; the lowest ifIndex wins a tie."""
    found: Found = {}
    for column in columns:
        by_text: dict[str, tuple[int, str]] = {}
        for index in sorted(table.get(column, {})):
            text = table[column][index]
            by_text.setdefault(text.rstrip("\x00"), (index, text))
        for name in names:
            if name not in found and name in by_text:
                found[name] = by_text[name]
    return found


async def walk(bulk: Callable[[list[str], int], Awaitable[Answer]], columns: Sequence[str],
               took: Took) -> Table | Failure:  # fmt: skip
    """Every row of the columns, as text (index -> text), in as few GETBULKs as fit."""
    table: Table = {c: {} for c in columns}
    cursor = {c: _tuple(c) for c in columns}
    active = list(columns)
    for _ in range(MAX_WALK_REQUESTS):
        repetitions = max(1, BULK_VARBINDS // len(active))
        answer = took(await bulk([_dotted(cursor[c]) for c in active], repetitions))
        if answer.failure is not None:
            return answer.failure
        if answer.error_status:
            return snmp_failures.from_status(answer.error_status)
        active = absorb(answer.varbinds, active, cursor, table)
        if not active:
            break
    return table


def absorb(varbinds: Sequence[tuple[Any, Any]], active: list[str],
           cursor: dict[str, tuple[int, ...]], table: Table) -> list[str]:  # fmt: skip
    """Take one GETBULK answer into the table; the columns still to be walked."""
    ended: set[str] = set()
    went_on: set[str] = set()
    for position, (name, value) in enumerate(varbinds):
        column = active[position % len(active)]
        if column in ended:
            continue
        oid = oid_of(name)
        if not _next_row(oid, column, cursor[column]) or absent(value) is Absent.END_OF_MIB_VIEW:
            ended.add(column)
            continue
        cursor[column] = oid
        went_on.add(column)
        text = read_text(value)
        if text is not None:
            table[column][oid[-1]] = text
    # a column that did not move on is over: an agent must not make us ask forever
    return [c for c in active if c in went_on and c not in ended]


def _next_row(oid: tuple[int, ...], column: str, after: tuple[int, ...]) -> bool:
    prefix = _tuple(column)
    inside = len(oid) == len(prefix) + 1 and oid[: len(prefix)] == prefix
    return inside and oid > after


def _tuple(oid: str) -> tuple[int, ...]:
    return tuple(int(part) for part in oid.split("."))


def _dotted(oid: tuple[int, ...]) -> str:
    return ".".join(map(str, oid))
