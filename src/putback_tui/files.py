"""Durable file-system steps shared by the commands that rename a file into place."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Sync ``directory`` itself, so a rename, create or unlink in it survives a power cut.

    A rename is only a change to the directory: until the directory is synced, a power cut can
    bring back the old name (found by ``scripts/powercut``).

    Raises:
        OSError: the directory cannot be opened or synced.
    """
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
