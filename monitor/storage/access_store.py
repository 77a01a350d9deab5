"""The history and access calls of the API and the commands: small transactions.

`Store.access` is one of these, on the store's engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from monitor.model.records import SilenceRecord
from monitor.storage import alert_rows, availability, history, runs, tokens
from monitor.storage.alert_rows import StoredIncident
from monitor.storage.availability import OutageQuery
from monitor.storage.history import Figures, IncidentPage, IncidentQuery, Note
from monitor.storage.tokens import TokenInfo


@dataclass(frozen=True, slots=True)
class Timeline:
    """What happened around an incident: its subject's state changes, notifications, notes,
    and what was measured (`figures`: for the chart)."""

    changes: list[dict[str, Any]]
    notifications: list[Any]
    notes: list[Note]
    figures: Figures | None = None


class AccessStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- the history ------------------------------------------------------------

    def search(self, query: IncidentQuery) -> IncidentPage:
        with self._engine.connect() as conn:
            return history.search(conn, query)

    def names(self, column: str) -> set[str]:
        """Every carrier (or site) the database knows, watched now or in its history."""
        with self._engine.connect() as conn:
            return history.names(conn, column)

    def incident(self, ident: int, scope: str | None) -> StoredIncident | None:
        with self._engine.connect() as conn:
            return history.find(conn, ident, scope)

    def timeline(
        self, stored: StoredIncident, fingerprint: str, *, scope: str | None = None,
        now: datetime | None = None,
    ) -> Timeline:  # fmt: skip
        """Its timeline; with `now`, its figures too (read within a carrier's `scope`)."""
        r = stored.record
        with self._engine.connect() as conn:
            figures = None
            if now is not None:
                figures = history.figures(conn, r.subject_kind, r.subject, r.started_at,
                                          r.ended_at, scope=scope, now=now)  # fmt: skip
            return Timeline(
                history.state_timeline(conn, r.subject_kind, r.subject, r.started_at, r.ended_at),
                history.notifications_for(conn, fingerprint, r.started_at),
                history.notes_of(conn, stored.id),
                figures,
            )

    def overlapping(
        self, since: datetime, until: datetime, scope: str | None, sites: Sequence[str]
    ) -> list[StoredIncident]:
        """Every incident of [since, until) a scope may see (a report's rows)."""
        with self._engine.connect() as conn:
            return history.overlapping(conn, since, until, scope, sites)

    def outages(self, query: OutageQuery) -> tuple[list[StoredIncident], list[SilenceRecord]]:
        """The outages overlapping the range, and the silences in effect during it."""
        with self._engine.connect() as conn:
            return (
                availability.outages(conn, query),
                availability.silences_between(conn, query.since, query.until),
            )

    def measured(
        self, since: datetime, until: datetime, now: datetime
    ) -> list[tuple[datetime, datetime]]:
        """When some run of the monitor was watching, within [since, until) (storage/runs.py)."""
        with self._engine.connect() as conn:
            return runs.measured(conn, since, until, now)

    def add_note(self, ident: int, by: str, actor: str, note: str, now: datetime) -> bool:
        """Add a note (audited); False for an unknown incident."""
        with self._engine.begin() as conn:
            if history.find(conn, ident, None) is None:
                return False
            history.add_note(conn, ident, by, note, now)
            history.audit(
                conn,
                actor=actor,
                action="incident.note",
                subject=str(ident),
                detail={"by": by},
                now=now,
            )
            return True

    def acknowledge(self, ident: int, by: str, actor: str, note: str, now: datetime) -> bool:
        with self._engine.begin() as conn:
            done = alert_rows.acknowledge(conn, ident, by, note, now)
            if done:
                history.audit(
                    conn,
                    actor=actor,
                    action="incident.ack",
                    subject=str(ident),
                    detail={"by": by, "note": note},
                    now=now,
                )
            return done

    def audit(
        self, *, actor: str, action: str, subject: str, detail: dict[str, Any], now: datetime
    ) -> None:
        with self._engine.begin() as conn:
            history.audit(conn, actor=actor, action=action, subject=subject, detail=detail, now=now)

    def audit_log(self) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            return history.audit_rows(conn)

    # -- tokens -------------------------------------------------------------------

    def create_token(
        self, *, name: str, role: str, carrier: str | None, expires_at: datetime | None,
        by: str, now: datetime,
    ) -> tuple[str, TokenInfo]:  # fmt: skip
        with self._engine.begin() as conn:
            return tokens.create_token(
                conn, name=name, role=role, carrier=carrier, expires_at=expires_at, by=by, now=now
            )

    def tokens(self) -> list[TokenInfo]:
        with self._engine.connect() as conn:
            return tokens.tokens(conn)

    def revoke_token(self, name_or_id: str, by: str, now: datetime) -> TokenInfo:
        with self._engine.begin() as conn:
            return tokens.revoke_token(conn, name_or_id, by, now)

    def token_for(self, token: str, now: datetime) -> TokenInfo | None:
        with self._engine.connect() as conn:
            return tokens.token_for(conn, token, now)
