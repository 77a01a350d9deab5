"""What goes wrong in a file, and how values are spelled in the messages."""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Final

KNOWN_LIST_LIMIT: Final = 12
# A key or id from the file is shown up to this many characters: a problem line
# must stay readable whatever the file holds (a 200 KB key is not echoed).
SHOWN_LIMIT: Final = 60
# The last resort for any part of a problem line (item, field, message).
PART_LIMIT: Final = 1000


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a file, located by item (kind and id) and field.

    For a TOML syntax error the item is the position ("line 3, column 7").
    """

    file: str
    item: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        parts = [self.file]
        if self.item:
            parts.append(self.item)
        if self.field:
            parts.append(f'field "{self.field}"')
        parts.append(self.message)
        return ": ".join(parts)


class ConfigError(Exception):
    """A file that cannot be used, with every problem found in it."""

    def __init__(self, file: str, problems: Sequence[Problem]) -> None:
        super().__init__(file, tuple(problems))
        self.file = file
        self.problems = tuple(problems)

    def __str__(self) -> str:
        count = len(self.problems)
        header = f"{count} problem{'' if count == 1 else 's'} in {self.file}:"
        return "\n".join([header, *(str(p) for p in self.problems)])


class BadValueError(ValueError):
    """A value that does not fit; the message says what was expected."""


def clip(text: str, limit: int = SHOWN_LIMIT) -> str:
    """`text`, or its start and how long it is when it is longer than `limit`."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 3]}... ({len(text)} characters)"


def describe(value: object) -> str:
    """A value as TOML would spell it, short enough for one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= SHOWN_LIMIT else value[: SHOWN_LIMIT - 3] + "..."
        return json.dumps(shown, ensure_ascii=False)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return repr(value)


def type_name(value: object) -> str:
    """What kind of value this is, without the value (for secrets)."""
    if isinstance(value, bool):
        return "a boolean"
    names = {int: "an integer", float: "a float", str: "a string", list: "an array"}
    return names.get(type(value), "a table" if isinstance(value, dict) else "a date or time")


def seconds_text(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


def duration_text(seconds: float) -> str:
    """A duration as a file would write it: "1h", "15m", "90s", "250ms"."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return seconds_text(seconds)


def moment_text(moment: datetime) -> str:
    """A datetime as the file writes it: local time of the plan, no offset."""
    return moment.replace(tzinfo=None).isoformat()


def suggestion(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def known_text(known: Collection[str], wanted: str) -> str:
    """`known: a, b` for a short list; the closest names for a long one."""
    if not known:
        return "known: none"
    if len(known) <= KNOWN_LIST_LIMIT:
        return "known: " + ", ".join(sorted(known))
    close = difflib.get_close_matches(wanted, list(known), n=5, cutoff=0.5)
    if close:
        return f"closest known: {', '.join(close)}; {len(known)} in all"
    return f"{len(known)} known, none close"
