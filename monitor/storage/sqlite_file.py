"""The SQLite database file: created private, and watched for deletion or replacement.

Private: examnet creates the file itself with mode 0600 before SQLite
opens it, and SQLite gives its -wal and -shm files the mode of the
database file (os_unix.c, findCreateFileMode), so none of the three is
world-readable whatever the umask (issue 10.9).

Watched: SQLite keeps writing to a file that was deleted under it; every
row goes to an inode nobody can open again and is lost at exit, and a
replaced file splits examnet (writing the old inode) from the CLI and
reports (reading the new one). The writer compares the path's device and
inode with the ones it opened before every batch. Only `stat()` of the
path is used: opening and closing a descriptor of our own on the file
would release SQLite's POSIX locks on it (sqlite.org/howtocorrupt.html
§2.2), so `fstat().st_nlink` is not an option.

After the first connection, connections open the file with `mode=rw`, so
a deleted file is never silently recreated, empty and world-readable, by
whichever thread connects next: only `create()` makes one.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

FILE_MODE = 0o600
# Files SQLite keeps beside the database; without it they belong to nothing,
# and a new database of the same name would read a stale WAL as its own.
COMPANIONS = ("-wal", "-shm", "-journal")


class SqliteFile:
    """One database path: its creation, its identity, and how connections open it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._identity: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def create(self) -> bool:
        """Create the file (0600) if it is missing; True if created. See remember()."""
        with self._lock:
            created = self._create()
        info = os.stat(self.path)
        if not created and info.st_mode & 0o077:
            log.warning(
                "the database file %s can be read by other users (mode %s): "
                "chmod 600 it (examnet creates its files 0600)",
                self.path,
                stat.filemode(info.st_mode),
            )
        return created

    def _create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            return False
        os.close(fd)  # a new inode: no SQLite lock on it can be released by this close
        for suffix in COMPANIONS:
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        return True

    def remember(self) -> None:
        """Take the file now at the path as the one examnet writes (once it has the schema)."""
        info = os.stat(self.path)
        with self._lock:
            self._identity = (info.st_dev, info.st_ino)

    def change(self) -> str | None:
        """How the file at the path differs from the one examnet opened, or None."""
        with self._lock:
            known = self._identity
        if known is None:
            return None
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return "deleted"
        if (info.st_dev, info.st_ino) != known:
            return "replaced by another file"
        return None

    def on_connect(
        self, _dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]
    ) -> None:
        """SQLAlchemy's do_connect hook: create on the first connection, `mode=rw` after."""
        with self._lock:
            known = self._identity is not None
        if not known:
            try:
                self.create()
                self.remember()
            except OSError:
                pass  # no such directory, no permission: let SQLite say so in its own error
            return
        cargs[0] = f"file:{quote(str(self.path), safe='/')}?mode=rw"
        cparams["uri"] = True
