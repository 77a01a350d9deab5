"""300 mutated copies of the shipped sites.toml: each loads or is refused with named
problems — never a traceback, never a hang (issue 10's fault table).

The mutations are what an operator's editor, a merge or a careless script
does to a file: lines lost or doubled, values of the wrong type, typos in
keys, a file cut short, binary junk, absurd nesting and sizes. A seeded
generator keeps every run the same.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.config import ConfigError, load_inventory
from tests.unit.test_config import REPO, SHIPPED, SHIPPED_SECRETS

Mutation = Callable[[list[str], random.Random], list[str]]
VALUES = [
    '"text"',
    "42",
    "-1",
    "1e309",
    "true",
    "[1, 2]",
    "{ a = 1 }",
    '""',
    "2027-02-30T00:00:00",
    '"999999999h"',
    "0",
    '"${UNSET_7F3A}"',
    '"10.77.300.1"',
    '"0.0.0.0"',
    '"224.0.0.1"',
]


def _delete(lines: list[str], rng: random.Random) -> list[str]:
    i = rng.randrange(len(lines))
    return lines[:i] + lines[i + 1 :]


def _duplicate(lines: list[str], rng: random.Random) -> list[str]:
    i = rng.randrange(len(lines))
    return [*lines[: i + 1], lines[i], *lines[i + 1 :]]


def _retype(lines: list[str], rng: random.Random) -> list[str]:
    keyed = [i for i, line in enumerate(lines) if " = " in line and not line.startswith("#")]
    i = rng.choice(keyed)
    key = lines[i].split(" = ", 1)[0]
    return [*lines[:i], f"{key} = {rng.choice(VALUES)}", *lines[i + 1 :]]


def _typo(lines: list[str], rng: random.Random) -> list[str]:
    keyed = [i for i, line in enumerate(lines) if " = " in line and not line.startswith("#")]
    i = rng.choice(keyed)
    key, value = lines[i].split(" = ", 1)
    cut = rng.randrange(len(key.strip()) or 1)
    return [*lines[:i], f"{key[:cut]}x{key[cut + 1 :]} = {value}", *lines[i + 1 :]]


def _truncate(lines: list[str], rng: random.Random) -> list[str]:
    text = "\n".join(lines)
    return text[: rng.randrange(len(text))].split("\n")


def _junk(lines: list[str], rng: random.Random) -> list[str]:
    i = rng.randrange(len(lines))
    junk = "".join(
        chr(rng.choice([0, 7, 0x1B, 0xFFFE, 0xD7FF, 0x202E, 34, 91, 61])) for _ in range(8)
    )
    return [*lines[:i], junk, *lines[i:]]


def _nest(lines: list[str], rng: random.Random) -> list[str]:
    depth = rng.choice([100, 2000, 50_000])
    return [*lines, "deep = " + "[" * depth + "]" * depth]


def _huge_key(lines: list[str], rng: random.Random) -> list[str]:
    return [*lines, "[probe]", f"{'k' * rng.choice([300, 200_000])} = 1"]


def _swap_sections(lines: list[str], rng: random.Random) -> list[str]:
    heads = [i for i, line in enumerate(lines) if line.startswith("[")]
    a, b = rng.sample(heads, 2)
    out = list(lines)
    out[a], out[b] = out[b], out[a]
    return out


MUTATIONS: tuple[Mutation, ...] = (
    _delete,
    _duplicate,
    _retype,
    _retype,
    _typo,
    _truncate,
    _junk,
    _nest,
    _huge_key,
    _swap_sections,
)


def mutated(count: int, seed: int = 20261206) -> list[str]:
    rng = random.Random(seed)
    original = SHIPPED.read_text(encoding="utf-8").split("\n")
    files = []
    for _ in range(count):
        lines = original
        for _ in range(rng.choice([1, 1, 2, 3])):
            lines = rng.choice(MUTATIONS)(lines, rng)
        files.append("\n".join(lines))
    return files


def refusal(path: Path) -> ConfigError | None:
    """None if the file loads; the error if it is refused (anything else escapes)."""
    try:
        load_inventory(path, dict(SHIPPED_SECRETS))
    except ConfigError as exc:
        return exc
    return None


def test_three_hundred_mutated_files_load_or_name_their_problems(tmp_path: Path) -> None:
    refused = 0
    for n, text in enumerate(mutated(300)):
        path = tmp_path / f"mutant-{n:03d}.toml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        error = refusal(path)
        if error is None:
            continue
        refused += 1
        message = str(error)
        assert str(path) in message, message[:500]
        assert error.problems, message[:500]
        assert all(len(str(p)) < 2000 for p in error.problems), "a problem line echoes too much"
    assert refused > 200  # most mutations break something, and each was named


@pytest.mark.parametrize("n", [3, 17, 42, 101, 256])
def test_examnet_check_exits_2_with_no_traceback_on_a_mutated_file(tmp_path: Path, n: int) -> None:
    path = tmp_path / "sites.toml"
    path.write_text(mutated(300)[n], encoding="utf-8", errors="surrogatepass")
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "check", str(path)],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **SHIPPED_SECRETS},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 2), done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
