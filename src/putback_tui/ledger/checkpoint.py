"""The ledger's WAL checkpoints, run on a thread and a connection of their own.

SQLite's default (``wal_autocheckpoint``, 1,000 pages) checkpoints inside the commit that crosses
the mark: that action's commit copies the whole WAL into the database file and syncs it, a few
milliseconds on the operator's path every hundred or so put-backs. The ledger's connections turn
that off (``PRAGMA wal_autocheckpoint=0``); one :class:`Checkpointer` per ledger file and process
does the copying instead, between actions:

- ``PASSIVE`` once the commits since the last checkpoint changed about 300 rows (about 500
  pages, half of what SQLite's default waits for), or when the ledger has been quiet a while
  after a commit. ``PASSIVE`` never waits for, nor blocks, a reader or a writer: an action
  committing meanwhile goes on into the WAL.
- SQLite starts the WAL over (writes it from its start again, reusing the file) only when a
  transaction begins while the whole WAL is in the database file. Between actions at the
  operator's pace that is the next action; under a burst an action is always under way when a
  ``PASSIVE`` checkpoint ends, so the WAL would grow on, every commit lengthening the file (and
  a growing file's sync costs more). So when the WAL was not started over since the previous
  checkpoint, a second ``PASSIVE`` checkpoint copies what was committed meanwhile while it holds
  the locks of this process's ledgers of the file (waiting at most :data:`CATCH_UP_WAIT_S` for
  them): no action of this process can commit during it, so it copies the WAL to its end, and
  the next action starts it over. An action may wait for that short copy (a few actions' pages
  and a sync), once every other checkpoint, and only under a burst.
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
from typing import NamedTuple, Protocol

log = logging.getLogger("putback.ledger")

CHANGES_PER_CHECKPOINT = 300
"""Rows changed by this process's commits before a ``PASSIVE`` checkpoint is due: about 500 pages
(a put-back changes 4 rows and writes 7 pages). Under a burst the WAL is started over at every
other checkpoint, about the 1,000 pages of SQLite's automatic checkpoint."""
QUIET_S = 10.0
"""After this long without a commit, what the WAL holds is checkpointed even below the mark."""
POLL_S = 1.0
"""How often the thread looks at the WAL file's size without being woken by commits."""
WAL_LIMIT_BYTES = 16 * 1024 * 1024
"""A WAL file past this size gets a ``TRUNCATE`` checkpoint; SQLite also cuts a WAL it starts
over back to this size (``journal_size_limit``). Four times what a checkpoint normally leaves, so
a WAL of the usual size is reused in place (overwriting, not growing, the file keeps the action's
sync cheap) and never truncated on the action's path."""
CATCH_UP_WAIT_S = 0.05
"""How long the catching-up checkpoint waits for the action under way (else it is left for the
next checkpoint)."""
STRONG_WAIT_S = 0.1
"""How long a ``TRUNCATE`` checkpoint waits for readers and writers: an action may wait this long,
once, and only when the WAL is past :data:`WAL_LIMIT_BYTES`."""


class _Lock(Protocol):
    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool: ...
    def release(self) -> None: ...


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
        self._log_frames = 0
        """Frames in the WAL at the last checkpoint (0: started over since)."""
        self._attaching = threading.Lock()
        self._locks: list[_Lock] = []
        """The locks of the ledgers sharing this checkpointer: held, none commits."""
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

    def attach(self, lock: _Lock) -> None:
        """A ledger of the file opened: ``lock`` is held while it reads or writes."""
        with self._attaching:
            self._locks.append(lock)

    def detach(self, lock: _Lock) -> None:
        """The ledger of ``lock`` is closing."""
        with self._attaching:
            self._locks.remove(lock)

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
                target=self._run, name=f"putback-checkpoint {self.path}", daemon=True
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
            try:
                self._checkpoint(0)
            except Exception:  # the connection is closed all the same
                log.exception("last checkpoint failed")
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
            if done is None:
                return None
            big = max(size, done.log_frames * self._frame) > WAL_LIMIT_BYTES
            # The WAL only grows between two starts from its beginning.
            missed = done.log_frames >= self._log_frames > 0
            self._log_frames = done.log_frames
            if missed and not big:
                caught = self._catch_up(conn)
                if caught is not None and caught.copied_frames == caught.log_frames:
                    self._log_frames = 0  # the next commit starts the WAL over
                    done = caught
            elif big and strong:
                done = self._run_pragma(conn, "TRUNCATE", STRONG_WAIT_S)
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
                    self._log_frames = 0
        except sqlite3.Error as exc:
            # A full disk, a damaged file: the action's own connection reports it to the
            # operator. The WAL keeps every commit; the next round tries again.
            if not self._failing:
                log.warning("checkpoint of %s failed: %s", self.path, exc)
            self._failing = True
            return None
        self._failing = False
        return done

    def _catch_up(self, conn: sqlite3.Connection) -> Checkpointed | None:
        """A ``PASSIVE`` checkpoint while no ledger of this process can commit; None: not now."""
        with self._attaching:
            locks = list(self._locks)
        held: list[_Lock] = []
        try:
            for lock in locks:
                if not lock.acquire(timeout=CATCH_UP_WAIT_S):
                    return None
                held.append(lock)
            return self._run_pragma(conn, "PASSIVE")
        finally:
            for lock in reversed(held):
                lock.release()

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

    def _run_pragma(
        self, conn: sqlite3.Connection, mode: str, wait_s: float = 0.0
    ) -> Checkpointed | None:
        """One ``PRAGMA wal_checkpoint``; ``wait_s``: its busy timeout (``PASSIVE`` never waits)."""
        if mode != "PASSIVE":
            conn.execute(f"PRAGMA busy_timeout={int(wait_s * 1000)}")
        row = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        if row is None or row[1] < 0:  # not in WAL mode (yet)
            return None
        self.checkpoints += 1
        self.last = done = Checkpointed(bool(row[0]), int(row[1]), int(row[2]))
        return done
