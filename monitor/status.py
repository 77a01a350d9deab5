"""`examnet status`: the last known state of every site and target, from the database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from monitor.calendar import phase_at, session_at
from monitor.inventory import Inventory
from monitor.storage import Store
from monitor.storage.engine import safe_url


class StatusError(Exception):
    """The database cannot say anything yet; the message says why."""


def collect(
    inventory: Inventory, states: dict[tuple[str, str], str], now: datetime
) -> dict[str, Any]:
    sites = []
    for site in inventory.sites:
        links = [
            {
                "link": link.id,
                "carrier": link.carrier,
                "state": states.get(("target", f"link:{link.key}"), "unknown"),
            }
            for link in site.links
        ]
        up = [link for link in links if link["state"] == "up"]
        sites.append(
            {
                "site": site.id,
                "name": site.name,
                "district": site.district,
                "state": states.get(("site", site.id), "unknown"),
                "links_up": len(up),
                "links": len(links),
                "carriers_up": sorted({str(link["carrier"]) for link in up}),
                "min_carriers": site.min_carriers,
                "not_up": [
                    f"{link['link']} ({link['state']})" for link in links if link["state"] != "up"
                ],
            }
        )
    session = session_at(inventory.calendar, now)
    endpoints = {
        e.id: states.get(("target", f"endpoint:{e.id}"), "unknown") for e in inventory.endpoints
    }
    return {
        "plan": inventory.plan.name,
        "phase": str(phase_at(inventory.calendar, now)),
        "session": session.name if session else None,
        "sites": sites,
        "endpoints": endpoints,
    }


def render(
    inventory: Inventory, db_url: str, *, as_json: bool = False, now: datetime | None = None
) -> str:
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
        states = store.latest_states()
    except SQLAlchemyError as exc:
        raise StatusError(f"cannot read {safe_url(db_url)}: {type(exc).__name__}") from exc
    finally:
        store.close()
    data = collect(inventory, states, now or datetime.now(UTC))
    if as_json:
        return json.dumps(data, ensure_ascii=False, indent=2)
    return _table(data)


def _table(data: dict[str, Any]) -> str:
    session = f", session {data['session']}" if data["session"] else ""
    lines = [f"{data['plan']} — phase: {data['phase']}{session}", ""]
    lines.append(f"{'SITE':<28} {'STATE':<16} {'LINKS UP':>8}  {'CARRIERS UP':<26} NOT UP")
    for s in data["sites"]:
        carriers = f"{len(s['carriers_up'])}/{s['min_carriers']} " + ",".join(s["carriers_up"])
        lines.append(
            f"{s['site']:<28} {s['state']:<16} {s['links_up']:>4}/{s['links']:<3}  "
            f"{carriers:<26} {', '.join(s['not_up'])}"
        )
    down = [f"{e} ({state})" for e, state in data["endpoints"].items() if state != "up"]
    lines += ["", "endpoints not up: " + (", ".join(down) or "none")]
    return "\n".join(lines)
