"""`[probe]`, `[snmp]` and `[thresholds]` (top level, per site, per link, inherited downwards)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Final

from monitor.config.problems import seconds_text
from monitor.config.reader import Reader
from monitor.config.values import above, duration, integer, milliseconds, number
from monitor.model.inventory import (
    DEFAULT_COUNT,
    DEFAULT_ECHO_INTERVAL,
    DEFAULT_INTERVAL,
    DEFAULT_PAYLOAD_SIZE,
    DEFAULT_SESSION_INTERVAL,
    DEFAULT_SNMP_INTERVAL,
    DEFAULT_SNMP_MAX_CONCURRENCY,
    DEFAULT_SNMP_SESSION_INTERVAL,
    DEFAULT_TIMEOUT,
    MAX_SNMP_CONCURRENCY,
    MIN_SNMP_INTERVAL,
    ProbeSettings,
    SnmpSettings,
    Thresholds,
)


def read_probe(root: Reader) -> ProbeSettings:
    r = root.section("probe")
    if r is None:
        return ProbeSettings()
    count_before = r.ctx.reported
    settings = ProbeSettings(
        count=r.opt("count", integer(1, 100), DEFAULT_COUNT),
        echo_interval=r.opt("echo_interval", duration(), DEFAULT_ECHO_INTERVAL),
        timeout=r.opt("timeout", duration(), DEFAULT_TIMEOUT),
        interval=r.opt("interval", duration(minimum=1.0), DEFAULT_INTERVAL),
        session_interval=r.opt("session_interval", duration(minimum=1.0), DEFAULT_SESSION_INTERVAL),
        payload_size=r.opt("payload_size", integer(16, 1400), DEFAULT_PAYLOAD_SIZE),
    )
    r.done()
    if r.ctx.reported == count_before:
        check_round_fits(r, settings)
    return settings


def check_round_fits(r: Reader, p: ProbeSettings) -> None:
    """A round must end before the next one of the same target is due."""
    budget = (
        f"a round takes up to {seconds_text(p.round_budget)} "
        f"((count {p.count} - 1) x echo_interval {seconds_text(p.echo_interval)} "
        f"+ timeout {seconds_text(p.timeout)})"
    )
    check_session_interval(r, p.interval, p.session_interval)
    for key, every in (("interval", p.interval), ("session_interval", p.session_interval)):
        if p.round_budget >= every:
            r.problem(key, f"expected longer than a round: {budget}, got {seconds_text(every)}")


def check_session_interval(r: Reader, interval: float, session_interval: float) -> None:
    """Exam sessions are when cadence matters most: never slower than outside them."""
    if session_interval > interval:
        r.problem(
            "session_interval",
            f"expected at most interval ({seconds_text(interval)}), "
            f"got {seconds_text(session_interval)}",
        )


def read_snmp_settings(root: Reader) -> SnmpSettings | None:
    """`[snmp]`, or None when it has problems (device timeouts are then not judged)."""
    r = root.section("snmp")
    if r is None:
        return None
    count_before = r.ctx.reported
    every = duration(minimum=MIN_SNMP_INTERVAL)
    settings = SnmpSettings(
        interval=r.opt("interval", every, DEFAULT_SNMP_INTERVAL),
        session_interval=r.opt("session_interval", every, DEFAULT_SNMP_SESSION_INTERVAL),
        max_concurrency=r.opt(
            "max_concurrency", integer(1, MAX_SNMP_CONCURRENCY), DEFAULT_SNMP_MAX_CONCURRENCY
        ),
    )
    r.done()
    check_session_interval(r, settings.interval, settings.session_interval)
    return settings if r.ctx.reported == count_before else None


# TOML key -> (Thresholds field, parser); the one list of threshold keys.
THRESHOLD_KEYS: Final[dict[str, tuple[str, Callable[[object], float | int]]]] = {
    "down_after": ("down_after", integer(1, 100)),
    "up_after": ("up_after", integer(1, 100)),
    "loss_warn": ("loss_warn", number(0, 1, "a ratio")),
    "loss_crit": ("loss_crit", number(0, 1, "a ratio")),
    "rtt_warn": ("rtt_warn_ms", milliseconds),
    "rtt_crit": ("rtt_crit_ms", milliseconds),
    "jitter_warn": ("jitter_warn_ms", milliseconds),
    "jitter_crit": ("jitter_crit_ms", milliseconds),
    "utilisation_warn": ("utilisation_warn", number(0, 1, "a ratio")),
    "utilisation_crit": ("utilisation_crit", number(0, 1, "a ratio")),
    "congestion_sustain": ("congestion_sustain", duration()),
    "congestion_hold": ("congestion_hold", duration()),
    "power_low_minutes": ("power_low_minutes", integer(1)),
    "quality_window": ("quality_window", integer(1, 100)),
    "quality_raise": ("quality_raise", integer(1, 100)),
    "quality_clear": ("quality_clear", integer(1, 100)),
    "baseline_rounds": ("baseline_rounds", integer(5, 10_000)),
    "baseline_factor": ("baseline_factor", above(1, 100)),
    "baseline_min_delta": ("baseline_min_delta_ms", milliseconds),
    "flap_changes": ("flap_changes", integer(2, 1000)),
    "flap_window": ("flap_window", duration()),
}
# (lower, upper): after inheritance the first may not exceed the second.
THRESHOLD_PAIRS: Final = (
    ("loss_warn", "loss_crit"),
    ("rtt_warn", "rtt_crit"),
    ("jitter_warn", "jitter_crit"),
    ("utilisation_warn", "utilisation_crit"),
    ("quality_raise", "quality_window"),
    ("quality_clear", "quality_window"),
)
QUALITY_KEYS: Final = ("quality_clear", "quality_raise", "quality_window")


def threshold_text(key: str, value: float) -> str:
    return f"{value:g}ms" if key.startswith(("rtt", "jitter")) else f"{value:g}"


def check_pairs(r: Reader, merged: Thresholds, overrides: dict[str, Any]) -> None:
    """Each lower value stays at most its upper one; blamed on the level that set one."""
    for lower, upper in THRESHOLD_PAIRS:
        low = getattr(merged, THRESHOLD_KEYS[lower][0])
        high = getattr(merged, THRESHOLD_KEYS[upper][0])
        set_here = THRESHOLD_KEYS[lower][0] in overrides or THRESHOLD_KEYS[upper][0] in overrides
        if set_here and low > high:
            blamed = lower if THRESHOLD_KEYS[lower][0] in overrides else upper
            r.problem(
                blamed,
                f"expected {lower} <= {upper} after inheritance, got {lower} "
                f"{threshold_text(lower, low)} and {upper} {threshold_text(upper, high)}",
            )


def check_hysteresis(r: Reader, t: Thresholds, overrides: dict[str, Any]) -> None:
    """quality_clear > quality_window - quality_raise, or one window could raise and clear."""
    set_here = [key for key in QUALITY_KEYS if key in overrides]
    if set_here and t.quality_clear <= t.quality_window - t.quality_raise:
        r.problem(
            set_here[0],
            "expected quality_clear > quality_window - quality_raise after inheritance, so "
            f"that one window cannot both raise and clear, got quality_clear {t.quality_clear}, "
            f"quality_window {t.quality_window} and quality_raise {t.quality_raise}",
        )


def read_thresholds(r: Reader | None, inherited: Thresholds) -> Thresholds:
    """Apply this level's overrides to the inherited thresholds, then check the result."""
    if r is None:
        return inherited
    overrides: dict[str, Any] = {}
    for key, (name, parse) in THRESHOLD_KEYS.items():
        value = r.get(key, parse)
        if value is not None:
            overrides[name] = value
    r.done()
    merged = dataclasses.replace(inherited, **overrides)
    check_pairs(r, merged, overrides)
    check_hysteresis(r, merged, overrides)
    return merged
