"""`[calendar]`: the before/during/after phases and the exam sessions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from monitor.config.problems import moment_text
from monitor.config.reader import Reader, claim, item_name
from monitor.config.values import nonempty_text
from monitor.model.calendar import Calendar, Session, TimeRange


def read_range(r: Reader, key: str, *, required: bool) -> TimeRange | None:
    sub = r.sub(key, required=required)
    if sub is None:
        return None
    start = sub.moment("start")
    end = sub.moment("end")
    sub.done()
    if start is None or end is None:
        return None
    if end <= start:
        sub.problem(
            "end", f"expected a time after start ({moment_text(start)}), got {moment_text(end)}"
        )
        return None
    return TimeRange(start, end)


@dataclass(frozen=True, slots=True)
class Placed:
    """A session with the reader that names it in problems."""

    reader: Reader
    session: Session


def read_sessions(cal: Reader) -> list[Placed]:
    placed: list[Placed] = []
    names: dict[str, str] = {}
    for index, table in cal.tables("sessions"):
        where = f"calendar.sessions[{index}]"
        r = Reader(cal.ctx, table, item_name("session", table, where, key="name"))
        name = r.get("name", nonempty_text, required=True)
        start = r.moment("start")
        end = r.moment("end")
        r.done()
        if name is not None:
            claim(r, names, name, where, key="name")
        if name is None or start is None or end is None:
            continue
        if end <= start:
            r.problem(
                "end", f"expected a time after start ({moment_text(start)}), got {moment_text(end)}"
            )
            continue
        placed.append(Placed(r, Session(name=name, start=start, end=end)))
    return sorted(placed, key=lambda p: p.session.start)


def check_phase_order(cal: Reader, phases: Sequence[tuple[str, TimeRange | None]]) -> None:
    """before.end <= during.start and during.end <= after.start."""
    for (first, earlier), (second, later) in pairwise(phases):
        if earlier is not None and later is not None and later.start < earlier.end:
            cal.problem(
                f"{second}.start",
                f"expected at or after {first}.end ({moment_text(earlier.end)}), "
                f"got {moment_text(later.start)}",
            )


def check_sessions(placed: Sequence[Placed], during: TimeRange | None) -> None:
    for p in placed:
        s = p.session
        if during is not None and not (during.start <= s.start and s.end <= during.end):
            key = "end" if during.contains(s.start) else "start"
            p.reader.problem(
                key,
                f"session outside the during phase ({moment_text(during.start)} to "
                f"{moment_text(during.end)})",
            )
    for before, after in pairwise(placed):
        if after.session.start < before.session.end:
            after.reader.problem(
                "start",
                f'overlaps session "{before.session.name}" '
                f"({moment_text(before.session.start)} to {moment_text(before.session.end)})",
            )


def read_calendar(root: Reader) -> Calendar | None:
    cal = root.section("calendar")
    if cal is None:
        return None
    before = read_range(cal, "before", required=False)
    during = read_range(cal, "during", required=True)
    after = read_range(cal, "after", required=False)
    placed = read_sessions(cal)
    cal.done()
    check_phase_order(cal, [("before", before), ("during", during), ("after", after)])
    check_sessions(placed, during)
    if during is None:
        return None
    sessions = tuple(p.session for p in placed)
    return Calendar(before=before, during=during, after=after, sessions=sessions)
