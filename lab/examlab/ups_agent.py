"""A simulated UPS (UPS-MIB, RFC 1628) and vendor OIDs, for snmpd's `pass_persist`.

snmpd starts `python3 ups_agent.py STATE SUBTREE` once per registered
subtree and talks to it over stdin/stdout (snmpd.conf(5), "pass_persist"):
`PING` -> `PONG`; `get`/`getnext` and an OID -> the OID, a type and a value
(three lines), or `NONE`; `set` -> `not-writable`. OIDs are numeric and
compared as integer tuples, so walks (GETNEXT) visit them in SNMP order.

STATE is a JSON file the lab rewrites (atomically) when a site's power or a
BTS's cell load changes; it is read on every request. While the UPS is on
battery its figures follow from the time elapsed, so minutes remaining fall
without anyone writing the file. Standard library only, and nothing on
stderr: snmpd does not read it, and a write there could kill the script.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

Oid = tuple[int, ...]
Value = tuple[str, int | str]  # (pass_persist type, value)

UPS_MIB = "1.3.6.1.2.1.33"
FULL_MINUTES = 40  # battery runtime at full charge, in the UPS's estimate
SECONDS_PER_MINUTE = 5.0  # the lab's battery runs down 12x faster than the estimate says
LOW_MINUTES = 5  # at or below: upsBatteryStatus batteryLow
MAINS_VOLTS = 220
MAINS_DECIHERTZ = 500

# upsOutputSource (RFC 1628): normal(3), battery(5); upsBatteryStatus:
# batteryNormal(2), batteryLow(3), batteryDepleted(4)
SOURCE_NORMAL = 3
SOURCE_BATTERY = 5
BATTERY_NORMAL = 2
BATTERY_LOW = 3
BATTERY_DEPLETED = 4


def parse_oid(text: str) -> Oid:
    """'.1.3.6.1' or '1.3.6.1' -> (1, 3, 6, 1); ValueError for anything else."""
    dotted = text.strip().lstrip(".")
    return tuple(int(part) for part in dotted.split(".")) if dotted else ()


def oid_text(oid: Oid) -> str:
    return "." + ".".join(map(str, oid))


def battery_minutes(ups: dict[str, Any], now: float) -> tuple[int, float]:
    """(minutes remaining, seconds on battery) of a UPS state at `now`."""
    since = ups.get("on_battery_since")
    start = int(ups.get("minutes_at_switch", FULL_MINUTES))
    if since is None:
        return FULL_MINUTES, 0.0
    elapsed = max(0.0, now - float(since))
    return max(0, start - int(elapsed // SECONDS_PER_MINUTE)), elapsed


def battery_status(minutes: int) -> int:
    if minutes == 0:
        return BATTERY_DEPLETED
    return BATTERY_LOW if minutes <= LOW_MINUTES else BATTERY_NORMAL


def ups_values(ups: dict[str, Any], now: float) -> dict[Oid, Value]:
    """The UPS-MIB objects the lab simulates, by full OID."""
    minutes, elapsed = battery_minutes(ups, now)
    on_battery = ups.get("on_battery_since") is not None
    status = battery_status(minutes) if on_battery else BATTERY_NORMAL
    alarms = (1 if on_battery else 0) + (1 if status != BATTERY_NORMAL else 0)
    objects: dict[Oid, Value] = {  # under upsObjects (UPS_MIB.1)
        (1, 1, 0): ("string", "examnet lab"),  # upsIdentManufacturer
        (1, 2, 0): ("string", "simulated UPS"),  # upsIdentModel
        (2, 1, 0): ("integer", status),  # upsBatteryStatus
        (2, 2, 0): ("integer", int(elapsed)),  # upsSecondsOnBattery
        (2, 3, 0): ("integer", minutes),  # upsEstimatedMinutesRemaining
        (2, 4, 0): ("integer", round(100 * minutes / FULL_MINUTES)),  # ...ChargeRemaining
        (3, 2, 0): ("integer", 1),  # upsInputNumLines
        (3, 3, 1, 1, 1): ("integer", 1),  # upsInputLineIndex.1
        (3, 3, 1, 2, 1): ("integer", 0 if on_battery else MAINS_DECIHERTZ),  # upsInputFrequency
        (3, 3, 1, 3, 1): ("integer", 0 if on_battery else MAINS_VOLTS),  # upsInputVoltage
        (4, 1, 0): ("integer", SOURCE_BATTERY if on_battery else SOURCE_NORMAL),  # ...Source
        (6, 1, 0): ("gauge", alarms),  # upsAlarmsPresent
    }
    base = parse_oid(UPS_MIB)
    return {(*base, 1, *suffix): value for suffix, value in objects.items()}


def table(state: dict[str, Any], now: float) -> dict[Oid, Value]:
    """Every object the state file stands for: the UPS (if any), then vendor OIDs."""
    values: dict[Oid, Value] = {}
    if isinstance(state.get("ups"), dict):
        values.update(ups_values(state["ups"], now))
    for oid, number in dict(state.get("values", {})).items():
        values[parse_oid(oid)] = ("gauge", int(number))
    return values


def in_subtree(oid: Oid, subtree: Oid) -> bool:
    return oid[: len(subtree)] == subtree


def get(values: dict[Oid, Value], oid: Oid, subtree: Oid) -> tuple[Oid, Value] | None:
    found = values.get(oid) if in_subtree(oid, subtree) else None
    return None if found is None else (oid, found)


def get_next(values: dict[Oid, Value], oid: Oid, subtree: Oid) -> tuple[Oid, Value] | None:
    """The first object after `oid` within the subtree (lexicographic, as SNMP orders OIDs)."""
    later = sorted(o for o in values if o > oid and in_subtree(o, subtree))
    return (later[0], values[later[0]]) if later else None


def answer(command: str, oid_line: str, values: dict[Oid, Value], subtree: Oid) -> list[str]:
    """The lines that answer one request."""
    try:
        oid = parse_oid(oid_line)
    except ValueError:
        return ["NONE"]
    lookup = get if command == "get" else get_next
    found = lookup(values, oid, subtree)
    if found is None:
        return ["NONE"]
    return [oid_text(found[0]), found[1][0], str(found[1][1])]


def read_state(path: Path) -> dict[str, Any]:
    """The state file, or nothing when it is missing or half-written."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def serve(
    lines: Iterable[str],
    out: TextIO,
    state_path: Path,
    subtree: Oid,
    clock: Callable[[], float] = time.time,
) -> None:
    """Answer requests until snmpd closes our stdin."""
    requests = iter(lines)
    for line in requests:
        command = line.strip()
        if command == "PING":
            replies = ["PONG"]
        elif command in {"get", "getnext"}:
            values = table(read_state(state_path), clock())
            replies = answer(command, next(requests, ""), values, subtree)
        elif command == "set":
            next(requests, "")
            next(requests, "")
            replies = ["not-writable"]
        else:
            continue  # a blank line between requests
        out.write("\n".join(replies) + "\n")
        out.flush()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        return 2
    # readline, not iteration: answer each request as soon as its lines arrive
    serve(iter(sys.stdin.readline, ""), sys.stdout, Path(argv[0]), parse_oid(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
