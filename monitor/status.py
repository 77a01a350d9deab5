"""`examnet status`: the last known state of every site, link, device and power source.

Read from the database, so it works from any shell while the monitor runs.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from alerts.rules import incident_fingerprint
from monitor.console import local_time, printable
from monitor.model.calendar import phase_at, session_at
from monitor.model.inventory import Inventory, Link, Site
from monitor.model.keys import endpoint_key
from monitor.model.records import IncidentRecord
from monitor.model.redundancy import fake_redundancy
from monitor.model.rehearsal import Rehearsal, describe, rehearsed
from monitor.model.vocabulary import WORKING, severity_rank
from monitor.operations import silenced_incidents
from monitor.storage import Store
from monitor.storage.alert_rows import StoredIncident
from monitor.storage.engine import NoDatabaseError, no_data, require_sqlite_file, safe_url
from monitor.storage.store import PollSummary

TROUBLE_WINDOW = timedelta(hours=24)
States = dict[tuple[str, str], str]


class StatusError(Exception):
    """The database cannot say anything yet; the message says why."""


_WORSE = {"down": 0, "degraded": 1, "unknown": 2, "up": 3}


def collect(
    inventory: Inventory,
    states: States,
    now: datetime,
    polls: dict[str, PollSummary] | None = None,
    incidents: list[IncidentRecord] | None = None,
    *,
    stored: list[StoredIncident] | None = None,
    silenced: dict[int, list[str]] | None = None,
) -> dict[str, Any]:
    """The status as data; `stored` adds incident ids and acknowledgements.

    `silenced` (incident id → silences holding its alert) marks what on-call
    will not be told about.
    """
    open_ = incidents if incidents is not None else [s.record for s in stored or []]
    by_key = {s.record.key: s for s in stored or []}
    session = session_at(inventory.calendar, now)
    endpoints = {
        e.id: states.get(("target", endpoint_key(e.id)), "unknown") for e in inventory.endpoints
    }
    return {
        "plan": inventory.plan.name,
        "timezone": inventory.plan.timezone.key,
        "now": _utc(now),
        "phase": str(phase_at(inventory.calendar, now)),
        "session": session.name if session else None,
        "sites": [_site(site, states, open_, now) for site in inventory.sites],
        "endpoints": endpoints,
        "carriers": _carriers(inventory, states, now),
        "devices": _devices(inventory, states, polls or {}),
        "open_incidents": [
            _incident(i, now, by_key.get(i.key), silenced or {})
            for i in sorted(open_, key=lambda i: (-severity_rank(i.severity), i.started_at))
        ],
        "warnings": [w for site in inventory.sites for w in fake_redundancy(site)],
    }


def _incident(
    incident: IncidentRecord,
    now: datetime,
    stored: StoredIncident | None,
    silenced: dict[int, list[str]],
) -> dict[str, Any]:
    return {
        "id": stored.id if stored else None,
        "fingerprint": incident_fingerprint(incident),
        "acknowledged_by": stored.acknowledged_by if stored else None,
        "ack_note": stored.ack_note if stored else None,
        "ack_count": len(stored.acks) if stored else 0,
        "silenced_by": silenced.get(stored.id, []) if stored else [],
        "severity": incident.severity,
        "kind": incident.kind,
        "subject": incident.subject,
        "carrier": incident.carrier,
        "site": incident.site,
        "since": incident.started_at.isoformat(timespec="seconds"),
        "minutes": round((now - incident.started_at).total_seconds() / 60),
        "sessions": list(incident.sessions),
        "reason": incident.reason,
        "cause": incident.cause,
    }


def _utc(moment: datetime) -> str:
    """RFC 3339 in UTC, for JSON."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _is_active(link: Link, now: datetime) -> bool:
    """A link outside its active window is not part of its site now (not lost, not counted)."""
    return link.active is None or link.active.contains(now)


def _not_active(link: Link) -> dict[str, Any]:
    window = link.active  # set: a link without a window is always active
    return {
        "link": link.id,
        "carrier": link.carrier,
        "active_from": _utc(window.start) if window else None,
        "active_until": _utc(window.end) if window else None,
    }


def _carriers(inventory: Inventory, states: States, now: datetime) -> list[dict[str, Any]]:
    out = []
    for carrier in inventory.carriers:
        counts = {"up": 0, "degraded": 0, "down": 0, "unknown": 0}
        for link in inventory.links():
            if link.carrier == carrier.id and _is_active(link, now):
                state = states.get(("target", link.target_key), "unknown")
                counts[state if state in counts else "unknown"] += 1
        down = [
            e.id
            for e in inventory.endpoints
            if e.carrier == carrier.id and states.get(("target", endpoint_key(e.id))) == "down"
        ]
        not_active = sum(
            1
            for link in inventory.links()
            if link.carrier == carrier.id and not _is_active(link, now)
        )
        out.append(
            {
                "carrier": carrier.id,
                "links": counts,
                "links_not_active": not_active,
                "endpoints_down": down,
            }
        )
    return out


def _site(
    site: Site, states: States, incidents: list[IncidentRecord], now: datetime
) -> dict[str, Any]:
    links = [
        {
            "link": link.id,
            "carrier": link.carrier,
            "state": states.get(("target", link.target_key), "unknown"),
        }
        for link in site.links
        if _is_active(link, now)
    ]
    working = [link for link in links if link["state"] in WORKING]
    return {
        "site": site.id,
        "name": site.name,
        "district": site.district,
        "state": states.get(("site", site.id), "unknown"),
        "links_up": len(working),
        "links": len(links),
        "carriers_up": sorted({str(link["carrier"]) for link in working}),
        "min_carriers": site.min_carriers,
        "not_up": [f"{link['link']} ({link['state']})" for link in links if link["state"] != "up"],
        "power": states.get(("power", site.id)),
        "worst_link": min(links, key=lambda link: _WORSE.get(str(link["state"]), 2))["link"]
        if links and any(link["state"] != "up" for link in links)
        else None,
        "open_incidents": sum(1 for i in incidents if i.site == site.id),
        "not_active": [_not_active(link) for link in site.links if not _is_active(link, now)],
    }


def _devices(
    inventory: Inventory, states: States, polls: dict[str, PollSummary]
) -> list[dict[str, Any]]:
    out = []
    for device in inventory.devices():
        summary = polls.get(device.key, PollSummary())
        out.append(
            {
                "device": device.key,
                "state": states.get(("device", device.key), "unknown"),
                "last_poll": _utc(summary.last) if summary.last else None,
                "polls_24h": summary.polls,
                "failures_24h": dict(sorted(summary.failures.items())),
                "unreadable_values_24h": summary.problems,
            }
        )
    return out


def render(
    inventory: Inventory, db_url: str, *, as_json: bool = False, now: datetime | None = None
) -> str:
    moment = now or datetime.now(UTC)
    states, polls, incidents, silenced, rehearsal = _read(db_url, moment)
    if rehearsal is not None:  # the monitor runs on the moved plan: read the same one
        inventory = rehearsed(inventory, rehearsal)
    data = collect(inventory, states, moment, polls, stored=incidents, silenced=silenced)
    data["rehearsal"] = _rehearsal(rehearsal)
    if as_json:
        return json.dumps(data, ensure_ascii=False, indent=2)
    return _table(data, inventory.plan.timezone, moment)


def _rehearsal(r: Rehearsal | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "session": r.session,
        "shift_seconds": r.shift.total_seconds(),
        "started_at": r.started_at.isoformat(),
        "text": describe(r),
    }


def _read(
    db_url: str, now: datetime
) -> tuple[
    States, dict[str, PollSummary], list[StoredIncident], dict[int, list[str]], Rehearsal | None
]:
    try:
        require_sqlite_file(db_url)
    except NoDatabaseError as exc:
        raise StatusError(str(exc)) from None
    store = Store(db_url)
    try:
        if store.current_revision() is None:
            raise StatusError(str(no_data(db_url)))
        return _rows(store, now)
    except SQLAlchemyError as exc:
        raise StatusError(f"cannot read {safe_url(db_url)}: {type(exc).__name__}") from exc
    finally:
        store.close()


def _table(data: dict[str, Any], zone: ZoneInfo, now: datetime) -> str:
    """The status for a person: times in the plan's zone, text from outside escaped."""
    session = f", session {data['session']}" if data["session"] else ""
    lines = [
        f"{data['plan']} — phase: {data['phase']}{session} — {local_time(now, zone)} ({zone.key})",
        "",
    ]
    if data.get("rehearsal"):
        lines[-1:-1] = [f"REHEARSAL: {data['rehearsal']['text']}"]
    lines.append(
        f"{'SITE':<28} {'STATE':<16} {'LINKS UP':>8}  {'CARRIERS UP':<36} {'POWER':<11} "
        "NOT UP / NOT ACTIVE"
    )
    for s in data["sites"]:
        carriers = f"{len(s['carriers_up'])} of {s['min_carriers']} required"
        if s["carriers_up"]:
            carriers += ": " + ",".join(s["carriers_up"])
        notes = s["not_up"] + [_not_active_text(link, now, zone) for link in s["not_active"]]
        lines.append(
            f"{s['site']:<28} {s['state']:<16} {s['links_up']:>4}/{s['links']:<3}  "
            f"{carriers:<36} {s['power'] or '-':<11} {', '.join(notes)}"
        )
    down = [f"{e} ({state})" for e, state in data["endpoints"].items() if state != "up"]
    lines += ["", "endpoints not up: " + (", ".join(down) or "none")]
    if data["devices"]:
        lines += ["", f"{'DEVICE':<40} {'STATE':<10} {'LAST POLL':<26} TROUBLES (24 h)"]
        for d in data["devices"]:
            polled = (
                local_time(_parse(d["last_poll"]), zone, seconds=True) if d["last_poll"] else "-"
            )
            lines.append(f"{d['device']:<40} {d['state']:<10} {polled:<26} {_troubles(d)}")
    lines += _incident_lines(data["open_incidents"])
    lines += [f"warning: {w}" for w in data["warnings"]]
    return "\n".join(printable(line) for line in lines)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _not_active_text(link: dict[str, Any], now: datetime, zone: ZoneInfo) -> str:
    """`mobifone-bts (not active until 2027-06-02 00:00 +07:00)`, or `since` once it has ended."""
    start, end = _parse(link["active_from"]), _parse(link["active_until"])
    when = f"until {local_time(start, zone)}" if now < start else f"since {local_time(end, zone)}"
    return f"{link['link']} (not active {when})"


def _incident_lines(incidents: list[dict[str, Any]]) -> list[str]:
    if not incidents:
        return ["", "open incidents: none"]
    lines = ["", f"open incidents ({len(incidents)}):"]
    for i in incidents:
        during = f" during {', '.join(i['sessions'])}" if i["sessions"] else ""
        ack = ""
        if i["acknowledged_by"]:
            note = f": {i['ack_note']}" if i["ack_note"] else ""
            count = f", {i['ack_count']} acks" if i.get("ack_count", 0) > 1 else ""
            ack = f" [acknowledged by {i['acknowledged_by']}{note}{count}]"
        if i.get("silenced_by"):
            ack += f" [silenced: {', '.join(i['silenced_by'])}]"
        number = f"#{i['id']}" if i["id"] is not None else "-"
        lines.append(
            f"  {number:<6} {i['severity']:<8} {i['kind']:<16} {i['subject']:<32} "
            f"{i['minutes']:>5} min{during}: {i['reason']}{ack}"
        )
    return lines


def _troubles(device: dict[str, Any]) -> str:
    parts = [f"{kind} {count}" for kind, count in device["failures_24h"].items()]
    if device["unreadable_values_24h"]:
        parts.append(f"unreadable values {device['unreadable_values_24h']}")
    return ", ".join(parts) or f"none in {device['polls_24h']} polls"


def _rows(
    store: Store, now: datetime
) -> tuple[
    States, dict[str, PollSummary], list[StoredIncident], dict[int, list[str]], Rehearsal | None
]:
    return (
        store.latest_states(),
        store.poll_summary(now - TROUBLE_WINDOW),
        store.alerting.incident_rows(open_only=True),
        silenced_incidents(store.alerting, now),
        store.rehearsal(),
    )


def snapshot(
    inventory: Inventory, store: Store, now: datetime, scope: str | None
) -> dict[str, Any]:
    """What `status --json` shows, read from a running monitor's store (GET /api/status).

    `inventory` is the one the monitor runs on (already rehearsed). A carrier
    (`scope`) sees the status of an inventory cut to its own links and
    endpoints, and its own open incidents: no other carrier is named, no
    device is shown (a site's devices are not a carrier's) and no warning
    (they compare a site's carriers).
    """
    states, polls, incidents, silenced, rehearsal = _rows(store, now)
    if scope is not None:
        inventory = carrier_inventory(inventory, scope)
        incidents = [i for i in incidents if i.record.carrier == scope]
        polls = {}
    data = collect(inventory, states, now, polls, stored=incidents, silenced=silenced)
    data["rehearsal"] = _rehearsal(rehearsal)
    if scope is not None:
        data["devices"] = []
        data["warnings"] = []
        for item in data["open_incidents"]:
            item["cause"] = None  # may name the site's other carriers
            item["silenced_by"] = []
    return data


def carrier_inventory(inventory: Inventory, carrier: str) -> Inventory:
    """The inventory cut to one carrier: its links (and the sites they serve), its endpoints."""
    sites = tuple(
        replace(
            site, links=tuple(link for link in site.links if link.carrier == carrier), devices=()
        )
        for site in inventory.sites
        if any(link.carrier == carrier for link in site.links)
    )
    return replace(
        inventory,
        carriers=tuple(c for c in inventory.carriers if c.id == carrier),
        endpoints=tuple(e for e in inventory.endpoints if e.carrier == carrier),
        sites=sites,
    )
