"""Round statistics from raw echoes: the one place loss, RTT and jitter are computed."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from probes.pinger import Echo


@dataclass(frozen=True, slots=True)
class RoundFigures:
    """What one round says about a target (times in seconds, unrounded)."""

    sent: int
    received: int
    loss: float | None  # None when nothing was sent (the round could not run)
    rtt_min: float | None = None
    rtt_avg: float | None = None
    rtt_median: float | None = None
    rtt_max: float | None = None
    jitter: float | None = None  # mean absolute difference of consecutive RTTs

    @property
    def all_lost(self) -> bool:
        return self.sent > 0 and self.received == 0


def summarize(echoes: Sequence[Echo]) -> RoundFigures:
    """Figures of a round; an echo that failed to leave counts as sent and lost."""
    sent = len(echoes)
    rtts = [e.rtt for e in echoes if e.rtt is not None]
    if sent == 0:
        return RoundFigures(sent=0, received=0, loss=None)
    loss = 1.0 - len(rtts) / sent
    if not rtts:
        return RoundFigures(sent=sent, received=0, loss=loss)
    return RoundFigures(
        sent=sent,
        received=len(rtts),
        loss=loss,
        rtt_min=min(rtts),
        rtt_avg=statistics.fmean(rtts),
        rtt_median=statistics.median(rtts),
        rtt_max=max(rtts),
        jitter=_jitter(rtts),
    )


def _jitter(rtts: Sequence[float]) -> float | None:
    # Like RFC 3550's interarrival jitter without its smoothing: the mean
    # absolute change between consecutive answered echoes of the round.
    if len(rtts) < 2:
        return None
    return statistics.fmean(abs(b - a) for a, b in itertools.pairwise(rtts))
