"""The data directory and what is in it are readable by this user only (0700, 0600).

It holds password hashes and the audit log (SQLite), the live store (the embedded Redis' dump)
and the key that signs sessions. SQLite makes its -wal and -shm files with the database file's
mode, so a database file made private keeps them private too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


def private_dir(path: Path) -> Path:
    """Make ``path`` (and missing parents) a directory only its owner may enter."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _restrict(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Make ``path`` a file only its owner may read, creating it empty if missing.

    Its directory is made if missing (private), but an existing one is left as it is: it may be
    a directory the operator chose for other things too.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    _restrict(path, 0o600)
    return path


@contextmanager
def private_umask() -> Iterator[None]:
    """Files made meanwhile, by this process or a child it starts (redis-server), are its owner's only."""
    before = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(before)


def _restrict(path: Path, mode: int) -> None:
    if path.stat().st_mode & 0o077:
        try:
            path.chmod(mode)
        except PermissionError:  # not ours: say so rather than refuse to start
            log.warning("%s is readable by others and not ours to restrict (chmod %o it)", path, mode)
