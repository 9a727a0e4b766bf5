"""The local ledger: one SQLite file per terminal, one transaction per action.

Opening checks that the file is a putback ledger (never overwriting anything else), then applies
pending migrations. Every action goes through :meth:`Ledger.write`, which holds one
``BEGIN IMMEDIATE`` transaction: reads made through it see a stable state, and the entry and
every projection it changes commit together (WAL, ``synchronous=FULL``), durable on return.
What a transaction can read and write is :class:`~putback_tui.ledger.transaction.Transaction`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from sqlite_utils import Database

from putback_tui import files
from putback_tui.domain.entries import Entry
from putback_tui.domain.models import Order, Permission
from putback_tui.domain.reasons import SiteReasons
from putback_tui.ledger import sync
from putback_tui.ledger.cache import ReadCache
from putback_tui.ledger.errors import (
    LedgerCorrupt,
    LedgerError,
    LedgerFull,
    LedgerLocked,
    translate,
)
from putback_tui.ledger.schema import APPLICATION_ID, migrations
from putback_tui.ledger.transaction import Reconciled, Transaction

__all__ = [
    "SQLITE_HEADER",
    "Ledger",
    "LedgerCorrupt",
    "LedgerError",
    "LedgerFull",
    "LedgerLocked",
    "Reconciled",
    "Transaction",
]

SQLITE_HEADER = b"SQLite format 3\x00"


class Ledger:
    """The terminal's SQLite store: ledger entries, stock projections and reference cache.

    Thread-safe: one connection guarded by a lock, so the station's worker threads and the
    screens' readers can share it. Long scans are never loaded whole: every lookup is indexed.
    """

    def __init__(self, path: Path, *, busy_timeout_s: float = 2.0, create: bool = True) -> None:
        """Open (and with ``create``, make) the ledger at ``path``.

        Raises:
            LedgerCorrupt: the file is not a SQLite database, or another program's database,
                or damaged. It is left exactly as it was.
            LedgerLocked: another process holds the database locked.
            LedgerError: the file does not exist and ``create`` is False.
        """
        self.path = path
        self._lock = threading.RLock()
        with _OPENING:
            existed = path.exists() and path.stat().st_size > 0
            if existed and not _held_here(path):
                _check_header(path)
            elif not existed and not create:
                raise LedgerError(
                    f"No local database at {path}. Run 'putback init --demo' or 'putback init "
                    "--data DIR' first."
                )
            files.make_dirs(path.parent)
            try:
                conn = sqlite3.connect(
                    path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
                )
            except sqlite3.Error as exc:
                raise LedgerError(f"Cannot open the local database {path}: {exc}") from exc
            # Held before any statement takes a lock: no other open here reads the header now.
            self._held: tuple[int, int] | None = _hold(path)
            self._writer = _WRITERS[self._held] if self._held else threading.RLock()
        self._conn = conn
        self._cache = ReadCache()
        """What actions read again and again, kept while the file says it is current."""
        self.db = Database(conn, execute_plugins=False)
        try:
            with self._lock:
                if existed:
                    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
                    if app_id != APPLICATION_ID:
                        raise LedgerCorrupt(
                            f"{path} is a SQLite database, but not a putback ledger. "
                            "It was left untouched: point putback at another home directory."
                        )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA foreign_keys=ON")
                if not existed:
                    conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                migrations.apply(self.db)
        except sqlite3.DatabaseError as exc:
            self._close()
            raise translate(exc, path) from exc
        except LedgerError:
            self._close()
            raise

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        self._conn.close()
        _release(self._held)
        self._held = None

    def backup(self, dest: Path) -> int:
        """Write a consistent copy of the ledger to ``dest`` while others keep writing.

        Uses SQLite's online backup from a separate read connection into a file in a fresh
        owner-only directory beside ``dest`` (see ``putback_tui.files``), which is synced and
        then linked to ``dest``: ``dest`` is either absent or complete, never overwritten, and
        no file we did not make (a ``dest.partial``, a planted link) is touched.

        Returns:
            The number of entries in the copy.

        Raises:
            LedgerError: ``dest`` exists already (never overwritten), its directory is missing
                or not writable, or the copy failed; the message says which.
        """
        directory = dest.parent
        if not directory.is_dir():
            raise LedgerError(
                f"Cannot back up to {dest}: the directory {directory} does not exist. Create it "
                f"(`mkdir -p {directory}`) or choose another place; nothing was written."
            )
        if os.path.lexists(dest):
            raise LedgerError(f"{dest} exists already: choose a new file name.")
        try:
            with files.private_directory(directory) as private:
                partial = private / dest.name
                source = sqlite3.connect(self.path, timeout=5.0)
                try:
                    target = sqlite3.connect(partial)
                    try:
                        source.backup(target)
                        target.execute("PRAGMA journal_mode=DELETE")
                        (entries,) = target.execute("SELECT count(*) FROM entries").fetchone()
                    finally:
                        target.close()
                finally:
                    source.close()
                with partial.open("rb+") as f:
                    os.fsync(f.fileno())
                files.place_new(partial, dest)
        except FileExistsError as exc:
            raise LedgerError(f"{dest} exists already: choose a new file name.") from exc
        except PermissionError as exc:
            raise LedgerError(
                f"Cannot back up to {dest}: this user may not write in {directory}. Choose a "
                "directory you can write; nothing was written."
            ) from exc
        except sqlite3.Error as exc:
            raise LedgerError(f"Backup to {dest} failed: {exc}; nothing was written.") from exc
        except OSError as exc:
            raise LedgerError(
                f"Backup to {dest} failed: {exc.strerror or exc}; nothing was written."
            ) from exc
        return int(entries)

    def check(self) -> list[str]:
        """SQLite's integrity check; an empty list means the file is sound."""
        with self.read() as tx:
            rows = [r[0] for r in tx.conn.execute("PRAGMA integrity_check")]
        return [] if rows == ["ok"] else rows

    # -- transactions ------------------------------------------------------------------------

    def write(self) -> _Write:
        """One write transaction (``BEGIN IMMEDIATE``): commit on exit, roll back on error.

        What the transaction handed to :meth:`Transaction.after_commit` runs once it has
        committed, after the ledger's lock is released; nothing of it when it rolls back.

        Raises:
            LedgerLocked: another process holds the write lock beyond the busy timeout.
            LedgerCorrupt: the file turned out damaged.
        """
        return _Write(self)

    def _rollback(self, start: int | None) -> None:
        # What the transaction's entries brought up to date in the cache never happened (a
        # refusal that wrote nothing leaves it as it was).
        if start is None or self._conn.total_changes != start:
            self._cache.invalidate()
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.DatabaseError):
                self._conn.execute("ROLLBACK")

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        """A read-only view with a stable snapshot (``BEGIN DEFERRED``).

        Raises:
            LedgerCorrupt: the file turned out damaged.
        """
        with self._lock:
            try:
                self._conn.execute("BEGIN")
                try:
                    yield Transaction(self._conn, self._cache)
                finally:
                    self._conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                raise translate(exc, self.path) from exc

    @contextmanager
    def snapshot(self) -> Iterator[Transaction]:
        """A read-only view on a connection of its own, without this ledger's lock.

        For long reads in a background thread (the worklist): WAL lets them run beside the
        station's writes, which never wait for them. The connection (about 0.2 ms to open) is
        closed on exit.

        Raises:
            LedgerCorrupt: the file turned out damaged.
        """
        with read_snapshot(self.path) as tx:
            yield tx

    # -- meta --------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A value of the meta table, or None."""
        with self.read() as tx:
            return tx.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the meta table (its own transaction)."""
        with self.write() as tx:
            tx.set_meta(key, value)

    def central_roles(self) -> Mapping[str, frozenset[Permission]] | None:
        """The central store's role -> permissions map, as last received; None: none yet."""
        with self.read() as tx:
            return tx.central_roles()

    def central_reasons(self) -> SiteReasons | None:
        """The central store's reason lists, as last received; None: none yet."""
        with self.read() as tx:
            return tx.central_reasons()

    # -- convenience reads (each its own snapshot) -------------------------------------------

    def order(self, order_id: str) -> Order | None:
        """The order with this terminal's progress merged in, or None."""
        with self.read() as tx:
            return tx.order(order_id)

    def entries(self, *, after_seq: int = 0, limit: int | None = None) -> list[Entry]:
        """Entries in sequence order, after ``after_seq``."""
        with self.read() as tx:
            return list(tx.entries(after_seq=after_seq, limit=limit))

    def stock(
        self, sku: str | None = None
    ) -> tuple[list[tuple[str, str, int]], list[tuple[str, int]]]:
        """QOH rows (sku, location, qoh) and ATP rows (sku, atp), for one SKU or all."""
        with self.read() as tx:
            return tx.stock_rows(sku)

    def last_seq(self) -> int:
        """The sequence number of the newest entry (0 for none): the number of entries.

        Entries are never deleted and ``seq`` is the rowid, so this equals ``COUNT(*)`` but reads
        one b-tree leaf instead of the whole table: cheap enough to ask after every action.
        """
        with self._lock:
            row = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM entries").fetchone()
            return int(row[0])

    def rebuild_stock(self) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
        """Stock rebuilt from the baseline plus every entry the baseline does not include.

        Before the first pull from the central store that is every entry; after it, the
        entries after ``sync.baseline_seq`` (see :mod:`putback_tui.ledger.sync`). Must always
        equal the projections; tests and ``putback doctor`` check it.
        """
        with self.read() as tx:
            return sync.rebuilt_stock(tx)

    def refused_entries(self) -> list[sync.RefusedEntry]:
        """Entries the central store refused, oldest first, each with its reason.

        They are kept here, never dropped, for a supervisor to see.
        """
        with self.read() as tx:
            return sync.refused_entries(tx)


class _Write:
    """What :meth:`Ledger.write` hands out: the transaction's context, as a plain class.

    Every action goes through it: a class's ``__enter__`` and ``__exit__`` cost a fraction of a
    generator's (``contextlib.contextmanager``) on the put-back's path.
    """

    __slots__ = ("_ledger", "_start", "_tx")

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._start = 0
        self._tx: Transaction | None = None

    def __enter__(self) -> Transaction:
        ledger = self._ledger
        conn = ledger._conn
        ledger._lock.acquire()
        # This process's other connections to the file first (the sync worker's, the station's):
        # their writes are waited for here, however long, not refused by SQLite's busy timeout,
        # which is for other programs.
        if not ledger._writer.acquire(timeout=OWN_WRITE_WAIT_S):
            ledger._lock.release()
            raise LedgerLocked(
                f"The local database {ledger.path} was kept busy by this program's own sync "
                f"for {OWN_WRITE_WAIT_S:.0f} s; nothing was saved. Try again."
            )
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException as exc:
            ledger._writer.release()
            ledger._lock.release()
            if isinstance(exc, sqlite3.DatabaseError):
                raise translate(exc, ledger.path) from exc
            raise
        self._start = conn.total_changes
        self._tx = tx = Transaction(conn, ledger._cache)
        return tx

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        ledger = self._ledger
        try:
            if exc is None:
                try:
                    ledger._conn.execute("COMMIT")
                except sqlite3.DatabaseError as failed:
                    ledger._rollback(None)
                    raise translate(failed, ledger.path) from failed
            else:
                ledger._rollback(self._start)
                if isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                    exc, sqlite3.IntegrityError
                ):
                    # Disk full, I/O error, damage found mid-action: SQLite may already have
                    # rolled the transaction back, so a plain ROLLBACK would fail and hide the
                    # reason. (A schema rule, an IntegrityError, is the caller's bug or race:
                    # raised as it is.)
                    raise translate(exc, ledger.path) from exc
                return
        finally:
            ledger._writer.release()
            ledger._lock.release()
        # Committed: what waited for it (the entries' log lines) runs now, out of the
        # transaction and the lock.
        tx = self._tx
        if tx is not None and tx.committed:
            for call in tx.committed:
                call()


_OPENING = threading.Lock()
"""Held while a ledger is opened in this process: the header check and the first connection."""
_HELD: Counter[tuple[int, int]] = Counter()
"""The ledger files this process has open through SQLite (device, inode), with how many
:class:`Ledger` connections each.

While SQLite has a file open in a process, nothing else in that process may open and close it:
POSIX drops every lock a process holds on a file when *any* descriptor of it is closed (SQLite
tracks its own descriptors, not ours). The station's connection would then hold no lock, and the
next other process to close a connection (``putback backup``, ``putback doctor``) would take
itself for the last one, checkpoint, and delete the write-ahead log this process goes on
writing into: every entry committed afterwards would be lost at the next crash or power cut.
So the header is read with an ordinary ``open`` only by the first connection of a process."""


_WRITERS: defaultdict[tuple[int, int], threading.RLock] = defaultdict(threading.RLock)
"""One lock a ledger file this process has open (as :data:`_HELD`), held by each write
transaction from before its ``BEGIN IMMEDIATE`` to after its end.

The station's and the sync worker's connections are two in one process: without it, an action
arriving during one of the sync's long writes (a large facility's first pull rebases every
projection in its last transaction, 1.4-1.8 s at 100,000 orders) waited only SQLite's busy
timeout and was refused as "locked by another program". Reentrant: a thread that already
writes through one connection and opens a write through another gets SQLite's refusal, as
before, not a wait on itself."""
OWN_WRITE_WAIT_S = 30.0
"""The longest an action waits for this process's other writes before it is refused."""


def _key(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def _held_here(path: Path) -> bool:
    try:
        return _HELD[_key(path)] > 0
    except OSError:
        return False


def _hold(path: Path) -> tuple[int, int] | None:
    try:
        key = _key(path)
    except OSError:
        return None
    _HELD[key] += 1
    return key


def _release(key: tuple[int, int] | None) -> None:
    if key is None:
        return
    with _OPENING:
        _HELD[key] -= 1
        if _HELD[key] <= 0:
            del _HELD[key]
            _WRITERS.pop(key, None)


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise LedgerError(f"Cannot read the local database {path}: {exc.strerror}.") from exc
    if head != SQLITE_HEADER:
        raise LedgerCorrupt(
            f"{path} is not a SQLite database (damaged, or another kind of file). It was left "
            "untouched: restore it from a backup, or move it aside and re-sync from the central "
            "store."
        )


@contextmanager
def read_snapshot(path: Path) -> Iterator[Transaction]:
    """A read-only view of the ledger file at ``path``, on a connection of its own.

    The file is opened read-only (nothing is created, migrated or written), in a stable
    snapshot, closed on exit: :meth:`Ledger.snapshot`, and the worklist's helper process,
    which has no :class:`Ledger` of its own.

    Raises:
        LedgerCorrupt: the file turned out damaged.
        LedgerError: it could not be read (e.g. it is missing).
    """
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        try:
            conn.execute("BEGIN")
            yield Transaction(conn)
            conn.execute("COMMIT")
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise translate(exc, path) from exc
