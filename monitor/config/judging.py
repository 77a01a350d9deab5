"""`[severity]`, `[readiness]` and `[monitor]`: how much each condition matters, when
readiness snapshots are taken, and how examnet tells its own outage from the province's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from monitor.config.problems import BadValueError, describe, duration_text, suggestion
from monitor.config.reader import Reader
from monitor.config.values import (
    above,
    address,
    address_key,
    boolean,
    duration,
    lab_address_problem,
    member,
)
from monitor.model.inventory import (
    DEFAULT_BLIND_SHARE,
    DEFAULT_READINESS,
    DEFAULT_SEVERITY,
    MAX_READINESS_LEAD,
    Lab,
    MonitorSettings,
    SeverityRow,
    SeverityTable,
)
from monitor.model.vocabulary import ConditionKind, Phase, Severity

SESSION_BUMP = "session_bump"
READINESS_EXAMPLE = '["60m", "15m"]'
CONTROL_EXAMPLE = '["10.77.255.2"]'


def refuse_unknown(r: Reader, what: str, known: Sequence[str], extra: str = "") -> None:
    """Every key of `r` outside `known` is a problem listing the known values in order."""
    for key in r.table:
        if key in known or key == extra:
            continue
        close = suggestion(key, [*known, extra] if extra else known)
        hint = f' (did you mean "{close}"?)' if close else ""
        also = f'"{extra}" or ' if extra else ""
        r.problem(key, f"unknown {what}{hint}; expected {also}one of: {', '.join(known)}")


# --------------------------------------------------------------------------
# [severity]


def read_severity_row(r: Reader, default: SeverityRow) -> SeverityRow:
    """`kind = "critical"` (every phase) or `kind = { during = "critical", ... }`."""
    key = default.kind.value
    value = r.raw(key)
    if value is None:
        return default
    if isinstance(value, str):
        every = r.get(key, member(Severity))
        if every is None:
            return default
        return SeverityRow(default.kind, every, every, every, every)
    s = r.sub(key)
    if s is None:
        return default
    overrides: dict[str, Any] = {}
    for phase in Phase:
        severity = s.get(phase.value, member(Severity))
        if severity is not None:
            overrides[phase.value] = severity
    refuse_unknown(s, "phase", [p.value for p in Phase])
    return dataclasses.replace(default, **overrides)


def read_severity(root: Reader) -> SeverityTable:
    """DEFAULT_SEVERITY with this file's overrides, cell by cell."""
    r = root.section("severity")
    if r is None:
        return DEFAULT_SEVERITY
    bump = r.opt(SESSION_BUMP, boolean, DEFAULT_SEVERITY.session_bump)
    rows = tuple(read_severity_row(r, row) for row in DEFAULT_SEVERITY.rows)
    refuse_unknown(r, "condition kind", [k.value for k in ConditionKind], extra=SESSION_BUMP)
    return SeverityTable(rows=rows, session_bump=bump)


# --------------------------------------------------------------------------
# [readiness]


def lead_time(value: object) -> float:
    """How long before a session a snapshot is taken: above zero, under a day."""
    seconds = duration()(value)
    if seconds >= MAX_READINESS_LEAD:
        raise BadValueError(
            f"expected a duration under {duration_text(MAX_READINESS_LEAD)}, got {describe(value)}"
        )
    return seconds


def read_readiness(root: Reader) -> tuple[float, ...]:
    """Seconds before each session start, latest first (`[]`: no snapshots)."""
    r = root.section("readiness")
    if r is None:
        return DEFAULT_READINESS
    leads = r.array("before", lead_time, READINESS_EXAMPLE)
    r.done()
    if leads is None:
        return DEFAULT_READINESS
    seen: set[float] = set()
    for index, lead in enumerate(leads):
        if lead in seen:
            r.problem(f"before[{index}]", f"{duration_text(lead)} is listed twice")
        seen.add(lead)
    return tuple(sorted(seen, reverse=True))


# --------------------------------------------------------------------------
# [monitor]


def check_controls(r: Reader, control: Sequence[str], lab: Lab | None) -> None:
    seen: dict[str, int] = {}
    for index, value in enumerate(control):
        key = f"control[{index}]"
        message = lab_address_problem(value, lab, control=True) if lab is not None else None
        if message is not None:
            r.problem(key, message)
        first = seen.setdefault(address_key(value), index)
        if first != index:
            r.problem(key, f"{value} is listed twice (as control[{first}] too)")


def read_monitor(root: Reader, lab: Lab | None) -> MonitorSettings:
    r = root.section("monitor")
    if r is None:
        return MonitorSettings()
    control = r.array("control", address, CONTROL_EXAMPLE)
    share = r.opt("blind_share", above(0, 1, "a ratio"), DEFAULT_BLIND_SHARE)
    r.done()
    if control is None:
        return MonitorSettings(blind_share=share)
    written = r.table.get("control")
    if isinstance(written, list) and len(control) == len(written):  # indexes match the file's
        check_controls(r, control, lab)
    return MonitorSettings(control=tuple(control), blind_share=share)
