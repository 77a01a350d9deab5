"""Label matchers as Alertmanager writes them: `name=value`, `!=`, `=~` and `!~`.

Routes and silences select alerts by their labels with these. The syntax and
the meaning follow Alertmanager's classic matchers (pkg/labels/parse.go and
matcher.go): a value may be double-quoted, with `\\"`, `\\\\` and `\\n` escapes;
a regular expression must match the whole value, as Alertmanager's
`^(?:RE)$` does; a missing label reads as the empty string, so `name=""`
matches an alert without `name`. Pure: no I/O, and a regex is compiled once,
when the matcher is made.

Regular expressions are RE2's, as Alertmanager's (Go's regexp is RE2), run
by Google's RE2 library: matching takes time linear in the value, whatever
the pattern. Python's backtracking `re` does not: a silence such as
`subject=~"(.|.|.|.)*z"` held the GIL for hours while the engine matched it
on the event loop (issue 10.1). What RE2 cannot run in linear time
(lookarounds, backreferences) it refuses, and so do we, at parse time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import re2

LABEL_NAME: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
SYNTAX: Final = "NAME=VALUE, NAME!=VALUE, NAME=~REGEX or NAME!~REGEX"
# Bounds on what a matcher may hold: a label name, a value or a pattern. Alerts'
# labels are ids and words of a few dozen characters; a pattern longer than this
# is a mistake or an attack, and RE2's program for it would grow with it.
MAX_NAME: Final = 100
MAX_VALUE: Final = 1_000
# RE2's memory for one compiled pattern (its default, said out loud): a pattern
# whose program does not fit is refused, not run slowly.
RE2_MAX_MEM: Final = 8 << 20
# Python-only syntax RE2 refuses, with what to write instead (docs/alerting.md).
_RE2_HINTS: Final = (
    (re.compile(r"\(\?<?[=!]"), "RE2 has no lookahead or lookbehind"),
    (re.compile(r"\(\?P=|\\[1-9]"), "RE2 has no backreferences"),
    (re.compile(r"\(\?>|[*+?}][+]"), "RE2 has no atomic groups or possessive repeats"),
    (re.compile(r"\\Z"), "RE2 writes the end of the text \\z"),
)

# `=~` before `=`, or `a=~b` would read as `a` = `~b`; the name stops at the
# first operator character, so `a!b=c` is refused rather than named "a!b".
_MATCHER = re.compile(r"\s*([^=!~]*?)\s*(=~|!=|!~|=)\s*(.*?)\s*", re.DOTALL)
_ESCAPES: Final = {"n": "\n", '"': '"', "\\": "\\"}


class MatchOp(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


def quoted(text: str) -> str:
    """`text` in double quotes, as messages and `str(matcher)` show it."""
    return json.dumps(text, ensure_ascii=False)


def as_written(text: str) -> str:
    """`text` for a message: in single quotes when it holds double quotes, as TOML writes it.

    `'site="thpt"a"'` reads better than json's `"site=\\"thpt\\"a\\""`.
    """
    if '"' in text and "'" not in text and "\n" not in text:
        return f"'{text}'"
    return quoted(text)


def is_label_name(name: str) -> bool:
    return LABEL_NAME.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class Matcher:
    """One condition on one label; raises ValueError when the name or regex is bad."""

    name: str
    op: MatchOp
    value: str
    _pattern: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "op", MatchOp(self.op))
        if len(self.name) > MAX_NAME:
            raise ValueError(f"label name of {len(self.name)} characters: at most {MAX_NAME}")
        if not is_label_name(self.name):
            raise ValueError(
                f"bad label name {quoted(self.name)}: expected letters, digits and '_', "
                "not starting with a digit ([a-zA-Z_][a-zA-Z0-9_]*)"
            )
        if len(self.value) > MAX_VALUE:
            raise ValueError(
                f"the value of {self.name} has {len(self.value)} characters: at most {MAX_VALUE}"
            )
        if self.op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
            object.__setattr__(self, "_pattern", compile_anchored(self.value))

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether the label (the empty string when missing) satisfies this matcher."""
        given = labels.get(self.name, "")
        if self._pattern is None:
            return (given == self.value) == (self.op is MatchOp.EQUAL)
        return (self._pattern.fullmatch(given) is not None) == (self.op is MatchOp.REGEX)

    def __str__(self) -> str:
        return f"{self.name}{self.op}{quoted(self.value)}"


def compile_anchored(regex: str) -> Any:
    """`regex` as RE2, to be used with `fullmatch`: a whole value only, like `^(?:RE)$`.

    Compiled as written, not wrapped in a group: `fullmatch` anchors both ends,
    and a wrapper would let "a)|(b" close it. Nothing is captured (only
    whether it matches counts), and RE2 logs nothing of its own to stderr.
    """
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True
    options.max_mem = RE2_MAX_MEM
    try:
        return re2.compile(regex, options)
    except re2.error as exc:
        reason = _reason(regex, exc)
        raise ValueError(f"bad regular expression {as_written(regex)}: {reason}") from None


def _reason(regex: str, exc: Exception) -> str:
    """RE2's reason, and what to write instead of a Python-only construct."""
    raw = exc.args[0] if exc.args else exc
    reason = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    hints = [hint for token, hint in _RE2_HINTS if token.search(regex)]
    return f"{reason}; {hints[0]}" if hints else reason


def unquote(raw: str) -> str:
    """The value with its escapes applied, and without its double quotes if it has them.

    As in Alertmanager, escapes apply whether the value is quoted or not, and a
    backslash before any other character is a literal backslash.
    """
    is_quoted = raw.startswith('"')
    out: list[str] = []
    closed = False
    chars = iter(raw[1:] if is_quoted else raw)
    for char in chars:
        if closed or (char == '"' and not is_quoted):
            raise ValueError(
                f'unescaped double quote in the value {as_written(raw)}: write \\" for a '
                "double quote inside a value"
            )
        if char == "\\":
            following = next(chars, "\\")
            out.append(_ESCAPES.get(following, "\\" + following))
        elif char == '"':
            closed = True
        else:
            out.append(char)
    if is_quoted and not closed:
        raise ValueError(f"missing closing double quote in the value {as_written(raw)}")
    return "".join(out)


def parse_matcher(text: str) -> Matcher:
    """`severity="critical"`, `carrier!=viettel`, `site=~"thpt-.*"`, `phase!~before|after`."""
    found = _MATCHER.fullmatch(text)
    if found is None:
        raise ValueError(f"expected {SYNTAX}, got {as_written(text)}")
    name, op, raw = found.groups()
    return Matcher(name, MatchOp(op), unquote(raw))


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (so no matcher at all matches everything)."""
    return all(m.matches(labels) for m in matchers)
