"""The words of judgement: states of targets and sites, and what a round says."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.evaluation.figures import RoundFigures
from monitor.model.vocabulary import SiteStatus


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
