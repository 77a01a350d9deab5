"""Judging ping rounds: reachability with K-round hysteresis, quality over a window.

Reachability: DOWN after `down_after` rounds with every echo lost, UP after
`up_after` answered rounds (the first answer of an UNKNOWN target at once).
Quality (loss, latency, jitter, and RTT far above the target's own
baseline): raised when `quality_raise` of the last `quality_window` answered
rounds are bad, cleared when `quality_clear` of them are good, so a noisy
link does not flap. Fully lost rounds are reachability's business, not
quality's. Pure functions of (state, round, thresholds).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, replace

from monitor.evaluation.states import RoundOutcome, Transition
from monitor.model.inventory import Thresholds
from monitor.model.vocabulary import ConditionKind, TargetStatus

BASELINE_MIN_ROUNDS = 10  # a baseline needs this many healthy rounds before it judges
QUALITY_KINDS = (
    ConditionKind.LOSS,
    ConditionKind.LATENCY,
    ConditionKind.JITTER,
    ConditionKind.RTT_ANOMALY,
)


@dataclass(frozen=True, slots=True)
class Quality:
    """One answered round, as quality sees it (seconds)."""

    loss: float
    rtt: float | None  # median
    jitter: float | None


@dataclass(frozen=True, slots=True)
class PingState:
    status: TargetStatus = TargetStatus.UNKNOWN  # UP / DOWN / UNKNOWN: reachability only
    lost_rounds: int = 0  # consecutive rounds with every echo lost
    answered_rounds: int = 0
    failed_rounds: int = 0  # consecutive rounds that could not run
    window: tuple[Quality, ...] = ()
    baseline: tuple[float, ...] = ()  # medians of healthy rounds, newest last
    quality: frozenset[ConditionKind] = frozenset()  # raised quality conditions


def judge_reachability(
    state: PingState, outcome: RoundOutcome, thresholds: Thresholds
) -> tuple[PingState, Transition | None]:
    if outcome.error is not None:
        new = replace(state, failed_rounds=state.failed_rounds + 1)
        if state.status is not TargetStatus.UNKNOWN and new.failed_rounds >= thresholds.down_after:
            reason = f"{new.failed_rounds} rounds could not run: {outcome.error}"
            return _moved(new, TargetStatus.UNKNOWN, state.status, reason)
        return new, None
    if outcome.figures.all_lost:
        new = replace(state, lost_rounds=state.lost_rounds + 1, answered_rounds=0, failed_rounds=0)
        if state.status is not TargetStatus.DOWN and new.lost_rounds >= thresholds.down_after:
            return _moved(new, TargetStatus.DOWN, state.status, _down_reason(new, outcome))
        return new, None
    new = replace(state, answered_rounds=state.answered_rounds + 1, lost_rounds=0, failed_rounds=0)
    needed = 1 if state.status is TargetStatus.UNKNOWN else thresholds.up_after
    if state.status is not TargetStatus.UP and new.answered_rounds >= needed:
        f = outcome.figures
        reason = (
            f"answered {f.received}/{f.sent} echoes in {new.answered_rounds} consecutive rounds"
        )
        return _moved(new, TargetStatus.UP, state.status, reason)
    return new, None


def _moved(
    state: PingState, status: TargetStatus, previous: TargetStatus, reason: str
) -> tuple[PingState, Transition]:
    return replace(state, status=status), Transition(previous, status, reason)


def _down_reason(state: PingState, outcome: RoundOutcome) -> str:
    why = f" ({outcome.loss_reason})" if outcome.loss_reason else ""
    return f"every echo lost in {state.lost_rounds} consecutive rounds{why}"


# --- quality -------------------------------------------------------------------


def baseline_median(state: PingState) -> float | None:
    if len(state.baseline) < BASELINE_MIN_ROUNDS:
        return None
    return statistics.median(state.baseline)


def is_bad(kind: ConditionKind, q: Quality, baseline: float | None, t: Thresholds) -> bool | None:
    """Bad, good, or no evidence (None) for one kind in one round."""
    if kind is ConditionKind.LOSS:
        return q.loss >= t.loss_warn
    if kind is ConditionKind.LATENCY:
        return None if q.rtt is None else q.rtt * 1000 >= t.rtt_warn_ms
    if kind is ConditionKind.JITTER:
        return None if q.jitter is None else q.jitter * 1000 >= t.jitter_warn_ms
    if q.rtt is None or baseline is None:
        return None
    return q.rtt >= t.baseline_factor * baseline and (q.rtt - baseline) * 1000 >= (
        t.baseline_min_delta_ms
    )


def is_critical(kind: ConditionKind, q: Quality, t: Thresholds) -> bool:
    if kind is ConditionKind.LOSS:
        return q.loss >= t.loss_crit
    if kind in (ConditionKind.LATENCY, ConditionKind.RTT_ANOMALY):
        return q.rtt is not None and q.rtt * 1000 >= t.rtt_crit_ms
    if kind is ConditionKind.JITTER:
        return q.jitter is not None and q.jitter * 1000 >= t.jitter_crit_ms
    return False


def judge_quality(state: PingState, outcome: RoundOutcome, t: Thresholds) -> PingState:
    """Add an answered round to the window; raise or clear quality conditions."""
    f = outcome.figures
    if outcome.error is not None or f.loss is None or f.all_lost:
        return state
    q = Quality(f.loss, f.rtt_median, f.jitter)
    baseline = baseline_median(state)
    window = (*state.window, q)[-t.quality_window :]
    active = set(state.quality)
    for kind in QUALITY_KINDS:
        verdicts = [is_bad(kind, round_, baseline, t) for round_ in window]
        if kind not in active and verdicts.count(True) >= t.quality_raise:
            active.add(kind)
        elif kind in active and verdicts.count(False) >= t.quality_clear:
            active.discard(kind)
    healthy = not any(is_bad(k, q, baseline, t) for k in QUALITY_KINDS)
    learnt = (*state.baseline, q.rtt)[-t.baseline_rounds :] if healthy and q.rtt else state.baseline
    return replace(state, window=window, baseline=learnt, quality=frozenset(active))


def quality_words(kind: ConditionKind, state: PingState, t: Thresholds) -> tuple[str, bool]:
    """Why a quality condition holds, and whether its figures reach the critical level."""
    bad = [q for q in state.window if is_bad(kind, q, baseline_median(state), t)]
    critical = any(is_critical(kind, q, t) for q in bad)
    count = f"in {len(bad)} of the last {len(state.window)} rounds"
    if kind is ConditionKind.LOSS:
        worst = max((q.loss for q in bad), default=0.0)
        return f"packet loss up to {worst:.0%} {count} (warn {t.loss_warn:.0%})", critical
    if kind is ConditionKind.JITTER:
        worst = max((q.jitter or 0.0 for q in bad), default=0.0) * 1000
        return f"jitter up to {worst:.0f} ms {count} (warn {t.jitter_warn_ms:.0f} ms)", critical
    worst = max((q.rtt or 0.0 for q in bad), default=0.0) * 1000
    if kind is ConditionKind.LATENCY:
        return f"RTT up to {worst:.0f} ms {count} (warn {t.rtt_warn_ms:.0f} ms)", critical
    base = (baseline_median(state) or 0.0) * 1000
    return (
        f"RTT up to {worst:.1f} ms {count}, {worst / base if base else 0:.0f}× its "
        f"usual {base:.1f} ms"
    ), critical


def replay(state: PingState, outcomes: Iterable[RoundOutcome], t: Thresholds) -> PingState:
    """A restored state with the rounds it had seen before a restart: its K-round
    counters, quality window and baseline come back; its verdicts (status, raised
    quality conditions, restored from the database) stand as they were."""
    replayed = state
    for outcome in outcomes:
        replayed, _ = judge_reachability(replayed, outcome, t)
        replayed = judge_quality(replayed, outcome, t)
    return replace(replayed, status=state.status, quality=state.quality)
