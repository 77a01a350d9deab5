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

from monitor.calendar import phase_at, session_at
from monitor.inventory import Inventory, Site
from monitor.storage import Store
from monitor.storage.engine import safe_url
from monitor.storage.store import PollSummary

TROUBLE_WINDOW = timedelta(hours=24)
States = dict[tuple[str, str], str]


class StatusError(Exception):
    """The database cannot say anything yet; the message says why."""


def collect(
    inventory: Inventory,
    states: States,
    now: datetime,
    polls: dict[str, PollSummary] | None = None,
) -> dict[str, Any]:
    session = session_at(inventory.calendar, now)
    endpoints = {
        e.id: states.get(("target", f"endpoint:{e.id}"), "unknown") for e in inventory.endpoints
    }
    return {
        "plan": inventory.plan.name,
        "phase": str(phase_at(inventory.calendar, now)),
        "session": session.name if session else None,
        "sites": [_site(site, states) for site in inventory.sites],
        "endpoints": endpoints,
        "devices": _devices(inventory, states, polls or {}),
    }


def _site(site: Site, states: States) -> dict[str, Any]:
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
    states, polls = _read(db_url, moment)
    data = collect(inventory, states, moment, polls)
    if as_json:
        return json.dumps(data, ensure_ascii=False, indent=2)
    return _table(data)


def _read(db_url: str, now: datetime) -> tuple[States, dict[str, PollSummary]]:
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
        return store.latest_states(), store.poll_summary(now - TROUBLE_WINDOW)
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
    return "\n".join(lines)


def _troubles(device: dict[str, Any]) -> str:
    parts = [f"{kind} {count}" for kind, count in device["failures_24h"].items()]
    if device["unreadable_values_24h"]:
        parts.append(f"unreadable values {device['unreadable_values_24h']}")
    return ", ".join(parts) or f"none in {device['polls_24h']} polls"
