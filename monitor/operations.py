"""What on-call does at run time: silences and acknowledgements, for the CLI and the API.

One implementation behind both doors, so `examnet silence add` and
`POST /api/silences` check the same things and store the same audit. Both
act on the database; a running monitor picks changes up within seconds.

A silence may name only labels alerts carry (`carier="viettel"` would match
nothing, ever), and says how many alerts it matches now, so a misspelt value
shows at once as "0 alerts". Alerts are the open incidents, with the labels
receivers were last told (the outbox), else those their record gives.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alerts.rules import incident_fingerprint, record_labels
from monitor.config.alerting import known_label
from monitor.config.problems import BadValueError
from monitor.model.matchers import Matcher, matches_all, parse_matcher
from monitor.model.records import SilenceRecord
from monitor.storage.alert_rows import StoredIncident
from monitor.storage.store import AlertingStore

MAX_SILENCE = timedelta(days=90)
_FINGERPRINT = re.compile(r"[0-9a-f]{16}")


class OperationError(ValueError):
    """A request on-call made that cannot be done; the message says why."""


@dataclass(frozen=True, slots=True)
class SilenceRequest:
    matchers: tuple[str, ...]
    by: str
    comment: str
    starts_at: datetime | None = None  # now
    ends_at: datetime | None = None
    duration: timedelta | None = None  # instead of ends_at


@dataclass(frozen=True, slots=True)
class NewSilence:
    """A silence just stored, and how many open alerts it matches now."""

    record: SilenceRecord
    matching: int


def check_words(request: SilenceRequest) -> tuple[Matcher, ...]:
    """Matchers that parse and name labels alerts carry, and the audit: who and why."""
    if not request.matchers:
        raise OperationError('a silence needs at least one matcher, e.g. site="thpt-a"')
    matchers = []
    for text in request.matchers:
        try:
            matcher = parse_matcher(text)
            known_label(matcher.name)
        except (ValueError, BadValueError) as exc:
            raise OperationError(f"matcher {text!r}: {exc}") from None
        matchers.append(matcher)
    if not request.by.strip():
        raise OperationError("say who creates the silence (--by)")
    if not request.comment.strip():
        raise OperationError("say why (--comment): the silence is audited")
    return tuple(matchers)


def period(request: SilenceRequest, now: datetime) -> tuple[datetime, datetime]:
    """The silence's start and end, checked."""
    starts = request.starts_at or now
    if request.ends_at is not None and request.duration is not None:
        raise OperationError("give an end or a duration, not both")
    if request.ends_at is not None:
        ends = request.ends_at
    elif request.duration is not None:
        ends = starts + request.duration
    else:
        raise OperationError("give an end (--end) or a duration (--duration)")
    for name, moment in (("start", starts), ("end", ends)):
        if moment.tzinfo is None:
            raise OperationError(f"the {name} needs a time zone (e.g. 2026-06-07T07:30+07:00)")
    if ends <= starts:
        raise OperationError(f"the end ({ends.isoformat()}) is not after the start")
    if ends <= now:
        raise OperationError(f"the end ({ends.isoformat()}) is already past")
    if ends - starts > MAX_SILENCE:
        raise OperationError("a silence may last at most 90 days")
    return starts, ends


def add_silence(store: AlertingStore, request: SilenceRequest, now: datetime) -> NewSilence:
    """Check and store a silence; returns it with its new id and the alerts it matches now."""
    matchers = check_words(request)
    starts, ends = period(request, now)
    record = SilenceRecord(
        id=uuid.uuid4().hex[:12],
        matchers=tuple(request.matchers),
        starts_at=starts,
        ends_at=ends,
        created_by=request.by.strip(),
        created_at=now,
        comment=request.comment.strip(),
    )
    store.add_silence(record)
    return NewSilence(record, matching(matchers, alert_labels(store).values()))


def matching(matchers: Sequence[Matcher], alerts: Iterable[Mapping[str, str]]) -> int:
    """How many of the alerts (their labels) every matcher matches."""
    return sum(1 for labels in alerts if matches_all(matchers, labels))


def alert_labels(store: AlertingStore) -> dict[int, Mapping[str, str]]:
    """Open incident id → its alert's labels, as receivers were last told them.

    An alert no receiver was told of yet (new, or silenced from the start)
    has the labels its record gives: all but a site's district and the
    carriers it lost, which need the inventory and the evaluator.
    """
    told: dict[str, Mapping[str, str]] = {}
    for row in store.outbox_latest():
        for alert in json.loads(row.notification).get("alerts", []):
            if alert.get("ends_at") is None and isinstance(alert.get("labels"), dict):
                told[str(alert.get("fingerprint"))] = alert["labels"]
    return {
        stored.id: told.get(incident_fingerprint(stored.record)) or record_labels(stored.record)
        for stored in store.incident_rows(open_only=True)
    }


def silenced_incidents(store: AlertingStore, now: datetime) -> dict[int, list[str]]:
    """Open incident id → the ids of the silences in effect that hold its alert."""
    active = []
    for s in store.silences(active_at=now):
        try:
            active.append((s.id, [parse_matcher(m) for m in s.matchers]))
        except ValueError:
            continue  # a silence refused since it was stored holds nothing (monitor.alerting)
    found: dict[int, list[str]] = {}
    for ident, labels in alert_labels(store).items():
        held = [sid for sid, matchers in active if matches_all(matchers, labels)]
        if held:
            found[ident] = held
    return found


def expire_silence(store: AlertingStore, ident: str, by: str, now: datetime) -> SilenceRecord:
    if not by.strip():
        raise OperationError("say who ends the silence (--by)")
    found = store.silence(ident)
    if found is None:
        raise OperationError(f"no silence {ident!r}")
    if not store.expire_silence(ident, by.strip(), now):
        raise OperationError(f"silence {ident} already ended at {found.ends_at.isoformat()}")
    ended = store.silence(ident)
    if ended is None:  # deleted under us: nothing else deletes silences
        raise OperationError(f"silence {ident} vanished")
    return ended


def find_incident(store: AlertingStore, ident: str) -> StoredIncident:
    """An incident by its id (as status shows it) or its alert's fingerprint (as alerts do)."""
    ident = ident.strip()
    if ident.isdigit():
        found = store.incident(int(ident))
        if found is None:
            raise OperationError(f"no incident {ident}")
        return found
    if not _FINGERPRINT.fullmatch(ident):
        raise OperationError(
            f"{ident!r} is neither an incident id (a number) nor an alert fingerprint "
            "(16 hexadecimal digits)"
        )
    for stored in store.incident_rows():
        if incident_fingerprint(stored.record) == ident:
            return stored
    raise OperationError(f"no incident with the alert fingerprint {ident}")


def acknowledge(
    store: AlertingStore, ident: str, by: str, note: str, now: datetime
) -> StoredIncident:
    """Record the acknowledgement; repeats and escalation of its alert stop."""
    if not by.strip():
        raise OperationError("say who acknowledges (--by)")
    found = find_incident(store, ident)
    if found.record.ended_at is not None:
        raise OperationError(
            f"incident {found.id} already ended at {found.record.ended_at.isoformat()}"
        )
    store.acknowledge(found.id, by.strip(), note.strip(), now)
    acked = store.incident(found.id)
    if acked is None:
        raise OperationError(f"incident {found.id} vanished")
    return acked


def silence_json(silence: SilenceRecord | NewSilence, now: datetime) -> dict[str, Any]:
    """The silence as the API and `silence list --json` show it (with the count when new)."""
    s = silence.record if isinstance(silence, NewSilence) else silence
    found: dict[str, Any] = {
        "id": s.id,
        "matchers": list(s.matchers),
        "starts_at": s.starts_at.isoformat(),
        "ends_at": s.ends_at.isoformat(),
        "state": silence_state(s, now),
        "created_by": s.created_by,
        "created_at": s.created_at.isoformat(),
        "comment": s.comment,
        "expired_by": s.expired_by,
        "expired_at": s.expired_at.isoformat() if s.expired_at else None,
    }
    if isinstance(silence, NewSilence):
        found["matching_alerts"] = silence.matching
    return found


def silence_state(s: SilenceRecord, now: datetime) -> str:
    if s.ends_at <= now:
        return "expired"
    return "active" if s.starts_at <= now else "pending"


def incident_json(stored: StoredIncident) -> dict[str, Any]:
    r = stored.record
    return {
        "id": stored.id,
        "fingerprint": incident_fingerprint(r),
        "subject": r.subject,
        "kind": r.kind,
        "severity": r.severity,
        "started_at": r.started_at.isoformat(),
        "ended_at": r.ended_at.isoformat() if r.ended_at else None,
        "carrier": r.carrier,
        "site": r.site,
        "reason": r.reason,
        "acknowledged_by": stored.acknowledged_by,
        "acknowledged_at": stored.acknowledged_at.isoformat() if stored.acknowledged_at else None,
        "ack_note": stored.ack_note,
        "ack_count": len(stored.acks),
        "acks": [{"by": a.by, "at": a.at.isoformat(), "note": a.note} for a in stored.acks],
    }
