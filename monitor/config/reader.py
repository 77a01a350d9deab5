"""The Reader: one TOML table, where it is in the file, and the shared problem list.

Every getter parses through a value parser and records a problem instead
of raising, so one pass over a file finds all its problems.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime, tzinfo
from typing import TypeVar
from zoneinfo import ZoneInfo

from monitor.config.problems import (
    PART_LIMIT,
    BadValueError,
    Problem,
    clip,
    describe,
    known_text,
    suggestion,
    type_name,
)
from monitor.config.secrets import INLINE_CREDENTIAL_WARNING, MissingVariableError, expand
from monitor.config.values import address, moment_in, nonempty_text
from monitor.model.inventory import DEFAULT_TIMEZONE
from monitor.model.secrets import Secret, WithheldSecret

T = TypeVar("T")


class Context:
    """What every reader of one file shares: the file, env, zone, problems, warnings."""

    def __init__(self, file: str, env: Mapping[str, str], *, need_secrets: bool = True) -> None:
        self.file = file
        self.env = env
        # False for commands that read no credential: an unset variable in a
        # secret field is then withheld rather than a problem
        self.need_secrets = need_secrets
        self.zone: tzinfo = ZoneInfo(DEFAULT_TIMEZONE)
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        # (item, address, probed?) of everything with an address, for whole-file checks
        self.addresses: list[tuple[str | None, str, bool]] = []
        # an unset variable: its problem's index, and how many other fields use it
        self.missing: dict[str, tuple[int, int]] = {}
        # every problem found, an unset variable's repeated uses included: a reader
        # compares it before and after a part to know whether that part was complete
        self.reported = 0

    def add(self, item: str | None, field: str | None, message: str) -> None:
        problem = Problem(
            self.file,
            None if item is None else clip(item, PART_LIMIT),
            None if field is None else clip(field, PART_LIMIT),
            clip(message, PART_LIMIT),
        )
        self.reported += 1
        if problem not in self.problems:
            self.problems.append(problem)

    def add_missing(self, item: str | None, field: str | None, exc: MissingVariableError) -> None:
        """An unset variable is one problem, at its first use, however many fields use it."""
        if exc.name in self.missing:
            self.reported += 1
            index, others = self.missing[exc.name]
            self.missing[exc.name] = (index, others + 1)
            return
        self.missing[exc.name] = (len(self.problems), 0)
        self.add(item, field, str(exc))

    def all_problems(self) -> list[Problem]:
        """The problems, each unset variable's saying how many other fields need it."""
        found = list(self.problems)
        for index, others in self.missing.values():
            if others:
                also = (
                    "; 1 other field uses it too"
                    if others == 1
                    else f"; {others} other fields use it too"
                )
                first = found[index]
                found[index] = Problem(first.file, first.item, first.field, first.message + also)
        return found

    def warn(self, item: str | None, field: str | None, message: str) -> None:
        self.warnings.append(str(Problem(self.file, item, field, message)))


class Reader:
    """One TOML table: typed getters that record problems, and `done()` for unknown keys."""

    def __init__(
        self, ctx: Context, table: Mapping[str, object], item: str | None, path: str | None = None
    ) -> None:
        self.ctx = ctx
        self.table = table
        self.item = item
        self.path = path  # this table's own field path, None for an item's top table
        self.seen: set[str] = set()

    def field(self, key: str | None) -> str | None:
        if key is None:
            return self.path
        key = clip(key)
        return key if self.path is None else f"{self.path}.{key}"

    def problem(self, key: str | None, message: str) -> None:
        self.ctx.add(self.item, self.field(key), message)

    def bad(self, key: str, exc: BadValueError) -> None:
        """A value that did not parse; an unset variable is reported once for the file."""
        if isinstance(exc, MissingVariableError):
            self.ctx.add_missing(self.item, self.field(key), exc)
        else:
            self.problem(key, str(exc))

    def has(self, key: str) -> bool:
        self.seen.add(key)
        return key in self.table

    def raw(self, key: str) -> object | None:
        self.seen.add(key)
        return self.table.get(key)

    def get(self, key: str, parse: Callable[[object], T], *, required: bool = False) -> T | None:
        """The parsed value, or None when absent or invalid (a problem is recorded)."""
        value = self.raw(key)
        if value is None:
            if required:
                self.problem(key, "is required")
            return None
        try:
            if isinstance(value, str):
                value, _ = expand(value, self.ctx.env)
            return parse(value)
        except BadValueError as exc:
            self.bad(key, exc)
            return None

    def array(self, key: str, parse: Callable[[object], T], example: str) -> list[T] | None:
        """The parsed elements of an array, or None when absent or not an array.

        A bad element is a problem on `key[i]` and is left out.
        """
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, list):
            self.problem(key, f"expected an array like {example}, got {describe(value)}")
            return None
        parsed: list[T] = []
        for index, written in enumerate(value):
            try:
                element = expand(written, self.ctx.env)[0] if isinstance(written, str) else written
                parsed.append(parse(element))
            except BadValueError as exc:
                self.bad(f"{key}[{index}]", exc)
        return parsed

    def opt(self, key: str, parse: Callable[[object], T], default: T) -> T:
        value = self.get(key, parse)
        return default if value is None else value

    def address(self, key: str, *, target: bool) -> str | None:
        """A required address, remembered for the duplicate and lab checks."""
        value = self.get(key, address, required=True)
        if value is not None:
            self.ctx.addresses.append((self.item, value, target))
        return value

    def moment(self, key: str) -> datetime | None:
        return self.get(key, moment_in(self.ctx.zone), required=True)

    def secret(self, key: str, *, required: bool = False) -> Secret | None:
        """A credential: from ${NAME} preferably; its value never enters a message."""
        value = self.raw(key)
        if value is None:
            if required:
                self.problem(key, "is required")
            return None
        if not isinstance(value, str):
            self.problem(key, f"expected a string, got {type_name(value)}")
            return None
        try:
            revealed, from_env = expand(value, self.ctx.env)
        except MissingVariableError as exc:
            if not self.ctx.need_secrets:
                return WithheldSecret(exc.name)
            self.bad(key, exc)
            return None
        except BadValueError as exc:
            self.bad(key, exc)
            return None
        if not from_env:
            self.ctx.warn(self.item, self.field(key), INLINE_CREDENTIAL_WARNING)
        return Secret(revealed)

    def ref(self, key: str, kind: str, known: Collection[str], *, required: bool) -> str | None:
        """An id that must name something declared elsewhere."""
        wanted = self.get(key, nonempty_text, required=required)
        if wanted is None or wanted in known:
            return wanted
        self.problem(key, f'no {kind} "{clip(wanted)}" ({known_text(known, wanted)})')
        return None

    def sub(self, key: str, *, required: bool = False) -> Reader | None:
        """A nested table (same item), or None when absent or not a table."""
        value = self.raw(key)
        if value is None:
            if required:
                self.problem(key, "is required")
            return None
        if not isinstance(value, dict):
            self.problem(key, f"expected a table, got {describe(value)}")
            return None
        return Reader(self.ctx, value, self.item, self.field(key))

    def section(self, key: str) -> Reader | None:
        """A top-level table that may be left out: empty when absent, None if not a table."""
        if not self.has(key):
            return Reader(self.ctx, {}, self.item, self.field(key))
        return self.sub(key)

    def tables(self, key: str) -> list[tuple[int, dict[str, object]]]:
        """An array of tables, with each table's position; anything else is a problem."""
        value = self.raw(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(key, f"expected an array of tables ([[{key}]]), got {describe(value)}")
            return []
        found: list[tuple[int, dict[str, object]]] = []
        for index, entry in enumerate(value):
            if isinstance(entry, dict):
                found.append((index, entry))
            else:
                self.problem(f"{key}[{index}]", f"expected a table, got {describe(entry)}")
        return found

    def done(self) -> None:
        """Refuse every key nobody asked for, suggesting the closest known one."""
        for key in self.table:
            if key in self.seen:
                continue
            close = suggestion(key, self.seen)
            if close:
                hint = f'did you mean "{close}"?'
            else:
                hint = "expected one of " + ", ".join(f'"{k}"' for k in sorted(self.seen))
            self.problem(key, f"unknown key; {hint}")


def item_name(kind: str, table: Mapping[str, object], where: str, key: str = "id") -> str:
    """`site "x"` when the table names itself, else its position like `sites[2]`."""
    value = table.get(key)
    if isinstance(value, str) and value:
        return f'{kind} "{clip(value)}"'
    return where


def claim(reader: Reader, taken: dict[str, str], ident: str, where: str, key: str = "id") -> bool:
    """Record an id; a second use is a problem naming both places."""
    if ident in taken:
        reader.problem(key, f"duplicate {key}, already used by {taken[ident]} (this is {where})")
        return False
    taken[ident] = where
    return True
