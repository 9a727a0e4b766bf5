"""Making a backup this terminal's ledger: the backup untouched, the old ledger kept, never lost.

The order of the steps is the guarantee:

1. refuse a source that is the live database itself, or not a SQLite file at all;
2. refuse while another process (the app, ``putback sync``) has the ledger open, naming it:
   its next write would otherwise go into the file we move aside;
3. copy the source into a fresh owner-only directory beside the ledger and open only the copy
   (opening switches a file to WAL mode, so the backup itself is never opened), check it;
4. keep the ledger in place under a name that cannot collide (time and a random suffix),
   linked there, never renamed over anything; its ``-wal`` first, so a stale WAL can
   never be read into the restored file;
5. link the checked copy in as the ledger, and sync the directory.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from putback_tui import files
from putback_tui.ledger.store import SQLITE_HEADER, Ledger, LedgerCorrupt, LedgerError

_SIDE_FILES = ("-wal", "-shm")


@dataclass(frozen=True)
class Restored:
    """What a restore did."""

    entries: int
    """Entries in the restored ledger."""
    kept: Path | None
    """Where the ledger that was in place was kept, if there was one."""


def restore(source: Path, db: Path) -> Restored:
    """Make the backup ``source`` the ledger at ``db``; see the module docstring for the steps.

    Raises:
        LedgerError: nothing was changed; the message says what is wrong and what to do.
    """
    if _same_file(source, db):
        raise LedgerError(
            f"{source} is the live database itself: restore from a backup copy (`putback "
            "backup FILE` makes one); nothing was changed."
        )
    _check_is_sqlite(source)
    _refuse_if_open(db)
    files.make_dirs(db.parent, 0o700)
    try:
        with files.private_directory(db.parent) as private:
            copy = private / db.name
            files.copy_into(source, copy)
            wal = Path(f"{source}-wal")
            if wal.exists():  # a file copied from a live ledger: its WAL holds commits too
                files.copy_into(wal, Path(f"{copy}-wal"))
            entries = _check_copy(copy, source)
            _refuse_if_open(db)
            kept = _keep_aside(db) if db.exists() else None
            files.place_new(copy, db)
    except OSError as exc:
        raise LedgerError(
            f"Cannot restore into {db.parent}: {exc.strerror or exc}. Check that the directory "
            "is writable and the disk not full; the ledger in place was not changed."
        ) from exc
    return Restored(entries, kept)


def _same_file(source: Path, db: Path) -> bool:
    for name in (db, *(Path(f"{db}{s}") for s in _SIDE_FILES)):
        try:
            if source.samefile(name):
                return True
        except OSError:
            continue
    return False


def _check_is_sqlite(source: Path) -> None:
    try:
        with source.open("rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise LedgerError(f"Cannot read {source}: {exc.strerror or exc}.") from exc
    if head != SQLITE_HEADER:
        raise LedgerError(
            f"{source} is not a putback backup (not a SQLite database): check that you named "
            "the backup file (`putback backup FILE` writes one); nothing was changed."
        )


def _refuse_if_open(db: Path) -> None:
    holders = files.open_by([db, *(Path(f"{db}{s}") for s in _SIDE_FILES)])
    if holders:
        who = "; ".join(f"{command} (pid {pid})" for pid, command in holders)
        raise LedgerError(
            f"{db} is open in {who}. Quit the app and stop the sync service (`systemctl stop "
            "putback-sync`) first, then restore again; nothing was changed."
        )


def _check_copy(copy: Path, source: Path) -> int:
    try:
        ledger = Ledger(copy, create=False)
    except LedgerCorrupt as exc:
        raise LedgerError(
            f"{source} is not a putback ledger, or is damaged: choose another backup file; "
            "nothing was changed."
        ) from exc
    except LedgerError as exc:
        reason = str(exc).replace(str(copy), str(source))
        raise LedgerError(f"{source} cannot be restored: {reason} Nothing was changed.") from exc
    try:
        problems = ledger.check()
        entries = len(ledger.entries())
    finally:
        ledger.close()
    if problems:
        raise LedgerError(
            f"{source} is damaged ({problems[0]}): choose another (older) backup; nothing was "
            "changed."
        )
    return entries


def _keep_aside(db: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    # The random part keeps two restores in one second apart; the old file is never opened
    # here (it may be damaged, and opening it would add side files).
    kept = db.with_name(f"{db.name}.replaced-{stamp}-{secrets.token_hex(4)}")
    # The WAL first: were we stopped half-way, no stale WAL may sit beside the restored file.
    for suffix in (*_SIDE_FILES, ""):
        old = Path(f"{db}{suffix}")
        if old.exists():
            files.place_new(old, Path(f"{kept}{suffix}"))
    return kept
