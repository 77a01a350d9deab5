"""Reading a file the configuration names: regular files only, of a bounded size.

`/dev/zero` would be read forever and a FIFO would block the loader until a
writer comes; neither is a file a person writes sites.toml or a secret in.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

# sites.toml: a national deployment (thousands of sites) is a few megabytes.
MAX_CONFIG_BYTES: Final = 32 * 1024 * 1024
# a secret read through NAME_FILE: a password, a token, a key.
MAX_SECRET_BYTES: Final = 64 * 1024


class UnreadableFileError(Exception):
    """Why a file cannot be used; the message is a reason, without the path."""


def size_text(size: int) -> str:
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


def read_regular(path: Path | str, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes.

    Opened without blocking (a FIFO would wait for a writer), checked on the
    open descriptor (no race with a rename), read no further than `limit`.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UnreadableFileError(exc.strerror or str(exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UnreadableFileError(f"not a regular file ({kind_of(mode)})")
        data = read_at_most(fd, limit + 1)
    except OSError as exc:
        raise UnreadableFileError(exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise UnreadableFileError(f"larger than {size_text(limit)}")
    return data


def read_at_most(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left > 0:
        chunk = os.read(fd, min(left, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def kind_of(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")
