"""The incident history as JSON and rows: one shape for the API and `examnet incidents`.

What a carrier sees (`scope` set) leaves out what may name another carrier:
the incident's cause and the other subjects it affected, and where its
notifications went.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta
from typing import Any

from alerts.rules import incident_fingerprint
from monitor.storage.access_store import Timeline
from monitor.storage.alert_rows import StoredIncident
from monitor.storage.history import Figures
from monitor.storage.tokens import TokenInfo

LIFETIME = re.compile(r"([1-9][0-9]{0,4})([hdw])")
LIFETIME_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def lifetime(text: str) -> timedelta:
    """A token's lifetime: "12h", "30d", "8w" (up to 99,999 of a unit)."""
    match = LIFETIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f'expected a lifetime like "12h", "30d" or "8w", got {text[:40]!r}')
    return int(match[1]) * LIFETIME_UNITS[match[2]]


# the columns of a table or CSV export, in order
COLUMNS = (
    "id", "started_at", "ended_at", "severity", "kind", "phase", "site", "carrier", "subject",
    "reason", "sessions", "acknowledged_by",
)  # fmt: skip


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def history_json(stored: StoredIncident, scope: str | None) -> dict[str, Any]:
    """One incident of the history; a carrier's view names no other carrier."""
    r = stored.record
    found: dict[str, Any] = {
        "id": stored.id,
        "fingerprint": incident_fingerprint(r),
        "subject_kind": str(r.subject_kind),
        "subject": r.subject,
        "kind": str(r.kind),
        "severity": str(r.severity),
        "phase": str(r.phase),
        "started_at": _time(r.started_at),
        "ended_at": _time(r.ended_at),
        "open": r.ended_at is None,
        "carrier": r.carrier,
        "site": r.site,
        "sessions": list(r.sessions),
        "reason": r.reason,
        "worst_loss": r.worst_loss,
        "worst_rtt_ms": r.worst_rtt_ms,
        "worst_utilisation": r.worst_utilisation,
        "acknowledged_by": stored.acknowledged_by,
        "acknowledged_at": _time(stored.acknowledged_at),
        "acks": [{"by": a.by, "at": _time(a.at), "note": a.note} for a in stored.acks],
    }
    if scope is None:
        found["cause"] = r.cause
        found["affected"] = list(r.affected)
    return found


def incident_detail_json(
    stored: StoredIncident, timeline: Timeline, scope: str | None
) -> dict[str, Any]:
    notifications = [
        {"created_at": _time(n.created_at), "state": n.state, "delivered_at": _time(n.delivered_at)}
        | ({} if scope is not None else {"receiver": n.receiver})
        for n in timeline.notifications
    ]
    return history_json(stored, scope) | {
        "timeline": {
            "state_changes": [{**change, "at": _time(change["at"])} for change in timeline.changes],
            "notifications": notifications,
            "acks": [{"by": a.by, "at": _time(a.at), "note": a.note} for a in stored.acks],
            "notes": [{"by": n.by, "at": _time(n.at), "note": n.note} for n in timeline.notes],
        }
        | ({} if timeline.figures is None else {"figures": figures_json(timeline.figures)})
    }


def figures_json(figures: Figures) -> dict[str, Any]:
    """The chart data of an incident: its subject's rounds and interface samples."""
    rounds = [
        {"at": _time(r["at"]), "target": r["series"]}
        | {k: r[k] for k in ("loss", "rtt_median_ms", "rtt_avg_ms", "rtt_max_ms")}
        for r in figures.rounds
    ]
    samples = [
        {"at": _time(s["at"]), "interface": s["series"], "link": s["link"]}
        | {k: s[k] for k in ("utilisation_in", "utilisation_out", "in_bps", "out_bps")}
        for s in figures.interfaces
    ]
    return {
        "since": _time(figures.since),
        "until": _time(figures.until),
        "rounds": rounds,
        "interfaces": samples,
        "every_round": figures.every_round,
        "every_sample": figures.every_sample,
    }


BOM = "\ufeff"  # so a spreadsheet reads the CSV as UTF-8 (Vietnamese names intact)


def export_csv(found: list[dict[str, Any]]) -> str:
    """The incidents as CSV: a BOM, the header `COLUMNS`, one line per incident (CRLF)."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(export_row(item) for item in found)
    return out.getvalue()


def export_json(found: list[dict[str, Any]], total: int) -> str:
    return json.dumps({"total": total, "incidents": found}, ensure_ascii=False, indent=1) + "\n"


def export_row(item: dict[str, Any]) -> list[str]:
    """One incident of `history_json` as the cells of a table or CSV line."""
    cells = []
    for name in COLUMNS:
        value = item[name]
        if isinstance(value, list):
            value = " ".join(value)
        cells.append("" if value is None else str(value))
    return cells


def token_json(info: TokenInfo, now: datetime) -> dict[str, Any]:
    """A stored token without its secret (which is never stored)."""
    return {
        "id": info.id,
        "name": info.name,
        "role": info.role,
        "carrier": info.carrier,
        "created_by": info.created_by,
        "created_at": _time(info.created_at),
        "expires_at": _time(info.expires_at),
        "revoked_at": _time(info.revoked_at),
        "usable": info.usable(now),
    }
