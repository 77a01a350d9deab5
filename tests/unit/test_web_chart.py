"""The incident chart (monitor/web/chart.py): a pure function from figures to SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.web.chart import Panel, Series, nice_top, render, ticks, time_step
from monitor.web.i18n import Words, keys

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2027, 6, 3, 0, 30, tzinfo=UTC)  # 07:30 in Hanoi
SVG = "{http://www.w3.org/2000/svg}"


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def draw(*panels: Panel, since: float = -10, until: float = 20) -> ET.Element:
    text = render(panels, minutes(since), minutes(until), (minutes(0), minutes(10)), HANOI)
    return ET.fromstring(text)  # noqa: S314 - our own output


def polylines(svg: ET.Element) -> list[list[tuple[float, float]]]:
    return [
        [tuple(map(float, p.split(","))) for p in line.get("points", "").split()]  # type: ignore[misc]
        for line in svg.iter(f"{SVG}polyline")
    ]


def test_an_empty_series_says_no_data_and_draws_no_line() -> None:
    svg = draw(Panel("RTT", [Series("a", [])]))
    assert polylines(svg) == []
    assert "no data" in [t.text for t in svg.iter(f"{SVG}text")]
    assert svg.find(f".//{SVG}rect[@class='span']") is not None  # the incident is still shaded


def test_a_missing_value_breaks_the_line_instead_of_dropping_to_zero() -> None:
    points = [(minutes(0), 10.0), (minutes(1), 20.0), (minutes(2), None), (minutes(3), 30.0),
              (minutes(4), 40.0)]  # fmt: skip
    lines = polylines(draw(Panel("RTT", [Series("a", points)])))
    assert [len(line) for line in lines] == [2, 2]
    bottom = max(y for line in lines for _, y in line)
    assert all(y < bottom + 1 for line in lines for _, y in line)


def test_one_point_is_drawn_as_a_dot() -> None:
    svg = draw(Panel("RTT", [Series("a", [(minutes(5), 12.0)])]))
    dots = list(svg.iter(f"{SVG}circle"))
    assert len(dots) == 1
    assert polylines(svg) == [[(pytest.approx(float(dots[0].get("cx", 0))),
                                pytest.approx(float(dots[0].get("cy", 0))))]]  # fmt: skip


def test_the_scale_tops_at_a_round_number_above_the_largest_value() -> None:
    assert [nice_top(v) for v in (0, 0.09, 1, 3, 7.5, 12, 99, 101)] == [
        1, 0.1, 1, 5, 10, 20, 100, 200]  # fmt: skip
    svg = draw(Panel("RTT", [Series("a", [(minutes(1), 3.0), (minutes(2), 7.5)])]))
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert {"0", "5", "10"} <= set(labels)
    # a share keeps its fixed top, and a bar of 0 is still a visible mark
    bars = draw(Panel("Loss", [Series("a", [(minutes(1), 0.0), (minutes(2), 100.0)])],
                      bars=True, top=100.0))  # fmt: skip
    heights = [float(r.get("height", 0)) for r in bars.iter(f"{SVG}rect") if r.get("class") == "pt"]
    assert heights[0] > 0
    assert heights[1] == pytest.approx(120.0)


def test_the_time_axis_shows_round_local_times() -> None:
    assert time_step(timedelta(minutes=30)) == timedelta(minutes=5)
    assert time_step(timedelta(seconds=40)) == timedelta(seconds=10)
    found = ticks(minutes(-10), minutes(20), HANOI)
    assert [t.astimezone(HANOI).strftime("%H:%M") for t in found] == [
        "07:20", "07:25", "07:30", "07:35", "07:40", "07:45", "07:50"]  # fmt: skip
    svg = draw(Panel("RTT", [Series("a", [(minutes(1), 1.0)])]))
    assert "07:30" in [t.text for t in svg.iter(f"{SVG}text")]


def test_values_and_names_are_escaped() -> None:
    text = render([Panel("<b>", [Series('a"<script>', [(minutes(1), 1.0)])])], minutes(0),
                  minutes(2), (minutes(0), minutes(1)), HANOI)  # fmt: skip
    assert "<script>" not in text
    assert not re.search(r"<b>", text)


def test_both_languages_have_every_word() -> None:
    english, vietnamese = keys()
    assert english == vietnamese
    assert Words("vi").name("down") == "mất kết nối"
    assert Words("en").name("lost_redundancy") == "lost redundancy"
    assert Words("vi")["login"] == "Đăng nhập"
