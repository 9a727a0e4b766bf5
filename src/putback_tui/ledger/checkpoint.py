"""The ledger's WAL checkpoints, run on a thread and a connection of their own.

SQLite's default (``wal_autocheckpoint``, 1,000 pages) checkpoints inside the commit that crosses
the mark: that action's commit copies the whole WAL into the database file and syncs it, a few
milliseconds on the operator's path every hundred or so put-backs. The ledger's connections turn
that off (``PRAGMA wal_autocheckpoint=0``); one :class:`Checkpointer` per ledger file and process
does the copying instead, between actions:

- ``PASSIVE`` once the commits since the last checkpoint changed about as many rows as SQLite's
  default would wait pages for (a row changed is at least one page written), or when the ledger
  has been quiet a while after a commit. ``PASSIVE`` never waits for, nor blocks, a reader or a
  writer: an action committing meanwhile goes on into the WAL.
- When the WAL outgrows :data:`WAL_LIMIT_BYTES` (a reader held an old snapshot while writes went
  on, so SQLite could not start the WAL over; or one large transaction), a ``TRUNCATE``
  checkpoint as well, which waits for readers up to :data:`STRONG_WAIT_S` and shrinks the file.
  SQLite's own automatic checkpoint never does that: with it, such a WAL grew without bound.
- The connection runs with ``synchronous=FULL``: the database file is synced before the
  checkpoint is recorded, so a writer may start the WAL over only once the pages it held are
  durable in the database file (a power cut in the middle of a checkpoint loses nothing; the next
  open replays the WAL).

The thread starts with the first commit and ends with the process's last :class:`Ledger` of the
file, after one last ``PASSIVE`` checkpoint (a short-lived command leaves the database current;
SQLite checkpoints and removes the WAL as well when that was the last connection of any process).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger("putback.ledger")

CHANGES_PER_CHECKPOINT = 1_000
"""Rows changed by this process's commits before a ``PASSIVE`` checkpoint is due (SQLite's
default automatic checkpoint waits for 1,000 pages; every row changed writes at least one)."""
QUIET_S = 10.0
"""After this long without a commit, what the WAL holds is checkpointed even below the mark."""
POLL_S = 1.0
"""How often the thread looks at the WAL file's size without being woken by commits."""
WAL_LIMIT_BYTES = 16 * 1024 * 1024
"""A WAL file past this size gets a ``TRUNCATE`` checkpoint; SQLite also cuts a WAL it starts
over back to this size (``journal_size_limit``). Four times what a checkpoint normally leaves, so
a WAL of the usual size is reused in place (overwriting, not growing, the file keeps the action's
sync cheap) and never truncated on the action's path."""
STRONG_WAIT_S = 0.1
"""How long a ``TRUNCATE`` checkpoint waits for readers and writers: an action may wait this long,
once, and only when the WAL is past :data:`WAL_LIMIT_BYTES`."""


class Checkpointed(NamedTuple):
    """What one checkpoint reported (``PRAGMA wal_checkpoint``)."""

    busy: bool
    """A reader or writer kept it from copying every frame (or from resetting the WAL)."""
    log_frames: int
    """Frames in the WAL."""
    copied_frames: int
    """Frames of the WAL now in the database file."""


def configure(conn: sqlite3.Connection) -> None:
    """Settings of every ledger connection that writes: no checkpoint inside a commit."""
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")


class Checkpointer:
    """Checkpoints one ledger file on a thread and a connection of its own.

    One per ledger file and process (``putback_tui.ledger.store`` keeps them beside the files it
    holds open), shared by every :class:`~putback_tui.ledger.store.Ledger` of that file: the
    station's, the sync worker's.
    """

    def __init__(self, path: Path) -> None:
        """Prepare the checkpointer of ``path``; nothing is opened before the first commit."""
        self.path = path
        self.wal = path.with_name(path.name + "-wal")
        self._changes = 0
        self._last_commit = 0.0
        self._wake = threading.Event()
        self._closing = False
        self._starting = threading.Lock()
        self._round = threading.Lock()
        """Held while a checkpoint runs (and by :meth:`paused`)."""
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._failing = False
        self._strong_at = 0.0
        """The thread's next ``TRUNCATE`` checkpoint not before this (``time.monotonic``)."""
        self._strong_wait = POLL_S
        self._frame = 4096 + 24
        """A WAL frame's size: a page and its header."""
        self.checkpoints = 0
        """Checkpoints run so far (``PASSIVE`` and ``TRUNCATE`` alike)."""
        self.last: Checkpointed | None = None
        """What the last checkpoint reported."""

    # -- called by the ledger ----------------------------------------------------------------

    def committed(self, changes: int) -> None:
        """Count a commit of ``changes`` rows; wake the thread once a checkpoint is due.

        On every action's path, after its commit: a few attribute reads and writes. The count
        is an estimate (two threads may add at once; it only decides when to look).
        """
        self._changes += changes
        self._last_commit = time.monotonic()
        if self._thread is None:
            self._start()
        elif self._changes >= CHANGES_PER_CHECKPOINT and not self._wake.is_set():
            self._wake.set()

    def close(self) -> None:
        """Stop the thread after one last ``PASSIVE`` checkpoint, and close the connection."""
        self._closing = True
        self._wake.set()
        with self._starting:
            thread = self._thread
        if thread is not None:
            thread.join()

    # -- for tests and tools -----------------------------------------------------------------

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """No checkpoint runs inside the block (one under way is waited for)."""
        with self._round:
            yield

    def checkpoint(self) -> Checkpointed | None:
        """Run a checkpoint now, in the caller's thread, as the thread would when one is due.

        Returns:
            What it reported, or None when the ledger has no WAL open (nothing committed yet).
        """
        with self._round:
            return self._checkpoint(os.stat(self.wal).st_size if self.wal.exists() else 0)

    # -- the thread ---------------------------------------------------------------------------

    def _start(self) -> None:
        with self._starting:
            if self._thread is not None or self._closing:
                return
            self._thread = threading.Thread(
                target=self._run, name=f"putback-checkpoint {self.path.name}", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        size = 0
        while not self._closing:
            self._wake.wait(POLL_S)
            self._wake.clear()
            if self._closing:
                break
            with self._round:
                try:
                    size = self._maybe(size)
                except Exception:  # a bug must not end the checkpoints silently
                    log.exception("checkpoint round failed")
        with self._round:
            with contextlib.suppress(OSError):
                self._checkpoint(0)
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None

    def _maybe(self, seen: int) -> int:
        """One round: a checkpoint if one is due. Returns the WAL file's size, as now seen."""
        try:
            size = os.stat(self.wal).st_size
        except OSError:
            return 0
        changes = self._changes
        due = (
            changes >= CHANGES_PER_CHECKPOINT
            or (changes > 0 and time.monotonic() - self._last_commit >= QUIET_S)
            or size > WAL_LIMIT_BYTES
            # Grown, and by no commit of this process (a migration, another process): the file
            # only grows when the WAL holds more than it ever did.
            or (size > seen > 0 and changes == 0)
        )
        if due:
            self._checkpoint(size, strong=time.monotonic() >= self._strong_at)
        return size

    def _checkpoint(self, size: int, *, strong: bool = True) -> Checkpointed | None:
        self._changes = 0
        try:
            conn = self._connect()
            done = self._run_pragma(conn, "PASSIVE")
            big = done is not None and max(size, done.log_frames * self._frame) > WAL_LIMIT_BYTES
            if big and strong:
                done = self._run_pragma(conn, "TRUNCATE")
                if done is not None and done.busy:
                    # A reader holds an old snapshot: try again, less and less often (each try
                    # may hold an action up to STRONG_WAIT_S).
                    if self._strong_wait == POLL_S:
                        log.warning(
                            "the ledger's WAL (%d bytes) could not be reset: a reader holds an "
                            "old snapshot; trying again",
                            size,
                        )
                    self._strong_at = time.monotonic() + self._strong_wait
                    self._strong_wait = min(60.0, 2 * self._strong_wait)
                else:
                    self._strong_wait = POLL_S
        except sqlite3.Error as exc:
            # A full disk, a damaged file: the action's own connection reports it to the
            # operator. The WAL keeps every commit; the next round tries again.
            if not self._failing:
                log.warning("checkpoint of %s failed: %s", self.path, exc)
            self._failing = True
            return None
        self._failing = False
        return done

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(
                self.path, timeout=STRONG_WAIT_S, isolation_level=None, check_same_thread=False
            )
            try:
                # The database file synced before a checkpoint counts as done: only then may a
                # writer start the WAL over (see the module's docstring).
                conn.execute("PRAGMA synchronous=FULL")
                configure(conn)
                self._frame = 24 + int(conn.execute("PRAGMA page_size").fetchone()[0])
            except sqlite3.Error:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _run_pragma(self, conn: sqlite3.Connection, mode: str) -> Checkpointed | None:
        row = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        if row is None or row[1] < 0:  # not in WAL mode (yet)
            return None
        self.checkpoints += 1
        self.last = done = Checkpointed(bool(row[0]), int(row[1]), int(row[2]))
        return done
