"""`[retention]`: how long raw figures and finished notifications are kept.

At 501 targets on the session cadence the rounds alone grow the database
by ~35 MB an hour (issue 10.8); the housekeeper (monitor/storage/retention.py)
deletes what is older than these ages. The audit trail (state changes,
incidents, readiness snapshots, device events) has no key: it is what
reports and carriers' reviews are made of, year after year, and it is a
few thousand rows a day.
"""

from __future__ import annotations

import re
from typing import Final

from monitor.config.problems import BadValueError, describe
from monitor.config.reader import Reader
from monitor.config.values import duration, integer
from monitor.model.inventory import DAY, RetentionSettings

FOREVER: Final = "forever"
MIN_AGE = DAY  # "30m" written for thirty months would empty the database
MIN_INTERVAL = 60.0
BATCH_RANGE: Final = (100, 100_000)
_AGE = re.compile(r"(\d+)(d|h)")
_UNIT: Final = {"d": DAY, "h": 3600.0}


def age(value: object) -> float | None:
    """An age like "30d" or "36h" in seconds, at least a day; "forever" is None (kept)."""
    if value == FOREVER:
        return None
    found = _AGE.fullmatch(value) if isinstance(value, str) else None
    seconds = int(found[1]) * _UNIT[found[2]] if found else 0.0
    if seconds < MIN_AGE:
        raise BadValueError(
            f'expected an age of at least 1d like "30d", or "{FOREVER}", got {describe(value)}'
        )
    return seconds


def read_retention(root: Reader) -> RetentionSettings:
    """The file's [retention], each key defaulting to RetentionSettings'."""
    r = root.section("retention")
    default = RetentionSettings()
    if r is None:
        return default
    settings = RetentionSettings(
        rounds=_age(r, "rounds", default.rounds),
        polls=_age(r, "polls", default.polls),
        notifications=_age(r, "notifications", default.notifications),
        interval=r.opt("interval", duration(MIN_INTERVAL), default.interval),
        batch=r.opt("batch", integer(*BATCH_RANGE), default.batch),
    )
    r.done()
    return settings


def _age(r: Reader, key: str, default: float | None) -> float | None:
    if r.raw(key) is None:
        return default
    try:
        return age(r.raw(key))
    except BadValueError as exc:
        r.problem(key, str(exc))
        return default
