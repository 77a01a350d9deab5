"""How long to wait before trying again: one backoff for the writer and the outbox."""

from __future__ import annotations

import random


def backoff_delay(failures: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Exponential backoff with equal jitter, so several agents do not retry in step."""
    base = min(maximum, initial * 2.0 ** min(failures - 1, 60))
    return base / 2 + rng.uniform(0, base / 2)
