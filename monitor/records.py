"""Rows that flow from the pipeline to storage.

Plain frozen values with UTC datetimes: the writer thread can take them
from the event loop without sharing anything mutable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class SubjectKind(StrEnum):
    TARGET = "target"
    SITE = "site"


@dataclass(frozen=True, slots=True)
class RoundRecord:
    """One ICMP round of one target, with its figures (times in milliseconds)."""

    target: str
    started_at: datetime
    duration_ms: float
    sent: int
    received: int
    loss: float | None  # None when the round could not run
    rtt_min_ms: float | None = None
    rtt_avg_ms: float | None = None
    rtt_median_ms: float | None = None
    rtt_max_ms: float | None = None
    jitter_ms: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class StateChange:
    """A subject moved from one state to another, and why."""

    subject_kind: SubjectKind
    subject: str
    at: datetime
    previous: str
    state: str
    reason: str
    figures: dict[str, float | int | str | None] = field(default_factory=dict)
