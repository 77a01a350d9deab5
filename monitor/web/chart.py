"""The incident chart as SVG, drawn on the server: a pure function of the figures.

Why on the server: the pages need no script, no vendored chart library and
no CDN; an SVG scales to a phone's width, prints, and can be saved with the
page. Panels share one time axis (local times of the plan's zone); the
incident's span is shaded; a missing value (a round that could not run)
breaks a line rather than being drawn as zero.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from html import escape

WIDTH = 720
PANEL_HEIGHT = 120
LEFT, RIGHT, TOP, GAP = 52, 12, 22, 34  # margins: axis labels left, title above each panel
MAX_MARKERS = 240  # points drawn as dots when a series has at most this many
PALETTE = ("#1f6fb2", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285")
XScale = Callable[[datetime], float]
YScale = Callable[[float], float]
STEPS = tuple(timedelta(seconds=s) for s in (1, 2, 5, 10, 15, 30)) + tuple(
    timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)
)


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    points: Sequence[tuple[datetime, float | None]]  # None: no value (a gap)


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    series: Sequence[Series]
    bars: bool = False  # bars from zero (loss) rather than lines; a zero is a thin mark
    top: float | None = None  # a fixed top of the scale (100 for a share); else from the data


def nice_top(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^n that is at least `value` (1 for nothing)."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if step * power >= value * (1 - 1e-9):
            return step * power
    return 10.0 * power


def time_step(span: timedelta, most: int = 6) -> timedelta:
    """A round tick interval giving at most `most` ticks over `span`."""
    for step in STEPS:
        if span / step <= most:
            return step
    return STEPS[-1]


def ticks(since: datetime, until: datetime, zone: tzinfo) -> list[datetime]:
    """Round local times in [since, until]."""
    step = time_step(until - since)
    local = since.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    first = midnight + step * math.ceil((local - midnight) / step)
    found = []
    moment = first
    while moment <= until:
        found.append(moment)
        moment += step
    return found


def _fmt(value: float) -> str:
    """A scale's or a value's label: three significant digits at most (0.05, 12.5, 2500)."""
    return f"{value:.3g}"


def render(
    panels: Sequence[Panel],
    since: datetime,
    until: datetime,
    span: tuple[datetime, datetime],
    zone: tzinfo,
    *,
    no_data: str = "no data",
    width: int = WIDTH,
) -> str:
    """The panels stacked over one time axis [since, until], `span` shaded, as an SVG document."""
    if not since < until:
        until = since + timedelta(minutes=1)
    plot_w = width - LEFT - RIGHT
    height = len(panels) * (PANEL_HEIGHT + GAP) + 18
    total = (until - since).total_seconds()

    def x(moment: datetime) -> float:
        share = (moment - since).total_seconds() / total
        return LEFT + plot_w * min(1.0, max(0.0, share))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" class="chart" font-family="sans-serif" font-size="11">'
    ]
    for index, panel in enumerate(panels):
        y0 = TOP + index * (PANEL_HEIGHT + GAP)
        parts += _panel(panel, y0, plot_w, x, since, until, span, zone, no_data)
    parts.append("</svg>")
    return "\n".join(parts)


def _panel(  # noqa: PLR0917 - one panel's frame and content
    panel: Panel,
    y0: float,
    plot_w: float,
    at: XScale,
    since: datetime,
    until: datetime,
    span: tuple[datetime, datetime],
    zone: tzinfo,
    no_data: str,
) -> list[str]:
    bottom = y0 + PANEL_HEIGHT
    values = [v for s in panel.series for _, v in s.points if v is not None and math.isfinite(v)]
    top = panel.top if panel.top is not None else nice_top(max(values, default=0.0))

    def y(value: float) -> float:
        return bottom - PANEL_HEIGHT * min(1.0, max(0.0, value / top))

    shade_from, shade_to = at(max(span[0], since)), at(min(span[1], until))
    out = [
        f'<text x="{LEFT}" y="{y0 - 7}" font-weight="bold">{escape(panel.title)}</text>',
        f'<rect class="span" x="{shade_from:.1f}" y="{y0}" '
        f'width="{max(0.0, shade_to - shade_from):.1f}" '
        f'height="{PANEL_HEIGHT}" fill="#f03e3e" fill-opacity="0.12"/>',
        f'<rect x="{LEFT}" y="{y0}" width="{plot_w}" height="{PANEL_HEIGHT}" fill="none" '
        f'stroke="#adb5bd"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        level = bottom - PANEL_HEIGHT * fraction
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{level:.1f}" y2="{level:.1f}" '
                   f'stroke="#e9ecef"/>')  # fmt: skip
        out.append(f'<text x="{LEFT - 4}" y="{level + 4:.1f}" text-anchor="end">'
                   f"{_fmt(top * fraction)}</text>")  # fmt: skip
    label = "%H:%M:%S" if time_step(until - since) < timedelta(minutes=1) else "%H:%M"
    for tick in ticks(since, until, zone):
        out.append(f'<line x1="{at(tick):.1f}" x2="{at(tick):.1f}" y1="{bottom}" y2="{bottom + 4}" '
                   f'stroke="#495057"/>')  # fmt: skip
        out.append(f'<text x="{at(tick):.1f}" y="{bottom + 15}" text-anchor="middle">'
                   f"{tick.astimezone(zone).strftime(label)}</text>")  # fmt: skip
    if not values:
        out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{y0 + PANEL_HEIGHT / 2:.1f}" '
                   f'text-anchor="middle" fill="#868e96">{escape(no_data)}</text>')  # fmt: skip
        return out
    for number, series in enumerate(panel.series):
        colour = PALETTE[number % len(PALETTE)]
        out += _series(series, colour, panel.bars, at, y, bottom)
        legend_x = LEFT + 150 + number * 170
        out.append(f'<text x="{legend_x}" y="{y0 - 7}" fill="{colour}">'
                   f"■ {escape(series.name)}</text>")  # fmt: skip
    return out


def _series(  # noqa: PLR0917 - a series and the panel's scales
    series: Series, colour: str, bars: bool, at: XScale, y: YScale, bottom: float
) -> list[str]:
    points = [(t, v) for t, v in series.points if v is None or math.isfinite(v)]
    name = escape(series.name)
    if bars:
        width = _bar_width([at(t) for t, _ in points])
        return [
            f'<rect class="pt" x="{at(t) - width / 2:.1f}" y="{min(y(v), bottom - 1.5):.1f}" '
            f'width="{width:.1f}" height="{max(bottom - y(v), 1.5):.1f}" fill="{colour}" '
            f'fill-opacity="0.8">'
            f"<title>{name} {_fmt(v)}</title></rect>"
            for t, v in points
            if v is not None
        ]
    out = []
    for run in _runs(points):
        coords = " ".join(f"{at(t):.1f},{y(v):.1f}" for t, v in run)
        out.append(f'<polyline class="line" points="{coords}" fill="none" stroke="{colour}" '
                   f'stroke-width="1.5"><title>{name}</title></polyline>')  # fmt: skip
    if len(points) <= MAX_MARKERS:
        out += [
            f'<circle class="pt" cx="{at(t):.1f}" cy="{y(v):.1f}" r="2" fill="{colour}"/>'
            for t, v in points
            if v is not None
        ]
    return out


def _bar_width(xs: Sequence[float]) -> float:
    """Most of the gap between two neighbouring points, between 1 and 12 px."""
    gaps = [b - a for a, b in itertools.pairwise(xs) if b > a]
    return max(1.0, min(12.0, 0.7 * min(gaps))) if gaps else 4.0


def _runs(points: Sequence[tuple[datetime, float | None]]) -> list[list[tuple[datetime, float]]]:
    """The stretches without a gap: a None ends one."""
    runs: list[list[tuple[datetime, float]]] = [[]]
    for moment, value in points:
        if value is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((moment, value))
    return [run for run in runs if run]
