"""The words of judgement: states of targets and sites, and what a round says."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from monitor.figures import RoundFigures


class TargetStatus(StrEnum):
    """The headline state of a link or endpoint (ping and SNMP together)."""

    UNKNOWN = "unknown"  # no verdict yet, rounds cannot run, or examnet is blind
    UP = "up"
    DEGRADED = "degraded"  # up, but lossy, slow, jittery, or its interface is congested
    DOWN = "down"


class SiteStatus(StrEnum):
    UNKNOWN = "unknown"
    OK = "ok"
    DEGRADED = "degraded"  # enough carriers, but a link is degraded (R3 at risk)
    LOST_REDUNDANCY = "lost_redundancy"  # fewer independent carriers than min_carriers (R1 at risk)
    ISOLATED = "isolated"  # no link up at all (R1 violated)


WORKING = (TargetStatus.UP, TargetStatus.DEGRADED)  # a degraded link still carries traffic


@dataclass(frozen=True, slots=True)
class RoundOutcome:
    """What the evaluator needs of a round: its figures and why it failed."""

    figures: RoundFigures
    error: str | None = None  # the round could not run
    loss_reason: str | None = None  # the commonest reason echoes were lost


@dataclass(frozen=True, slots=True)
class Transition:
    previous: str
    status: str
    reason: str


@dataclass(frozen=True, slots=True)
class SiteVerdict:
    status: SiteStatus
    links_up: int
    carriers_up: tuple[str, ...]
    reason: str
    independent_up: int = 0  # groups of links with no shared endpoint, UPS or carrier
