"""What can go wrong with the local database, and SQLite's errors said in the operator's words."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class LedgerError(Exception):
    """The local database cannot be used; the message says why and what to do."""


class LedgerLocked(LedgerError):
    """Another process holds the write lock for longer than the busy timeout."""


class LedgerFull(LedgerError):
    """The disk holding the ledger is full (or the file hit its size limit); nothing was saved."""


class LedgerCorrupt(LedgerError):
    """The file is damaged or is not a putback ledger. It is never overwritten."""


def translate(exc: sqlite3.DatabaseError, path: Path) -> LedgerError:
    """The :class:`LedgerError` that says what ``exc`` means for the file at ``path``."""
    text = str(exc).lower()
    code = getattr(exc, "sqlite_errorname", "") or ""
    if code == "SQLITE_FULL" or "disk is full" in text:
        return LedgerFull(
            f"The disk holding the local database {path} is full; nothing was saved. Free some "
            "space, then scan again: everything confirmed before is safe."
        )
    if code.startswith("SQLITE_IOERR") or "disk i/o error" in text:
        return LedgerError(
            f"Could not write the local database {path} ({exc}: the disk is failing, full, or "
            "the file hit a size limit); nothing was saved. Everything confirmed before is safe."
        )
    if "locked" in text or "busy" in text:
        return LedgerLocked(
            f"The local database {path} is locked by another program; nothing was saved. "
            "Close the other putback or sqlite3 using it, then try again."
        )
    if isinstance(exc, sqlite3.OperationalError) and "readonly" in text:
        return LedgerError(f"The local database {path} is read-only: check its permissions.")
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return LedgerCorrupt(
            f"The local database {path} is damaged ({exc}). It was left untouched: restore it "
            "from a backup, or move it aside and re-sync from the central store."
        )
    return LedgerError(f"The local database {path} failed: {exc}")
