"""The tables examnet stores, as SQLAlchemy Core metadata.

This is the model the migrations must reproduce; a test compares the two
with Alembic on SQLite and PostgreSQL. Constraint names follow one naming
convention so both databases and the migrations agree on them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import DateTime, TypeDecorator

from monitor.model.records import OUTBOX_STATES
from monitor.model.vocabulary import SEVERITY_ORDER

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime in, an aware UTC datetime out, on every dialect.

    SQLite has no time zones: values are stored there as naive UTC text with
    microseconds (SQLAlchemy's fixed-width format, so text order is time
    order). PostgreSQL stores `timestamptz`. Naive values are refused: a
    guessed zone would shift rows by hours and defeat the unique keys.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: examnet stores aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias).
RowId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(naming_convention=NAMING_CONVENTION)

targets = Table(
    "targets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("site", Text, nullable=True),
    Column("carrier", Text, nullable=False),
    Column("link", Text, nullable=True),
    Column("endpoint", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("key"),
)

probe_rounds = Table(
    "probe_rounds",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("target_id", Integer, ForeignKey("targets.id"), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("duration_ms", Double, nullable=False),
    Column("sent", Integer, nullable=False),
    Column("received", Integer, nullable=False),
    Column("loss", Double, nullable=True),
    Column("rtt_min_ms", Double, nullable=True),
    Column("rtt_avg_ms", Double, nullable=True),
    Column("rtt_median_ms", Double, nullable=True),
    Column("rtt_max_ms", Double, nullable=True),
    Column("jitter_ms", Double, nullable=True),
    Column("error", Text, nullable=True),
    # A replayed round (unknown commit outcome, spool retry) is the same row.
    UniqueConstraint("target_id", "started_at"),
    # Figures that cannot be true are refused rather than reported.
    CheckConstraint("received >= 0 AND received <= sent", name="echo_counts"),
    CheckConstraint("loss IS NULL OR (loss >= 0 AND loss <= 1)", name="loss_ratio"),
    Index(None, "started_at"),
)

state_changes = Table(
    "state_changes",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("subject_kind", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("previous", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("figures", JSON, nullable=False),
    UniqueConstraint("subject_kind", "subject", "at", "state"),
    # "latest state per subject": newest `at`, then newest id on a tie.
    Index(None, "subject_kind", "subject", "at", "id"),
)

# --- SNMP (migration 0002) -----------------------------------------------------
# Devices are rows of `targets` (kind "device"). Only what is needed to draw
# and judge is kept: rates and status per interval, not raw counters.

snmp_polls = Table(
    "snmp_polls",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("target_id", Integer, ForeignKey("targets.id"), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("duration_ms", Double, nullable=False),
    Column("requests", Integer, nullable=False),
    Column("problems", Integer, nullable=False),
    Column("failure", Text, nullable=True),
    Column("error", Text, nullable=True),
    UniqueConstraint("target_id", "started_at"),
    Index(None, "started_at"),  # retention deletes by age (migration 0006)
)

interface_samples = Table(
    "interface_samples",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("target_id", Integer, ForeignKey("targets.id"), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("interface", Text, nullable=False),
    Column("if_index", Integer, nullable=False),
    Column("link", Text, nullable=True),
    Column("oper_status", Integer, nullable=True),
    Column("in_bps", Double, nullable=True),
    Column("out_bps", Double, nullable=True),
    Column("utilisation_in", Double, nullable=True),
    Column("utilisation_out", Double, nullable=True),
    Column("errors_per_s", Double, nullable=True),
    Column("discards_per_s", Double, nullable=True),
    Column("no_rate", Text, nullable=True),
    UniqueConstraint("target_id", "started_at", "interface"),
    CheckConstraint("in_bps IS NULL OR in_bps >= 0", name="in_rate"),
    CheckConstraint("out_bps IS NULL OR out_bps >= 0", name="out_rate"),
    Index(None, "link", "started_at"),
    Index(None, "started_at"),
)

power_samples = Table(
    "power_samples",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("target_id", Integer, ForeignKey("targets.id"), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("on_battery", Boolean, nullable=True),
    Column("output_source", Integer, nullable=True),
    Column("battery_status", Integer, nullable=True),
    Column("minutes_remaining", Integer, nullable=True),
    Column("charge_percent", Integer, nullable=True),
    Column("input_voltage", Double, nullable=True),
    Column("seconds_on_battery", Integer, nullable=True),
    UniqueConstraint("target_id", "started_at"),
    Index(None, "started_at"),
)

device_values = Table(
    "device_values",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("target_id", Integer, ForeignKey("targets.id"), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("name", Text, nullable=False),
    Column("value", Double, nullable=True),
    UniqueConstraint("target_id", "started_at", "name"),
    Index(None, "started_at"),
)

device_events = Table(
    "device_events",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("target_id", Integer, ForeignKey("targets.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", Text, nullable=False),
    Column("detail", Text, nullable=False),
    UniqueConstraint("target_id", "at", "kind"),
)

# --- incidents and readiness (migration 0003) ------------------------------------

# the values of a Severity, lowest first: the column holds nothing else
SEVERITIES = tuple(str(severity) for severity in SEVERITY_ORDER)
# An incident's one acknowledgement before 0005 (alerting's; incident writes never
# touch them). A second ack overwrote the first: since 0005 every ack is a row of
# `acks`, 0005 copied these there, and nothing writes them any more.
ACK_COLUMNS = ("acknowledged_by", "acknowledged_at", "ack_note")

incidents = Table(
    "incidents",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("subject_kind", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("severity", Text, nullable=False),
    Column("phase", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("carrier", Text, nullable=True),
    Column("site", Text, nullable=True),
    Column("sessions", JSON, nullable=False),
    Column("worst_loss", Double, nullable=True),
    Column("worst_rtt_ms", Double, nullable=True),
    Column("worst_utilisation", Double, nullable=True),
    Column("cause", Text, nullable=True),
    Column("affected", JSON, nullable=False),
    Column("acknowledged_by", Text, nullable=True),
    Column("acknowledged_at", UtcDateTime, nullable=True),
    Column("ack_note", Text, nullable=True),
    # Every write of an incident is an upsert on this key: replays never duplicate it.
    UniqueConstraint("subject_kind", "subject", "kind", "started_at"),
    CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="period"),
    CheckConstraint(
        "severity IN (" + ", ".join(f"'{s}'" for s in SEVERITIES) + ")", name="severity"
    ),
    # Open incidents (ended_at IS NULL): a plain index, portable and comparable by
    # Alembic; a partial one would differ between the dialects.
    Index(None, "ended_at"),
    Index(None, "started_at"),
    Index(None, "subject", "started_at"),
    Index(None, "carrier", "started_at"),
    Index(None, "site", "started_at"),
)

# Indexes only one dialect has, which the metadata cannot describe portably:
# the trigram index of free-text search on PostgreSQL (migration 0009).
DIALECT_INDEXES = frozenset({"ix_incidents_search_trgm"})


def portable(obj: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
    """Alembic's `include_object`: compare everything but DIALECT_INDEXES."""
    return not (kind == "index" and name in DIALECT_INDEXES)


readiness_snapshots = Table(
    "readiness_snapshots",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("session", Text, nullable=False),
    Column("session_start", UtcDateTime, nullable=False),
    Column("taken_at", UtcDateTime, nullable=False),
    Column("seconds_before", Integer, nullable=False),
    Column("ready", Boolean, nullable=False),
    Column("sites_total", Integer, nullable=False),
    Column("sites_ready", Integer, nullable=False),
    Column("not_ready", JSON, nullable=False),
    Column("open_incidents", Integer, nullable=False),
    # One snapshot per session and lead time: a second one is a replay.
    UniqueConstraint("session", "session_start", "seconds_before"),
    CheckConstraint("sites_ready >= 0 AND sites_ready <= sites_total", name="site_counts"),
)

# --- alerting (migration 0004) ------------------------------------------------------

outbox = Table(
    "outbox",
    metadata,
    Column("id", Text, primary_key=True),  # the notification's id
    Column("receiver", Text, nullable=False),
    Column("group_key", Text, nullable=False),
    Column("notification", Text, nullable=False),  # its JSON, sent exactly as written
    Column("created_at", UtcDateTime, nullable=False),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False),  # attempts finished (a crash mid-way is not one)
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("claimed_until", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),  # delivered, failed or expired
    Column("expires_at", UtcDateTime, nullable=False),
    CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in OUTBOX_STATES) + ")", name="state"),
    CheckConstraint("attempts >= 0", name="attempts"),
    # what is due: claims scan the open states by time
    Index(None, "state", "next_attempt_at"),
    # a group's notifications in order: the oldest open one goes first
    Index(None, "receiver", "group_key", "created_at"),
    # retention: finished notifications by age (migration 0006)
    Index(None, "finished_at"),
)

silences = Table(
    "silences",
    metadata,
    Column("id", Text, primary_key=True),
    Column("matchers", JSON, nullable=False),  # a list of matcher strings, all must match
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("comment", Text, nullable=False),
    Column("expired_by", Text, nullable=True),
    Column("expired_at", UtcDateTime, nullable=True),
    CheckConstraint("ends_at > starts_at", name="period"),
    Index(None, "ends_at"),
)

# --- acknowledgements (migration 0005) ---------------------------------------------

# Every acknowledgement is its own audited row (who, when, why): a second
# `examnet ack` adds to the first, never replaces it.
acks = Table(
    "acks",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("incident_id", RowId, ForeignKey("incidents.id"), nullable=False),
    Column("acked_by", Text, nullable=False),
    Column("acked_at", UtcDateTime, nullable=False),
    Column("note", Text, nullable=False),
    # an incident's acks in order: the latest is what status shows
    Index(None, "incident_id", "acked_at"),
)

# The rehearsal the last `examnet run --rehearse` moved the plan by (one row, or
# none for a real run): `status` must read the calendar the monitor runs on.
rehearsal = Table(
    "rehearsal",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("session", Text, nullable=False),
    Column("shift_seconds", Double, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
)

# --- who may see what (migration 0008) ------------------------------------------------

# An API token: only its SHA-256 is stored (the token is 256 random bits, so a
# plain digest is enough; the secret is printed once, at creation).
ROLES = ("admin", "noc", "carrier")

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("carrier", Text, nullable=True),  # a carrier token sees this carrier only
    Column("digest", Text, nullable=False),  # sha256 hex of the token
    Column("created_by", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("revoked_by", Text, nullable=True),
    UniqueConstraint("name"),
    UniqueConstraint("digest"),
    CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="role"),
    CheckConstraint("(role = 'carrier') = (carrier IS NOT NULL)", name="carrier_scope"),
)

# Notes on an incident: who, when, what (the NOC annotates; audited by being a row).
incident_notes = Table(
    "incident_notes",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("incident_id", RowId, ForeignKey("incidents.id"), nullable=False),
    Column("by", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("note", Text, nullable=False),
    Index(None, "incident_id", "at"),
)

# Writes made through the API or the token commands: who, when, what.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", Text, nullable=False),  # a token's name (never the token)
    Column("action", Text, nullable=False),  # e.g. token.create, incident.note, silence.add
    Column("subject", Text, nullable=False),
    Column("detail", JSON, nullable=False),
    Index(None, "at"),
)

# --- when the monitor was watching (migration 0010) ---------------------------------

# One row per `examnet run`: its start, its last heartbeat, its clean stop.
# Time outside every run is time nobody measured: availability counts it as
# neither up nor down (Icinga's "undetermined"), instead of as up.
monitor_runs = Table(
    "monitor_runs",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
    Column("stopped_at", UtcDateTime, nullable=True),
    Index(None, "started_at"),
)
