"""Label matchers, as Alertmanager writes and reads them: syntax, escapes, anchoring."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.model.matchers import MAX_VALUE, Matcher, MatchOp, matches_all, parse_matcher

REPO = Path(__file__).resolve().parents[2]

LINK_ALERT = {
    "site": "thpt-viet-bac",
    "carrier": "viettel",
    "link": "viettel-fibre",
    "severity": "critical",
}


def matches(text: str, labels: dict[str, str]) -> bool:
    return parse_matcher(text).matches(labels)


# --------------------------------------------------------------------------
# the four operators


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ('severity="critical"', "severity", MatchOp.EQUAL, "critical"),
        ('carrier!="vnpt"', "carrier", MatchOp.NOT_EQUAL, "vnpt"),
        ('site=~"thpt-.*"', "site", MatchOp.REGEX, "thpt-.*"),
        ('phase!~"before|after"', "phase", MatchOp.NOT_REGEX, "before|after"),
        ("severity=critical", "severity", MatchOp.EQUAL, "critical"),
        ("phase!~before|after", "phase", MatchOp.NOT_REGEX, "before|after"),
    ],
)
def test_it_reads_name_operator_and_value(text: str, name: str, op: MatchOp, value: str) -> None:
    assert parse_matcher(text) == Matcher(name, op, value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('carrier="viettel"', True),
        ('carrier="Viettel"', False),
        ('carrier!="viettel"', False),
        ('carrier!="vnpt"', True),
        ('site=~"thpt-.*"', True),
        ('site!~"thpt-.*"', False),
        ('site!~"thcs-.*"', True),
    ],
)
def test_it_compares_the_label_with_each_operator(text: str, expected: bool) -> None:
    assert matches(text, LINK_ALERT) is expected


def test_it_reads_an_operator_inside_the_value_as_value() -> None:
    assert parse_matcher('group="a=b"') == Matcher("group", MatchOp.EQUAL, "a=b")
    assert parse_matcher("group==b") == Matcher("group", MatchOp.EQUAL, "=b")
    assert parse_matcher("group!=~b") == Matcher("group", MatchOp.NOT_EQUAL, "~b")
    assert parse_matcher('group=~"x=~y"') == Matcher("group", MatchOp.REGEX, "x=~y")


# --------------------------------------------------------------------------
# regular expressions: anchored at both ends, like Alertmanager's ^(?:RE)$


@pytest.mark.parametrize(
    ("regex", "value", "expected"),
    [
        ("thpt", "thpt-viet-bac", False),  # no partial match
        ("viet", "thpt-viet-bac", False),
        ("thpt.*", "thpt-viet-bac", True),
        (".*viet.*", "thpt-viet-bac", True),
        ("viettel|vnpt", "viettel", True),
        ("viettel|vnpt", "vnpt", True),
        ("viettel|vnpt", "viettel-x", False),  # each alternative anchored, not just the last
        ("a|ab", "ab", True),  # the whole value, even when a shorter alternative comes first
        ("(.*,)?viettel(,.*)?", "vnpt,viettel,mobifone", True),
        ("(.*,)?viettel(,.*)?", "viettel2", False),
        ("(?i)viettel", "VIETTEL", True),  # a flag at the start, as Alertmanager allows
        ("", "", True),
    ],
)
def test_it_matches_a_regex_against_the_whole_value(regex: str, value: str, expected: bool) -> None:
    assert Matcher("site", MatchOp.REGEX, regex).matches({"site": value}) is expected
    assert Matcher("site", MatchOp.NOT_REGEX, regex).matches({"site": value}) is not expected


def test_it_refuses_a_regex_that_would_close_a_wrapping_group() -> None:
    with pytest.raises(ValueError, match="bad regular expression"):
        parse_matcher('site=~"a)|(b"')


# --------------------------------------------------------------------------
# a missing label reads as the empty string


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('endpoint=""', True),
        ('endpoint!=""', False),
        ('endpoint=~".*"', True),
        ('endpoint=~".+"', False),
        ('endpoint!~".+"', True),
        ('endpoint="gw"', False),
        ('endpoint!="gw"', True),
    ],
)
def test_it_reads_a_missing_label_as_empty(text: str, expected: bool) -> None:
    assert matches(text, LINK_ALERT) is expected


def test_it_matches_every_alert_with_no_matcher_and_needs_all_of_several() -> None:
    both = [parse_matcher('carrier="viettel"'), parse_matcher('severity="critical"')]

    assert matches_all([], {})
    assert matches_all(both, LINK_ALERT)
    assert not matches_all(both, {**LINK_ALERT, "severity": "warning"})


# --------------------------------------------------------------------------
# quoting, escapes and spaces


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('comment="two words"', "two words"),
        ('comment=" padded "', " padded "),  # inside quotes, spaces are the value's
        ("  comment  =  bare value  ", "bare value"),  # around tokens, they are not
        ('comment=""', ""),
        ("comment=", ""),
        (r'comment="say \"hi\""', 'say "hi"'),
        (r'comment="back\\slash"', "back\\slash"),
        (r'comment="line\nbreak"', "line\nbreak"),
        (r'comment="\d+"', r"\d+"),  # another escaped character keeps its backslash
        (r"comment=trailing\\", "trailing\\"),
        ("comment=end\\", "end\\"),  # a lone backslash at the end is literal
        (r"comment=unquoted \"escape\"", 'unquoted "escape"'),  # escapes apply unquoted too
        ('comment="Tiếng Việt"', "Tiếng Việt"),
    ],
)
def test_it_unquotes_and_unescapes_the_value(text: str, value: str) -> None:
    assert parse_matcher(text).value == value


@pytest.mark.parametrize(
    "text",
    [
        'severity="critical"',
        'site=~"thpt-.*"',
        r'comment="say \"hi\" \\ bye"',
        'comment="Tiếng Việt"',
        'comment=""',
    ],
)
def test_it_prints_a_matcher_that_reads_back_the_same(text: str) -> None:
    matcher = parse_matcher(text)

    assert parse_matcher(str(matcher)) == matcher


def test_it_prints_the_value_in_double_quotes() -> None:
    assert str(parse_matcher("site=~thpt-.*")) == 'site=~"thpt-.*"'


# --------------------------------------------------------------------------
# what it refuses, and how it says so


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "severity critical",
            'expected NAME=VALUE, NAME!=VALUE, NAME=~REGEX or NAME!~REGEX, got "severity critical"',
        ),
        ("", 'expected NAME=VALUE, NAME!=VALUE, NAME=~REGEX or NAME!~REGEX, got ""'),
        ("a!b=c", "expected NAME=VALUE"),
        ('="critical"', "bad label name \"\": expected letters, digits and '_'"),
        ('1site="a"', 'bad label name "1site"'),
        ('site-id="a"', 'bad label name "site-id"'),
        (
            'site=~"thpt-("',
            'bad regular expression "thpt-(": missing ): thpt-(',
        ),
        (
            'site="thpt"a"',
            'unescaped double quote in the value \'"thpt"a"\': write \\" for a double quote',
        ),
        ('site=thpt"a', "unescaped double quote in the value 'thpt\"a'"),
        ('site="thpt', "missing closing double quote in the value '\"thpt'"),
        (r'site="thpt\"', "missing closing double quote"),
    ],
)
def test_it_refuses_bad_matchers_saying_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        parse_matcher(text)


def test_it_refuses_a_bad_name_or_regex_when_made_directly() -> None:
    with pytest.raises(ValueError, match="bad label name"):
        Matcher("not a name", MatchOp.EQUAL, "x")
    with pytest.raises(ValueError, match="bad regular expression"):
        Matcher("site", MatchOp.NOT_REGEX, "[")
    assert Matcher("site", MatchOp.EQUAL, "[").matches({"site": "["})  # not a regex there


def test_it_takes_the_operator_as_its_text() -> None:
    assert Matcher("site", "=~", "x") == Matcher("site", MatchOp.REGEX, "x")  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# RE2: linear time whatever the pattern, as Alertmanager's Go regexp (issue 10.1)

REDOS = [
    'subject=~"(.|.|.|.)*z"',  # the silence that froze the monitor
    'kind=~"(a|a?)+b"',
    'site=~"(x+x+)+y"',
    'group=~"(.*a){20}"',
]


@pytest.mark.parametrize("text", REDOS)
def test_it_matches_a_backtracking_pattern_in_linear_time(text: str) -> None:
    """In a child process, so that a freeze (Python's `re` held the GIL for hours) fails the
    test at its deadline instead of hanging the suite."""
    code = (
        "from monitor.model.matchers import parse_matcher\n"
        f"m = parse_matcher({text!r})\n"
        "value = 'a' * 5000 + '-' + 'x' * 5000\n"
        "labels = {n: value for n in ('subject', 'kind', 'site', 'group')}\n"
        "for _ in range(100):\n"
        "    assert not m.matches(labels)\n"
        "print('done')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.strip() == "done", done.stderr


@pytest.mark.parametrize(
    ("regex", "message"),
    [
        ("thpt-(?=viet)", "invalid perl operator: (?=; RE2 has no lookahead or lookbehind"),
        ("(?<!x)viet", "invalid perl operator: (?<!; RE2 has no lookahead or lookbehind"),
        ("(a)\\1", "invalid escape sequence: \\1; RE2 has no backreferences"),
        ("(?P<c>a)(?P=c)", "invalid perl operator: (?P; RE2 has no backreferences"),
        ("a*+", "bad repetition operator: *+; RE2 has no atomic groups or possessive repeats"),
        ("viettel\\Z", "invalid escape sequence: \\Z; RE2 writes the end of the text \\z"),
        ("x{1001}", "invalid repetition size: {1001}"),
    ],
)
def test_it_refuses_what_re2_cannot_run_and_says_what_to_write(regex: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Matcher("site", MatchOp.REGEX, regex)


@pytest.mark.parametrize(
    ("regex", "value", "expected"),
    [
        ("viettel\\z", "viettel", True),
        ("thpt-(?P<name>.*)", "thpt-viet-bac", True),  # a named group, as Go writes it
        ("(?i:VIET)tel", "viettel", True),
        ("\\pL+", "Việt", True),  # \w is ASCII in RE2 (as in Go): \pL for Vietnamese letters
        ("\\w+", "Việt", False),
        ("[[:alpha:]]+", "viet", True),
    ],
)
def test_it_reads_re2_syntax_as_alertmanager_does(regex: str, value: str, expected: bool) -> None:
    assert Matcher("site", MatchOp.REGEX, regex).matches({"site": value}) is expected


def test_it_bounds_the_length_of_names_values_and_patterns() -> None:
    assert Matcher("site", MatchOp.REGEX, "a" * MAX_VALUE).matches({"site": "a" * MAX_VALUE})
    with pytest.raises(ValueError, match=f"at most {MAX_VALUE}"):
        Matcher("site", MatchOp.REGEX, "a" * (MAX_VALUE + 1))
    with pytest.raises(ValueError, match=f"at most {MAX_VALUE}"):
        Matcher("site", MatchOp.EQUAL, "a" * (MAX_VALUE + 1))
    with pytest.raises(ValueError, match="label name of 101 characters: at most 100"):
        Matcher("s" * 101, MatchOp.EQUAL, "x")
