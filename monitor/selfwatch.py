"""examnet watching itself: a database it cannot write, a database file deleted or replaced
under it, rounds that stopped, probes that fail.

The evaluator judges the network; this judges examnet. Its alerts go
through the same routes as any other (labels `subject_kind="monitor"`,
`subject="examnet"`), critical during an exam session, warnings otherwise.
They are not incidents: the database may be the very thing that is down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerts.model import Alert, fingerprint
from alerts.templates import Facts, summaries
from monitor.model.calendar import phase_at, session_at
from monitor.model.inventory import Inventory

DATABASE_GRACE = 30.0  # seconds of failed writes before the database is called down
# A deleted or replaced database file is an event, not a state: it is alerted
# for this long after the last one, like `increase(...[1h]) > 0` in Prometheus.
DATABASE_FILE_HOLD = 3600.0
FAILED_SHARE = 0.5  # of rounds over a window, to call the probes failing
MIN_ROUNDS = 10  # in that window, before judging the share
WINDOW = 60.0  # seconds
UNHEALTHY = frozenset({"no_rounds", "probe_errors"})  # examnet's own alerts that fail /healthz


@dataclass(frozen=True, slots=True)
class Health:
    """What examnet knows of itself now (counters only grow)."""

    written_total: int
    write_errors_total: int
    last_write_error: str | None
    rounds_total: int
    rounds_failed: int
    last_probe_error: str | None
    interval: float  # the probe interval now
    # the monotonic clock at this reading: how long things take is measured on it, so a
    # step of the wall clock never makes rounds look stopped (None: the wall clock)
    monotonic: float | None = None
    database_file_changes: int = 0  # times the SQLite file was deleted or replaced
    database_file_problem: str | None = None  # the last of them, in words


@dataclass
class _Problem:
    since: datetime
    alert: Alert


@dataclass
class SelfWatch:
    inventory: Inventory
    started: datetime
    problems: dict[str, _Problem] = field(default_factory=dict)
    _failing_since_mono: float | None = None
    _written: int = 0
    _errors: int = 0
    _rounds: list[tuple[float, int, int]] = field(default_factory=list)
    _last_round_at: float | None = None
    _rounds_seen: int = 0
    _file_changes: int = 0
    _file_changed_at: float | None = None

    @property
    def database_down(self) -> bool:
        return "database_down" in self.problems

    def check(self, h: Health, now: datetime) -> list[Alert]:
        """Alerts that began or ended since the last check."""
        changed: list[Alert] = []
        mono = h.monotonic if h.monotonic is not None else now.timestamp()
        for kind, reason in (
            ("database_down", self._database(h, mono)),
            ("database_file", self._database_file(h, mono)),
            ("no_rounds", self._no_rounds(h, mono)),
            ("probe_errors", self._probe_errors(h, mono)),
        ):
            alert = self._settle(kind, reason, now)
            if alert is not None:
                changed.append(alert)
        return changed

    def firing(self) -> list[Alert]:
        return [p.alert for p in self.problems.values()]

    # --- judges ------------------------------------------------------------------

    def _database(self, h: Health, mono: float) -> str | None:
        if h.written_total > self._written:
            self._failing_since_mono = None  # a write went through
        elif h.write_errors_total > self._errors and self._failing_since_mono is None:
            self._failing_since_mono = mono
        self._written, self._errors = h.written_total, h.write_errors_total
        since = self._failing_since_mono
        if since is None or mono - since < DATABASE_GRACE:
            return None
        seconds = mono - since
        return f"no write has succeeded for {seconds:.0f} s ({h.last_write_error or 'error'})"

    def _database_file(self, h: Health, mono: float) -> str | None:
        if h.database_file_changes > self._file_changes:
            self._file_changes = h.database_file_changes
            self._file_changed_at = mono
        since = self._file_changed_at
        if since is None or mono - since >= DATABASE_FILE_HOLD:
            return None
        return h.database_file_problem or "the database file was deleted or replaced"

    def _no_rounds(self, h: Health, mono: float) -> str | None:
        if h.rounds_total > self._rounds_seen or self._last_round_at is None:
            self._last_round_at = mono  # a round finished (or this is the first look)
            self._rounds_seen = h.rounds_total
        quiet = mono - self._last_round_at
        if quiet < 3 * h.interval + 10:
            return None
        return f"no probe round has finished for {quiet:.0f} s (interval {h.interval:.0f} s)"

    def _probe_errors(self, h: Health, mono: float) -> str | None:
        self._rounds.append((mono, h.rounds_total, h.rounds_failed))
        while self._rounds and mono - self._rounds[0][0] > WINDOW:
            self._rounds.pop(0)
        _, total0, failed0 = self._rounds[0]
        total, failed = h.rounds_total - total0, h.rounds_failed - failed0
        if total < MIN_ROUNDS or failed / total < FAILED_SHARE:
            return None
        error = h.last_probe_error or "error"
        return f"{failed} of {total} rounds could not be sent in the last minute ({error})"

    # --- alerts ------------------------------------------------------------------

    def _settle(self, kind: str, reason: str | None, now: datetime) -> Alert | None:
        held = self.problems.get(kind)
        if reason is None:
            if held is None:
                return None
            del self.problems[kind]
            a = held.alert
            return Alert(a.fingerprint, a.labels, a.summary, a.starts_at, now, None, a.details)
        if held is not None:
            return None  # still so; its words stay those it was told with
        alert = self._alert(kind, reason, now)
        self.problems[kind] = _Problem(now, alert)
        return alert

    def _alert(self, kind: str, reason: str, now: datetime) -> Alert:
        session = session_at(self.inventory.calendar, now)
        labels = {
            "kind": kind,
            "severity": "critical" if session is not None else "warning",
            "phase": str(phase_at(self.inventory.calendar, now)),
            "session": session.name if session else "",
            "subject": "examnet",
            "subject_kind": "monitor",
            "group": f"monitor|examnet|{kind}",
            "site": "",
            "district": "",
            "carrier": "",
        }
        facts = Facts(kind=kind, subject="examnet", reason=reason)
        return Alert(
            fingerprint=fingerprint("monitor", "examnet", kind, now),
            labels=labels,
            summary=summaries(facts),
            starts_at=now,
            details={"reason": reason, "cause": "", "affected": ""},
        )


def healthz(
    *,
    running: bool,
    stalled: bool,
    problems: Iterable[str],
    db_queue: int,
    db_last_error: str | None,
    targets: int,
) -> tuple[bool, Mapping[str, Any]]:
    """Failing while examnet does not do its job: the loop stalls, rounds stop or
    all fail (examnet's own judgement, above), whatever the cause."""
    failing = sorted(set(problems) & UNHEALTHY)
    details = {
        "scheduler": "running" if running else "stopped",
        "event_loop": "stalled" if stalled else "ok",
        "probing": ", ".join(failing) or "ok",
        "db_queue": db_queue,
        "db_last_error": db_last_error,
        "targets": targets,
    }
    return running and not stalled and not failing, details
