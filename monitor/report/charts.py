"""Inline SVG charts, drawn on the server: no script, prints as it shows.

A site×time strip per window (where a reader would rather look than read
which sites went down when) and availability bars per carrier.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from html import escape

from monitor.report.build import CarrierRow, Strip

COLOURS = {"up": "#3a9d5d", "degraded": "#e0a106", "down": "#c8312b"}
ROW = 14  # px per site
LABEL = 150  # px for the site's name
WIDTH = 720


def _x(moment: datetime, start: datetime, end: datetime, width: float) -> float:
    span = (end - start).total_seconds() or 1.0
    return LABEL + width * (moment - start).total_seconds() / span


def strip_chart(
    strips: Sequence[Strip],
    *,
    names: dict[str, str],
    start: datetime,
    end: datetime,
    zone: tzinfo,
    legend: dict[str, str],
) -> str:
    """Sites down the side, time across; green where nothing was wrong."""
    width = WIDTH - LABEL - 10
    height = ROW * len(strips) + 34
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" font-size="11" '
        'font-family="sans-serif">'
    ]
    for i, strip in enumerate(strips):
        y = i * ROW
        label = escape(names.get(strip.site, strip.site))
        parts.append(f'<text x="0" y="{y + 10}">{label}</text>')
        parts.append(
            f'<rect x="{LABEL}" y="{y + 1}" width="{width}" height="{ROW - 3}" '
            f'fill="{COLOURS["up"]}"/>'
        )
        for s, e, state in strip.segments:
            x0, x1 = _x(s, start, end, width), _x(e, start, end, width)
            parts.append(
                f'<rect x="{x0:.1f}" y="{y + 1}" width="{max(x1 - x0, 1.0):.1f}" '
                f'height="{ROW - 3}" fill="{COLOURS[state]}"><title>{label} {legend[state]} '
                f"{s.astimezone(zone):%H:%M}–{e.astimezone(zone):%H:%M}</title></rect>"
            )
    y = ROW * len(strips) + 12
    parts.append(f'<text x="{LABEL}" y="{y}">{start.astimezone(zone):%d/%m %H:%M}</text>')
    parts.append(
        f'<text x="{LABEL + width}" y="{y}" text-anchor="end">'
        f"{end.astimezone(zone):%d/%m %H:%M}</text>"
    )
    x = LABEL
    for state in ("up", "degraded", "down"):
        parts.append(
            f'<rect x="{x}" y="{y + 10}" width="10" height="10" fill="{COLOURS[state]}"/>'
            f'<text x="{x + 14}" y="{y + 19}">{escape(legend[state])}</text>'
        )
        x += 110
    parts.append("</svg>")
    return "".join(parts)


def availability_bars(rows: Sequence[CarrierRow]) -> str:
    """One bar per carrier, its availability from 0 to 100 %."""
    width = WIDTH - LABEL - 60
    height = ROW * 2 * len(rows) + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" font-size="11" '
        'font-family="sans-serif">'
    ]
    for i, row in enumerate(rows):
        y = i * ROW * 2
        share = row.availability
        parts.append(f'<text x="0" y="{y + 14}">{escape(row.name)}</text>')
        parts.append(
            f'<rect x="{LABEL}" y="{y + 3}" width="{width}" height="{ROW + 2}" fill="#eee"/>'
        )
        if share is not None:
            colour = COLOURS["up"] if share >= 0.999 else COLOURS["degraded"]
            parts.append(
                f'<rect x="{LABEL}" y="{y + 3}" width="{width * share:.1f}" height="{ROW + 2}" '
                f'fill="{colour}"/>'
            )
        text = "—" if share is None else f"{share * 100:.2f} %"
        parts.append(f'<text x="{LABEL + width + 6}" y="{y + 14}">{text}</text>')
    parts.append("</svg>")
    return "".join(parts)
