"""What the commands share for writing to a person's terminal.

Times in the plan's zone with their offset, text from the file or the
database with its control characters escaped (a comment must not move the
cursor or clear the screen), and a quiet exit when the reader of a pipe
leaves (`examnet status | head`), as coreutils do.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import sys
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Final

# C0 and C1 controls and DEL, the line and paragraph separators, and the
# bidirectional overrides that reorder what a terminal shows (CVE-2021-42574).
_CONTROL: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
EXIT_BROKEN_PIPE: Final = 128 + signal.SIGPIPE  # what a shell reports for `seq 1e9 | head`
EXIT_UNWRITABLE: Final = 1
# where the output goes cannot take it: a full disk or quota, a file too big, an I/O error
UNWRITABLE: Final = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


def _escape(found: re.Match[str]) -> str:
    char = found[0]
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control character written as an escape (`\\x1b`, `\\n`)."""
    return _CONTROL.sub(_escape, text)


def printable_lines(text: str) -> str:
    """Each line of `text` made printable; the line breaks between them kept."""
    return "\n".join(printable(line) for line in text.split("\n"))


def local_time(moment: datetime, zone: tzinfo, *, seconds: bool = False) -> str:
    """`2027-06-03 07:30 +07:00`: the plan's wall clock, with the offset said."""
    local = moment.astimezone(zone)
    offset = local.isoformat()[-6:]
    return f"{local:%Y-%m-%d %H:%M{':%S' if seconds else ''}} {offset}"


def quiet_on_broken_pipe(command: Callable[[], int]) -> int:
    """Run a command; when stdout's reader has gone, or its disk is full, stop
    without a traceback.

    Python ignores SIGPIPE and raises BrokenPipeError instead; stdout is
    pointed at /dev/null so the flush at exit cannot raise it again.
    """
    try:
        code = command()
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        if exc.errno not in UNWRITABLE:
            raise
        _silence_stdout()
        print(f"examnet: cannot write its output: {exc.strerror}", file=sys.stderr)
        return EXIT_UNWRITABLE
    return code


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
