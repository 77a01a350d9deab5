"""How figures read in a report: times in the plan's zone, durations, shares, worst figures."""

from __future__ import annotations

from datetime import datetime, tzinfo

from monitor.model.records import IncidentRecord


def moment(value: datetime | None, zone: tzinfo) -> str:
    return "" if value is None else value.astimezone(zone).strftime("%d/%m/%Y %H:%M:%S")


def clock(value: datetime, zone: tzinfo) -> str:
    return value.astimezone(zone).strftime("%d/%m %H:%M")


def duration(seconds: float | None) -> str:
    """`45 s`, `3 min 20 s`, `2 h 05 min` (a report wants the seconds of a short outage)."""
    if seconds is None:
        return "—"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f} %"


def worst(r: IncidentRecord) -> str:
    parts = []
    if r.worst_loss is not None:
        parts.append(f"loss {r.worst_loss * 100:.0f} %")
    if r.worst_rtt_ms is not None:
        parts.append(f"RTT {r.worst_rtt_ms:.0f} ms")
    if r.worst_utilisation is not None:
        parts.append(f"util {r.worst_utilisation * 100:.0f} %")
    return ", ".join(parts) or "—"
