"""Lab-only secrets: values for the `${NAME}`s a lab's file uses, made at `lab up`.

A sites.toml kept in git names its secrets (`${EXAMNET_SNMP_COMMUNITY}`)
and never holds them. For the lab, `lab up` gives every referenced variable
that the environment does not set (neither NAME nor NAME_FILE) a random
value, and keeps them in `/run/examnet-lab/{prefix}.env` (0600, `NAME=value`
lines) for the lab's life: the agents are configured with them, and the
monitor (`examnet run`), the tests and an operator's shell (`examnet lab env`)
load the same file. Values already in the environment are used as they are
and not written. `lab down` deletes the file. Nothing here logs a value.
"""

from __future__ import annotations

import os
import secrets
import shlex
import tomllib
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from examlab.state import STATE_DIR
from examlab.topology import PREFIX_PATTERN
from monitor import config
from monitor.model.inventory import Inventory

TOKEN_BYTES = 16  # 22 URL-safe characters: above RFC 3414's 8-octet minimum for v3 keys
# Stands in for unset variables when only the lab's shape is needed (status,
# impair, down of a lab that is not up): never written, never given to an agent.
PLACEHOLDER = "examnet-lab-not-up"


def environment_path(prefix: str, directory: Path = STATE_DIR) -> Path:
    return directory / f"{prefix}.env"


def parse_environment(text: str) -> dict[str, str]:
    """`NAME=value` lines (no quoting: values are URL-safe tokens or taken verbatim)."""
    values = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() and not line.startswith("#"):
            values[name.strip()] = value
    return values


def lab_environment(prefix: str, directory: Path = STATE_DIR) -> dict[str, str]:
    """The values `lab up` generated for this lab ({} when it is not up)."""
    try:
        return parse_environment(environment_path(prefix, directory).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def write_environment(prefix: str, values: Mapping[str, str], directory: Path = STATE_DIR) -> Path:
    """Write the file 0600 (created with that mode, replaced whole)."""
    path = environment_path(prefix, directory)
    directory.mkdir(mode=0o755, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("".join(f"{name}={values[name]}\n" for name in sorted(values)))
    temporary.replace(path)
    return path


def remove_environment(prefix: str, directory: Path = STATE_DIR) -> None:
    environment_path(prefix, directory).unlink(missing_ok=True)


def is_set(name: str, env: Mapping[str, str]) -> bool:
    return name in env or f"{name}_FILE" in env


def generate(
    names: Collection[str],
    env: Mapping[str, str],
    kept: Mapping[str, str],
    token: Callable[[], str] = lambda: secrets.token_urlsafe(TOKEN_BYTES),
) -> dict[str, str]:
    """A value for each name the environment does not set: the kept one, or a new one."""
    return {n: kept.get(n) or token() for n in sorted(names) if not is_set(n, env)}


def export_lines(values: Mapping[str, str]) -> list[str]:
    """`export NAME=value` lines for a POSIX shell."""
    return [f"export {name}={shlex.quote(values[name])}" for name in sorted(values)]


def file_prefix(path: Path) -> str | None:
    """The [lab] prefix of a file, read before the file can be loaded (None: none usable)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    lab = document.get("lab")
    prefix = lab.get("prefix") if isinstance(lab, dict) else None
    return prefix if isinstance(prefix, str) and PREFIX_PATTERN.fullmatch(prefix) else None


def lab_values(
    path: Path, env: Mapping[str, str], directory: Path = STATE_DIR
) -> tuple[str | None, dict[str, str]]:
    """(prefix, generated values) for `lab up`: the lab's kept values, new ones for the rest."""
    prefix = file_prefix(path)
    kept = lab_environment(prefix, directory) if prefix else {}
    return prefix, generate(config.referenced_variables(path), env, kept)


def load_lab_inventory(
    path: Path, env: Mapping[str, str], directory: Path = STATE_DIR
) -> Inventory:
    """The inventory with the lab's values where the environment has none.

    Variables neither set nor generated (the lab is not up) get a placeholder:
    enough to plan, impair or remove the lab, never given to an agent.
    """
    prefix = file_prefix(path)
    kept = lab_environment(prefix, directory) if prefix else {}
    names = config.referenced_variables(path)
    filled = generate(names, {**env, **kept}, {}, token=lambda: PLACEHOLDER)
    return config.load_inventory(path, {**filled, **kept, **env})
