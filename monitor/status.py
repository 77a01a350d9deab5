"""`examnet status`: the last known state of every site, link, device and power source.

Read from the database, so it works from any shell while the monitor runs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from alerts.rules import incident_fingerprint
from monitor.calendar import phase_at, session_at
from monitor.inventory import Inventory, Site
from monitor.operations import silenced_incidents
from monitor.records import IncidentRecord
from monitor.redundancy import fake_redundancy
from monitor.storage import Store
from monitor.storage.alert_rows import StoredIncident
from monitor.storage.engine import safe_url
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
        e.id: states.get(("target", f"endpoint:{e.id}"), "unknown") for e in inventory.endpoints
    }
    return {
        "plan": inventory.plan.name,
        "phase": str(phase_at(inventory.calendar, now)),
        "session": session.name if session else None,
        "sites": [_site(site, states, open_) for site in inventory.sites],
        "endpoints": endpoints,
        "carriers": _carriers(inventory, states),
        "devices": _devices(inventory, states, polls or {}),
        "open_incidents": [
            _incident(i, now, by_key.get(i.key), silenced or {})
            for i in sorted(open_, key=lambda i: (_SEVERITY_ORDER.get(i.severity, 9), i.started_at))
        ],
        "warnings": [w for site in inventory.sites for w in fake_redundancy(site)],
    }


_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


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


def _carriers(inventory: Inventory, states: States) -> list[dict[str, Any]]:
    out = []
    for carrier in inventory.carriers:
        counts = {"up": 0, "degraded": 0, "down": 0, "unknown": 0}
        for link in inventory.links():
            if link.carrier == carrier.id:
                state = states.get(("target", f"link:{link.key}"), "unknown")
                counts[state if state in counts else "unknown"] += 1
        down = [
            e.id
            for e in inventory.endpoints
            if e.carrier == carrier.id and states.get(("target", f"endpoint:{e.id}")) == "down"
        ]
        out.append({"carrier": carrier.id, "links": counts, "endpoints_down": down})
    return out


def _site(site: Site, states: States, incidents: list[IncidentRecord]) -> dict[str, Any]:
    links = [
        {
            "link": link.id,
            "carrier": link.carrier,
            "state": states.get(("target", f"link:{link.key}"), "unknown"),
        }
        for link in site.links
    ]
    working = [link for link in links if link["state"] in ("up", "congested")]
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
                "last_poll": summary.last.isoformat(timespec="seconds") if summary.last else None,
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
    states, polls, incidents, silenced = _read(db_url, moment)
    data = collect(inventory, states, moment, polls, stored=incidents, silenced=silenced)
    if as_json:
        return json.dumps(data, ensure_ascii=False, indent=2)
    return _table(data)


def _read(
    db_url: str, now: datetime
) -> tuple[States, dict[str, PollSummary], list[StoredIncident], dict[int, list[str]]]:
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").exists():
        raise StatusError(
            f"{url.database}: no such database: start the monitor (examnet run) "
            "or point --db / EXAMNET_DB at its database"
        )
    store = Store(db_url)
    try:
        if store.current_revision() is None:
            raise StatusError(
                f"{safe_url(db_url)} holds no examnet data yet: start the monitor "
                "(examnet run) or point --db / EXAMNET_DB at its database"
            )
        return (
            store.latest_states(),
            store.poll_summary(now - TROUBLE_WINDOW),
            store.alerting.incident_rows(open_only=True),
            silenced_incidents(store.alerting, now),
        )
    except SQLAlchemyError as exc:
        raise StatusError(f"cannot read {safe_url(db_url)}: {type(exc).__name__}") from exc
    finally:
        store.close()


def _table(data: dict[str, Any]) -> str:
    session = f", session {data['session']}" if data["session"] else ""
    lines = [f"{data['plan']} — phase: {data['phase']}{session}", ""]
    lines.append(
        f"{'SITE':<28} {'STATE':<16} {'LINKS UP':>8}  {'CARRIERS UP':<26} {'POWER':<11} NOT UP"
    )
    for s in data["sites"]:
        carriers = f"{len(s['carriers_up'])}/{s['min_carriers']} " + ",".join(s["carriers_up"])
        lines.append(
            f"{s['site']:<28} {s['state']:<16} {s['links_up']:>4}/{s['links']:<3}  "
            f"{carriers:<26} {s['power'] or '-':<11} {', '.join(s['not_up'])}"
        )
    down = [f"{e} ({state})" for e, state in data["endpoints"].items() if state != "up"]
    lines += ["", "endpoints not up: " + (", ".join(down) or "none")]
    if data["devices"]:
        lines += ["", f"{'DEVICE':<40} {'STATE':<10} {'LAST POLL':<26} TROUBLES (24 h)"]
        for d in data["devices"]:
            lines.append(
                f"{d['device']:<40} {d['state']:<10} {d['last_poll'] or '-':<26} {_troubles(d)}"
            )
    lines += _incident_lines(data["open_incidents"])
    lines += [f"warning: {w}" for w in data["warnings"]]
    return "\n".join(lines)


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
