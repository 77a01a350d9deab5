"""From incidents to alerts: labels to route and group on, and words to read.

The `group` label is the incident's cause when it has one, else the incident
itself: a carrier endpoint that goes down and the sites it cuts therefore
share one group, and one notification names them all.

The words of a site's alert use what the evaluator knows *now* (the carriers
up); an alert also carries its `gravity`, so the monitor can keep the words
of its worst moment for the resolved notice (monitor.alerting).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from alerts.model import Alert, fingerprint
from alerts.templates import Facts, summaries
from monitor.model.inventory import Inventory, Site
from monitor.model.keys import DEVICE, ENDPOINT, LINK, parse_key, strip_kind
from monitor.model.records import IncidentRecord


class Context(Protocol):
    """What the evaluator knows now, for the words of a site's alert."""

    def carriers_up(self, site: str) -> tuple[str, ...]: ...


def group_of(record: IncidentRecord) -> str:
    """What an alert is grouped with by default: its cause, else its site, else itself.

    A carrier's endpoint and the sites it cuts off are one group (the sites name
    it as cause); a link down and the redundancy its site lost are another.
    """
    if record.cause:
        return record.cause
    if record.site:
        return f"site|{record.site}"
    return f"{record.subject_kind}|{record.subject}|{record.kind}"


def incident_fingerprint(record: IncidentRecord) -> str:
    """The fingerprint of the incident's alert (what `examnet ack` also takes)."""
    return fingerprint(record.subject_kind, record.subject, record.kind, record.started_at)


def alert_for(
    record: IncidentRecord, inventory: Inventory, context: Context, incident_id: int | None = None
) -> Alert:
    labels = labels_for(record, inventory, context)
    return Alert(
        fingerprint=incident_fingerprint(record),
        labels=labels,
        summary=summaries(facts_for(record, inventory, context, labels)),
        starts_at=record.started_at,
        ends_at=record.ended_at,
        incident_id=incident_id,
        details={
            "reason": record.reason,
            "cause": record.cause or "",
            "affected": ",".join(record.affected),
        },
        gravity=gravity(record, inventory, context),
    )


def gravity(record: IncidentRecord, inventory: Inventory, context: Context) -> tuple[int, int]:
    """How bad it is now: carriers lost at its site, then sites affected (more is worse)."""
    site = _site(inventory, record.site)
    lost = _lost(site, context, record.updated_at) if site else ""
    return (len([c for c in lost.split(",") if c]), len(record.affected))


def labels_for(record: IncidentRecord, inventory: Inventory, context: Context) -> dict[str, str]:
    """The alert's labels: those of the record, and the site's district and lost carriers."""
    labels = record_labels(record)
    site = _site(inventory, record.site)
    if site is not None:
        labels["district"] = site.district
        labels["carrier"] = record.carrier or _lost(site, context, record.updated_at)
    labels["rehearsal"] = inventory.alerting.rehearsal
    return labels


def record_labels(record: IncidentRecord) -> dict[str, str]:
    """The labels the record alone gives: all but a site's district and the carriers it lost.

    What `examnet silence add` can match an incident on when it has no
    inventory, and no receiver was told the alert's labels yet.
    """
    labels = {
        "kind": str(record.kind),  # labels are text on the wire
        "severity": str(record.severity),
        "phase": str(record.phase),
        "session": record.sessions[-1] if record.sessions else "",
        "subject": record.subject,
        "subject_kind": str(record.subject_kind),
        "group": group_of(record),
        "site": record.site or "",
        "district": "",
        "carrier": record.carrier or "",
        "rehearsal": "",
    }
    key = parse_key(record.subject)
    if key is not None and key.kind in (LINK, ENDPOINT, DEVICE):
        labels[key.kind] = key.ident if key.kind == LINK else strip_kind(record.subject)
    return labels


def facts_for(
    record: IncidentRecord, inventory: Inventory, context: Context, labels: dict[str, str]
) -> Facts:
    site = _site(inventory, record.site)
    carriers = {c.id: c.name for c in inventory.carriers}
    names = {s.id: s.name for s in inventory.sites}
    lost = _lost(site, context, record.updated_at) if site else ""
    return Facts(
        kind=record.kind,
        subject=record.subject,
        reason=record.reason,
        site=site.name if site else "",
        district=site.district if site else "",
        carrier=carriers.get(record.carrier or "", record.carrier or ""),
        link=labels.get("link", ""),
        endpoint=labels.get("endpoint", ""),
        device=labels.get("device", ""),
        session=labels["session"] or _session(record),
        carriers_lost=", ".join(carriers.get(c, c) for c in lost.split(",") if c),
        carriers_up=len(context.carriers_up(site.id)) if site else 0,
        min_carriers=site.min_carriers if site else 0,
        sites=tuple(names.get(s, s) for s in record.affected),
    )


def _session(record: IncidentRecord) -> str:
    # a `not_ready` incident is about the session it names
    return record.subject if record.kind == "not_ready" else ""


def _site(inventory: Inventory, site_id: str | None) -> Site | None:
    return next((s for s in inventory.sites if s.id == site_id), None) if site_id else None


def _lost(site: Site, context: Context, moment: datetime) -> str:
    """The carriers of the site that have no link up now (comma-separated ids).

    Only links active at `moment` count: a mobile BTS before its window is
    not part of the site, so its carrier is not lost (nor paged).
    """
    up = set(context.carriers_up(site.id))
    return ",".join(sorted({link.carrier for link in site.active_links(moment)} - up))
