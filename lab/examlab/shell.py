"""Running commands: every change the lab makes to this machine passes through `Shell`.

`ip`, `tc`, `nft` and `sysctl` are run by argument list, never through a
shell; `batch` feeds many lines to one `ip -batch` or `tc -batch` (a 300-site
lab builds in a few hundred processes).
"""

from __future__ import annotations

import logging
import shlex
import subprocess
from collections.abc import Sequence

from examlab.errors import LabError

log = logging.getLogger(__name__)

COMMAND_TIMEOUT = 60.0


class CommandError(LabError):
    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(f"`{shlex.join(argv)}` failed ({returncode}): {stderr.strip()}")
        self.argv = tuple(argv)
        self.returncode = returncode


class Shell:
    """Runs one command; every change to the machine passes through here."""

    def run(self, argv: Sequence[str], stdin: str | None = None, check: bool = True) -> str:
        log.debug("run %s%s", shlex.join(argv), f" <<{stdin!r}" if stdin else "")
        try:
            done = subprocess.run(
                list(argv),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LabError(f"`{shlex.join(argv)}` could not run: {exc}") from exc
        if check and done.returncode != 0:
            raise CommandError(argv, done.returncode, done.stderr)
        return done.stdout


def ip(namespace: str | None, *args: str) -> list[str]:
    return ["ip", *(["-n", namespace] if namespace else []), *args]


def tc(namespace: str | None, *args: str) -> list[str]:
    return ["tc", *(["-n", namespace] if namespace else []), *args]


def in_namespace(namespace: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", namespace, *argv]


def batch(shell: Shell, argv: list[str], lines: list[str]) -> None:
    if lines:
        shell.run([*argv, "-batch", "-"], stdin="\n".join(lines) + "\n")
