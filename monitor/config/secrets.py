"""`${NAME}` substitution in string values, and where credentials come from.

A value may name an environment variable, `${NAME}`, or a file through
`NAME_FILE` (Docker and systemd credentials). Messages name variables,
never their values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from monitor.config.files import MAX_SECRET_BYTES, UnreadableFileError, read_regular
from monitor.config.problems import BadValueError, clip

INLINE_CREDENTIAL_WARNING: Final = "secret written in the file; use ${NAME}"
PATH_LIMIT: Final = 256  # a NAME_FILE path is shown up to this many characters


class MissingVariableError(BadValueError):
    """A variable that is neither set nor given through NAME_FILE."""

    def __init__(self, name: str) -> None:
        super().__init__(f'environment variable "{name}" is not set (nor "{name}_FILE")')
        self.name = name


_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{")


def expand(value: str, env: Mapping[str, str]) -> tuple[str, bool]:
    """Replace ${NAME} from env (or the file named by NAME_FILE); `$${` is a literal `${`.

    Returns the text and whether any variable was used. Messages name
    variables, never their values.
    """
    pieces: list[str] = []
    used = False
    last = 0
    for found in _REFERENCE.finditer(value):
        pieces.append(value[last : found.start()])
        last = found.end()
        if found[0] == "$${":
            pieces.append("${")
        elif found[1] is None:
            raise BadValueError(
                'expected ${NAME} with NAME of letters, digits and "_" '
                '(write "$${" for a literal "${")'
            )
        else:
            pieces.append(lookup(found[1], env))
            used = True
    pieces.append(value[last:])
    return "".join(pieces), used


def variable_names(value: str) -> set[str]:
    """The NAMEs `value` refers to as ${NAME}; `$${` is a literal, not a reference."""
    return {found[1] for found in _REFERENCE.finditer(value) if found[1] is not None}


def lookup(name: str, env: Mapping[str, str]) -> str:
    if name in env:
        return env[name]
    file_name = f"{name}_FILE"
    if file_name not in env:
        raise MissingVariableError(name)
    try:
        content = read_regular(env[file_name], MAX_SECRET_BYTES).decode("utf-8")
    except (UnreadableFileError, UnicodeDecodeError) as exc:
        reason = str(exc) if isinstance(exc, UnreadableFileError) else "not UTF-8 text"
        shown = clip(env[file_name], PATH_LIMIT)
        raise BadValueError(
            f'cannot read the file named by "{file_name}" ({shown}): {reason}'
        ) from None
    return content.removesuffix("\n").removesuffix("\r")
