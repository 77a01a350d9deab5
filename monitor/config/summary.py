"""The summary `examnet check` prints for a file without problems."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.config.problems import duration_text, seconds_text
from monitor.model.alerting import AlertingSettings, Route
from monitor.model.inventory import (
    DEFAULT_SEVERITY,
    Inventory,
    MonitorSettings,
    ProbeSettings,
    SeverityTable,
    SnmpSettings,
)


def table_lines(rows: Sequence[Sequence[str]], numeric_from: int) -> list[str]:
    """Rows as aligned columns; columns from `numeric_from` on are right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if i >= numeric_from else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def carrier_lines(inventory: Inventory) -> list[str]:
    rows = [["carrier", "name", "links", "endpoints", "sites served"]]
    for c in inventory.carriers:
        links = [link for link in inventory.links() if link.carrier == c.id]
        endpoints = [e for e in inventory.endpoints if e.carrier == c.id]
        sites = {link.site for link in links}
        rows.append([c.id, c.name, str(len(links)), str(len(endpoints)), str(len(sites))])
    return table_lines(rows, numeric_from=2)


def span_text(start: datetime, end: datetime) -> str:
    if start.date() == end.date():
        return f"{start:%Y-%m-%d}  {start:%H:%M}-{end:%H:%M}"
    return f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"


def calendar_lines(inventory: Inventory) -> list[str]:
    cal = inventory.calendar
    lines = [f"calendar ({inventory.plan.timezone.key}):"]
    for name, phase in (("before", cal.before), ("during", cal.during), ("after", cal.after)):
        if phase is not None:
            lines.append(f"  {name:<8}{phase.start:%Y-%m-%d %H:%M} to {phase.end:%Y-%m-%d %H:%M}")
    lines.append(f"  sessions: {len(cal.sessions)}")
    lines += [f"    {span_text(s.start, s.end)}  {s.name}" for s in cal.sessions]
    return lines


def probe_line(p: ProbeSettings) -> str:
    return (
        f"probe: {p.count} echo requests {seconds_text(p.echo_interval)} apart, timeout "
        f"{seconds_text(p.timeout)}; a round every {seconds_text(p.interval)}, every "
        f"{seconds_text(p.session_interval)} during exam sessions"
    )


def snmp_line(s: SnmpSettings) -> str:
    return (
        f"snmp: a poll of each device every {seconds_text(s.interval)}, every "
        f"{seconds_text(s.session_interval)} during exam sessions; at most "
        f"{s.max_concurrency} at once"
    )


def readiness_line(leads: Sequence[float]) -> str:
    if not leads:
        return "readiness: no snapshots"
    shown = [duration_text(lead) for lead in leads]
    listed = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"
    return f"readiness: a snapshot {listed} before each exam session"


def monitor_line(m: MonitorSettings) -> str:
    if not m.control:
        return "monitor: no control target, so examnet cannot tell when it is blind"
    return (
        f"monitor: control {', '.join(m.control)}; BLIND when it fails together with at "
        f"least {m.blind_share:.0%} of the targets"
    )


def severity_line(table: SeverityTable) -> str:
    changed = sum(
        1
        for row, default in zip(table.rows, DEFAULT_SEVERITY.rows, strict=True)
        for phase in ("before", "during", "after", "outside")
        if getattr(row, phase) != getattr(default, phase)
    )
    cells = f" with {changed} cell{'' if changed == 1 else 's'} changed" if changed else ""
    bump = "one step higher" if table.session_bump else "unchanged"
    return f"severity: the default table{cells}; {bump} during exam sessions"


def alerting_line(a: AlertingSettings) -> str:
    return (
        f"alerting: summaries in {a.language}; group_wait {duration_text(a.group_wait)}, "
        f"group_interval {duration_text(a.group_interval)}, repeat_interval "
        f"{duration_text(a.repeat_interval)}; escalation after {duration_text(a.escalate_after)}; "
        f"an undelivered notification is given up after {duration_text(a.outbox_expire)}"
    )


def route_line(number: int, route: Route, a: AlertingSettings) -> str:
    """`1. severity="critical" -> oncall, noc (continue; ...)`: what, where, how."""
    matched = ", ".join(str(m) for m in route.matchers) or "every alert"
    notes = [f"by {', '.join(route.group_by) or 'nothing'}"]
    for name in ("group_wait", "group_interval", "repeat_interval"):
        if getattr(route, name) != getattr(a, name):
            notes.append(f"{name} {duration_text(getattr(route, name))}")
    if route.escalate_to is not None:
        notes.append(f"escalate to {route.escalate_to} after {duration_text(route.escalate_after)}")
    if route.continue_:
        notes.append("continue")
    return f"  {number}. {matched} -> {', '.join(route.receivers)} ({'; '.join(notes)})"


def alerting_lines(inventory: Inventory) -> list[str]:
    """Notifiers by id and kind (never a setting: some are secrets), routes, silences."""
    a = inventory.alerting
    rows = [["notifier", "kind", "language"]]
    rows += [[n.id, n.kind, n.language] for n in inventory.notifiers]
    lines = [alerting_line(a), *table_lines(rows, numeric_from=3), "routes (in order):"]
    lines += [route_line(i, r, a) for i, r in enumerate(inventory.routes, start=1)]
    lines.append(f"silences: {len(inventory.silences) or 'none'}")
    if inventory.silences:
        silences = [["silence", "from", "to", "matchers", "by", "comment"]]
        silences += [
            [
                s.id,
                f"{s.start:%Y-%m-%d %H:%M}",
                f"{s.end:%Y-%m-%d %H:%M}",
                ", ".join(str(m) for m in s.matchers),
                s.by,
                s.comment,
            ]
            for s in inventory.silences
        ]
        lines += table_lines(silences, numeric_from=len(silences[0]))
    return lines


def summarize(inventory: Inventory) -> str:
    """What `examnet check` prints for a file without problems."""
    links = list(inventory.links())
    windowed = sum(1 for link in links if link.active is not None)
    windows = f" ({windowed} with an active window)" if windowed else ""
    devices = len(list(inventory.devices()))
    lines = [
        f'{inventory.source}: OK — plan "{inventory.plan.name}" ({inventory.plan.timezone.key})',
        f"{len(inventory.sites)} sites, {len(links)} links{windows}, "
        f"{len(inventory.endpoints)} endpoints, {devices} devices, "
        f"{len(inventory.carriers)} carriers",
        probe_line(inventory.probe),
        snmp_line(inventory.snmp),
        readiness_line(inventory.readiness),
        monitor_line(inventory.monitor),
        severity_line(inventory.severity),
        "",
        *carrier_lines(inventory),
        "",
        *calendar_lines(inventory),
        "",
    ]
    if inventory.lab is not None:
        lines += [f'lab: network {inventory.lab.network}, prefix "{inventory.lab.prefix}"', ""]
    lines += [*alerting_lines(inventory), ""]
    lines.append(f"warnings: {len(inventory.warnings) or 'none'}")
    lines += [f"  {warning}" for warning in inventory.warnings]
    return "\n".join(lines)
