"""How deeply a TOML text nests, measured before it is parsed.

tomllib recurses once per nested array or inline table (a thousand `[` end
in RecursionError) and takes time quadratic in the parts of a dotted key
(50,000 parts: 44 s). No real sites.toml nests more than a few levels, so a
text that nests deeper than MAX_NESTING is refused before tomllib sees it.

The scan is a light lexer: it skips strings and comments, counts open
brackets and braces, and the dots of each key (a float's one dot counts
too, which the margin allows for).
"""

from __future__ import annotations

import re
from typing import Final

MAX_NESTING: Final = 32

_TOKEN = re.compile(r"\"\"\"|'''|[\"'#\[\]{}.=,\n]")
# where each kind of string or comment ends, searched from just after its opening
_ENDS: Final = {
    '"""': re.compile(r'(?:[^"\\]|\\.|"(?!""))*""""{0,2}', re.DOTALL),
    "'''": re.compile(r"(?:[^']|'(?!''))*'''\'{0,2}", re.DOTALL),
    '"': re.compile(r'(?:[^"\\\n]|\\.)*"'),
    "'": re.compile(r"[^'\n]*'"),
    "#": re.compile(r"[^\n]*"),
}
_OPEN: Final = frozenset("[{")
_CLOSE: Final = frozenset("]}")


def _skip(source: str, mark: str, start: int) -> int:
    """The position after the string or comment opened by `mark` at `start`."""
    found = _ENDS[mark].match(source, start)
    if found is not None:
        return found.end()
    newline = source.find("\n", start)  # unterminated: tomllib will say so
    return len(source) if newline < 0 else newline


def too_deep(source: str, limit: int = MAX_NESTING) -> int | None:
    """The offset where arrays, tables and dotted keys first nest deeper than `limit`."""
    depth = dots = 0
    position = 0
    while (found := _TOKEN.search(source, position)) is not None:
        mark = found[0]
        position = found.end()
        if mark in _ENDS:
            position = _skip(source, mark, position)
            continue
        if mark == ".":
            dots += 1
        else:
            dots = 0
            depth = max(0, depth + (mark in _OPEN) - (mark in _CLOSE))
        if depth + dots > limit:
            return found.start()
    return None


def position_text(source: str, offset: int) -> str:
    """`line L, column C` of an offset, as tomllib counts (from 1)."""
    line = source.count("\n", 0, offset) + 1
    column = offset - source.rfind("\n", 0, offset)
    return f"line {line}, column {column}"
