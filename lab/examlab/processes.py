"""Processes the lab starts (floods, snmpd agents), known by PID and start time.

A PID alone may name another process once the first has exited; with the
start time from /proc/PID/stat (field 22, clock ticks since boot) it names
one process for good, so stopping never signals anything the lab did not start.
"""

from __future__ import annotations

import os
import signal
import time
from contextlib import suppress
from pathlib import Path

from examlab.errors import LabError

POLL = 0.05


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def start_ticks(pid: int) -> int:
    """The start time of a process just started (0 when it is already gone)."""
    stat = proc_stat(pid)
    return stat[1] if stat else 0


def is_running(pid: int, ticks: int) -> bool:
    stat = proc_stat(pid)
    return pid > 0 and stat is not None and stat[0] not in "ZX" and stat[1] == ticks


def stop_process(pid: int, ticks: int, grace: float, what: str) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; raise if it survives twice as long."""
    started = time.monotonic()
    while is_running(pid, ticks):
        waited = time.monotonic() - started
        if waited > 2 * grace:
            raise LabError(f"{what} {pid} does not stop, even when killed")
        with suppress(ProcessLookupError):  # it may end between the check and the signal
            os.kill(pid, signal.SIGTERM if waited < grace else signal.SIGKILL)
        time.sleep(POLL)
