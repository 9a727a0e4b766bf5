"""Durable file-system steps shared by the commands that rename a file into place."""

from __future__ import annotations

import errno
import os
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Sync ``directory`` itself, so a rename, create or unlink in it survives a power cut.

    A rename is only a change to the directory: until the directory is synced, a power cut can
    bring back the old name (found by ``scripts/powercut``).

    A file system that cannot sync a directory (``EINVAL``, as some network ones answer) is
    taken at its word, as SQLite does for its own directory syncs.

    Raises:
        OSError: the directory cannot be opened, or syncing it failed.
    """
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def make_dirs(directory: Path, mode: int = 0o777) -> None:
    """Create ``directory`` and its missing parents, each one's name synced in its parent.

    ``Path.mkdir(parents=True)`` alone leaves a new directory's name in its parent's cache: a
    power cut then takes the directory, and every file in it however well synced (found by
    ``scripts/powercut``: a freshly set-up terminal lost its ledger).

    Raises:
        OSError: a directory cannot be created or synced.
    """
    missing = []
    d = directory
    while not d.exists():
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode)
        except FileExistsError:
            continue  # made meanwhile by someone else, who syncs it
        fsync_dir(d.parent)
