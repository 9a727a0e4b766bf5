"""The local ledger: one SQLite file per terminal, one transaction per action.

Opening checks that the file is a putback ledger (never overwriting anything else), then applies
pending migrations. Every action goes through :meth:`Ledger.write`, which holds one
``BEGIN IMMEDIATE`` transaction: reads made through it see a stable state, and the entry and
every projection it changes commit together (WAL, ``synchronous=FULL``), durable on return.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import TypeAdapter
from sqlite_utils import Database

from putback_tui import files
from putback_tui.domain.entries import Entry, EntryDetails, EntryDraft, EntryKind, new_entry_id
from putback_tui.domain.models import (
    LineChange,
    Location,
    LocationKind,
    Operator,
    Order,
    OrderLine,
    OrderStatus,
    Permission,
    Product,
    StockChange,
    iso_utc,
    now_utc,
)
from putback_tui.domain.reasons import SiteReasons
from putback_tui.ledger.schema import APPLICATION_ID, migrations

CENTRAL_ROLES = "central.roles"
CENTRAL_REASONS = "central.reasons"
"""``meta`` key of the central store's reason lists, as last received (JSON)."""
"""Meta key: the central store's role map (JSON: role -> permission names), once received."""

if TYPE_CHECKING:
    from putback_tui.ledger.sync import RefusedEntry

SQLITE_HEADER = b"SQLite format 3\x00"

T = TypeVar("T")


class LedgerError(Exception):
    """The local database cannot be used; the message says why and what to do."""


class LedgerLocked(LedgerError):
    """Another process holds the write lock for longer than the busy timeout."""


class LedgerFull(LedgerError):
    """The disk holding the ledger is full (or the file hit its size limit); nothing was saved."""


class LedgerCorrupt(LedgerError):
    """The file is damaged or is not a putback ledger. It is never overwritten."""


def _parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class Reconciled:
    """Who reconciled an order, where and when."""

    __slots__ = ("at", "operator", "terminal")

    def __init__(self, at: datetime, operator: str, terminal: str) -> None:
        self.at = at
        self.operator = operator
        self.terminal = terminal


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
        existed = path.exists() and path.stat().st_size > 0
        if existed:
            _check_header(path)
        elif not create:
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
        self._conn = conn
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
            conn.close()
            raise _translate(exc, path) from exc
        except LedgerError:
            conn.close()
            raise

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite)."""
        with self._lock:
            self._conn.close()

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

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """One write transaction (``BEGIN IMMEDIATE``): commit on exit, roll back on error.

        Raises:
            LedgerLocked: another process holds the write lock beyond the busy timeout.
            LedgerCorrupt: the file turned out damaged.
        """
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise _translate(exc, self.path) from exc
            try:
                yield Transaction(self._conn)
            except sqlite3.IntegrityError:
                # A schema rule (append-only entries, one undo per entry): the caller's bug or
                # race, reported as it is.
                self._rollback()
                raise
            except sqlite3.DatabaseError as exc:
                # Disk full, I/O error, damage found mid-action: SQLite may already have rolled
                # the transaction back, so a plain ROLLBACK would fail and hide the reason.
                self._rollback()
                raise _translate(exc, self.path) from exc
            except BaseException:
                self._rollback()
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self._rollback()
                raise _translate(exc, self.path) from exc

    def _rollback(self) -> None:
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
                    yield Transaction(self._conn)
                finally:
                    self._conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                raise _translate(exc, self.path) from exc

    # -- meta --------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A value of the meta table, or None."""
        with self.read() as tx:
            return tx.get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the meta table (its own transaction)."""
        with self.write() as tx:
            tx.set_meta(key, value)

    def central_roles(self) -> dict[str, frozenset[Permission]] | None:
        """The central store's role -> permissions map, as last received; None: none yet."""
        raw = self.get_meta(CENTRAL_ROLES)
        if raw is None:
            return None
        known = {p.value for p in Permission}
        return {
            role: frozenset(Permission(p) for p in perms if p in known)
            for role, perms in json.loads(raw).items()
        }

    def central_reasons(self) -> SiteReasons | None:
        """The central store's reason lists, as last received; None: none yet."""
        raw = self.get_meta(CENTRAL_REASONS)
        return None if raw is None else SiteReasons.model_validate_json(raw)

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
        from putback_tui.ledger import sync

        with self.read() as tx:
            return sync.rebuilt_stock(tx)

    def refused_entries(self) -> list[RefusedEntry]:
        """Entries the central store refused, oldest first, each with its reason.

        They are kept here, never dropped, for a supervisor to see.
        """
        from putback_tui.ledger import sync

        with self.read() as tx:
            return sync.refused_entries(tx)


class Transaction:
    """Reads and writes inside one open transaction. Implements the domain's StockView."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    # -- StockView ---------------------------------------------------------------------------

    def qoh(self, sku: str, location: str) -> int:
        """QOH of (sku, location); 0 when there is no row."""
        row = self.conn.execute(
            "SELECT qoh FROM stock_qoh WHERE sku = ? AND location = ?", (sku, location)
        ).fetchone()
        return int(row[0]) if row else 0

    def atp(self, sku: str) -> int:
        """ATP of the SKU; 0 when there is no row."""
        row = self.conn.execute("SELECT atp FROM stock_atp WHERE sku = ?", (sku,)).fetchone()
        return int(row[0]) if row else 0

    def qoh_by_location(self, sku: str) -> dict[str, int]:
        """Every location holding the SKU, with its QOH."""
        return {
            loc: qoh
            for loc, qoh in self.conn.execute(
                "SELECT location, qoh FROM stock_qoh WHERE sku = ? ORDER BY location", (sku,)
            )
        }

    def stock_rows(
        self, sku: str | None = None
    ) -> tuple[list[tuple[str, str, int]], list[tuple[str, int]]]:
        """QOH rows and ATP rows, for one SKU or every SKU (sorted)."""
        where, args = ("WHERE sku = ?", (sku,)) if sku else ("", ())
        qoh = [
            (r[0], r[1], r[2])
            for r in self.conn.execute(
                f"SELECT sku, location, qoh FROM stock_qoh {where} ORDER BY sku, location", args
            )
        ]
        atp = [
            (r[0], r[1])
            for r in self.conn.execute(f"SELECT sku, atp FROM stock_atp {where} ORDER BY sku", args)
        ]
        return qoh, atp

    # -- meta --------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A value of the meta table, or None."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the meta table."""
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- reference data ----------------------------------------------------------------------

    def product(self, sku: str) -> Product | None:
        """The product with this SKU, or None."""
        row = self.conn.execute(
            "SELECT sku, description, lot_tracked, home_location FROM products WHERE sku = ?",
            (sku,),
        ).fetchone()
        if row is None:
            return None
        gtins = tuple(
            r[0]
            for r in self.conn.execute(
                "SELECT code FROM barcodes WHERE sku = ? ORDER BY code", (sku,)
            )
        )
        return Product(
            sku=row[0],
            description=row[1],
            lot_tracked=bool(row[2]),
            home_location=row[3],
            gtins=gtins,
        )

    def product_by_barcode(self, code: str) -> Product | None:
        """The product a (normalised) barcode belongs to, or None."""
        row = self.conn.execute("SELECT sku FROM barcodes WHERE code = ?", (code,)).fetchone()
        return self.product(row[0]) if row else None

    def location(self, code: str) -> Location | None:
        """The location with this code, or None."""
        row = self.conn.execute(
            "SELECT code, facility, kind, barcode FROM locations WHERE code = ?", (code,)
        ).fetchone()
        if row is None:
            return None
        return Location(code=row[0], facility=row[1], kind=LocationKind(row[2]), barcode=row[3])

    def exception_locations(self, facility: str) -> list[str]:
        """Codes of the facility's exception locations, sorted."""
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT code FROM locations WHERE facility = ? AND kind = ? ORDER BY code",
                (facility, LocationKind.EXCEPTION.value),
            )
        ]

    def exception_stock(self, facility: str) -> list[tuple[str, str, int, datetime | None]]:
        """What sits in the facility's exception locations: (location, sku, qoh, since).

        ``since`` is when units last arrived in an empty location; oldest first.
        """
        return [
            (r[0], r[1], r[2], _parse_ts(r[3]))
            for r in self.conn.execute(
                "SELECT q.location, q.sku, q.qoh, q.since FROM locations l "
                "JOIN stock_qoh q ON q.location = l.code "
                "WHERE l.facility = ? AND l.kind = ? AND q.qoh > 0 ORDER BY q.since, q.location",
                (facility, LocationKind.EXCEPTION.value),
            )
        ]

    def operator(self, badge: str) -> Operator | None:
        """The operator with this badge, or None."""
        row = self.conn.execute(
            "SELECT badge, name, role, facility, active FROM operators WHERE badge = ?", (badge,)
        ).fetchone()
        if row is None:
            return None
        return Operator(
            badge=row[0], name=row[1], role=row[2], facility=row[3], active=bool(row[4])
        )

    def order(self, order_id: str) -> Order | None:
        """The order, its effective status (a local action wins) and its lines' progress."""
        row = self.conn.execute(
            "SELECT o.order_id, o.facility, COALESCE(s.local_status, o.status), o.has_label, "
            "o.status_changed_at FROM orders o LEFT JOIN order_state s USING (order_id) "
            "WHERE o.order_id = ?",
            (order_id,),
        ).fetchone()
        if row is None:
            return None
        lines = tuple(
            OrderLine.from_row(r)
            for r in self.conn.execute(
                "SELECT l.line_no, l.sku, l.quantity, l.picked, l.pick_location, l.lot, "
                "COALESCE(p.released, 0), COALESCE(p.rejected, 0), COALESCE(p.put_back, 0), "
                "COALESCE(p.withdrawn, 0) "
                "FROM order_lines l LEFT JOIN line_progress p USING (order_id, line_no) "
                "WHERE l.order_id = ? ORDER BY l.line_no",
                (order_id,),
            )
        )
        return Order(
            order_id=row[0],
            facility=row[1],
            status=OrderStatus(row[2]),
            has_label=bool(row[3]),
            status_changed_at=_parse_ts(row[4]),
            lines=lines,
        )

    def reconciled(self, order_id: str) -> Reconciled | None:
        """Who reconciled the order, where and when; None while it is not reconciled."""
        row = self.conn.execute(
            "SELECT reconciled_at, reconciled_by, reconciled_terminal FROM order_state "
            "WHERE order_id = ? AND reconciled_at IS NOT NULL",
            (order_id,),
        ).fetchone()
        if row is None:
            return None
        at = _parse_ts(row[0])
        assert at is not None
        return Reconciled(at=at, operator=row[1], terminal=row[2])

    def order_ids(self, facility: str, statuses: Iterable[OrderStatus]) -> list[str]:
        """Orders of the facility whose effective status is one of ``statuses``."""
        wanted = [s.value for s in statuses]
        marks = ",".join("?" * len(wanted))
        return [
            r[0]
            for r in self.conn.execute(
                "SELECT o.order_id FROM orders o LEFT JOIN order_state s USING (order_id) "
                f"WHERE o.facility = ? AND COALESCE(s.local_status, o.status) IN ({marks}) "
                "ORDER BY o.order_id",
                (facility, *wanted),
            )
        ]

    # -- entries -----------------------------------------------------------------------------

    def entries(self, *, after_seq: int = 0, limit: int | None = None) -> Iterator[Entry]:
        """Entries in sequence order after ``after_seq``."""
        # SQLite writes each row as JSON and pydantic-core parses a thousand at a time: about
        # five times faster than building the models field by field (sync reads every entry).
        sql = f"SELECT {_ENTRY_JSON} FROM entries WHERE seq > ? ORDER BY seq"
        args: tuple[Any, ...] = (after_seq,)
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        cursor = self.conn.execute(sql, args)
        while rows := cursor.fetchmany(1000):
            yield from _ENTRY_LIST.validate_json("[" + ",".join(r[0] for r in rows) + "]")

    def entry(self, entry_id: str) -> Entry | None:
        """The entry with this ID, or None."""
        row = self.conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE entry_id = ?", (entry_id,)
        ).fetchone()
        return _entry_from_row(row) if row else None

    def is_undone(self, entry_id: str) -> bool:
        """True when an undo entry compensates this entry."""
        return (
            self.conn.execute("SELECT 1 FROM entries WHERE undoes = ?", (entry_id,)).fetchone()
            is not None
        )

    def resolution_of(self, entry_id: str) -> Entry | None:
        """The resolve entry that answers the refused entry ``entry_id``, or None."""
        row = self.conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE kind = ? "
            "AND json_extract(details, '$.resolves') = ? ORDER BY seq LIMIT 1",
            (EntryKind.RESOLVE.value, entry_id),
        ).fetchone()
        return _entry_from_row(row) if row else None

    def last_undoable(self, order_id: str, kinds: Iterable[EntryKind]) -> Entry | None:
        """The newest entry of the order of one of ``kinds`` that no undo compensates yet."""
        wanted = [k.value for k in kinds]
        marks = ",".join("?" * len(wanted))
        row = self.conn.execute(
            f"SELECT {_ENTRY_COLUMNS} FROM entries e WHERE order_id = ? AND kind IN ({marks}) "
            "AND NOT EXISTS (SELECT 1 FROM entries u WHERE u.undoes = e.entry_id) "
            "ORDER BY seq DESC LIMIT 1",
            (order_id, *wanted),
        ).fetchone()
        return _entry_from_row(row) if row else None

    def append(
        self,
        draft: EntryDraft,
        *,
        terminal: str,
        facility: str,
        operator: str,
        at: datetime | None = None,
    ) -> Entry:
        """Record ``draft`` as the next entry and apply it to every projection.

        Must run inside :meth:`Ledger.write`; the caller's transaction makes it atomic.

        Returns:
            The recorded entry.
        """
        created = at or now_utc()
        entry_id = new_entry_id()
        cur = self.conn.execute(
            "INSERT INTO entries (entry_id, created_at, terminal, facility, operator, kind, "
            "order_id, details, changes, line_changes, undoes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry_id,
                iso_utc(created),
                terminal,
                facility,
                operator,
                draft.kind.value,
                draft.order_id,
                draft.details.model_dump_json(exclude_defaults=True),
                _dump_list(draft.changes),
                _dump_list(draft.line_changes),
                draft.details.undoes,
            ),
        )
        seq = int(cur.lastrowid or 0)
        self._apply_stock(draft.changes, created)
        self._apply_lines(draft.line_changes)
        if draft.details.order_status is not None and draft.order_id is not None:
            self.conn.execute(
                "INSERT INTO order_state (order_id, local_status) VALUES (?, ?) "
                "ON CONFLICT (order_id) DO UPDATE SET local_status = excluded.local_status",
                (draft.order_id, draft.details.order_status.value),
            )
        if draft.line_changes and draft.order_id is not None:
            self._update_reconciled(draft.order_id, created, operator, terminal)
        return Entry(
            **draft.model_dump(),
            entry_id=entry_id,
            seq=seq,
            terminal=terminal,
            facility=facility,
            operator=operator,
            created_at=created,
        )

    def adopt(self, entry: Entry) -> None:
        """Insert an entry this terminal made and lost (restored from an older backup), as it was.

        Only the entry row and the order status it set: the caller recomputes the projections
        (see :func:`putback_tui.ledger.sync.adopt_own`).
        """
        self.conn.execute(
            "INSERT INTO entries (seq, entry_id, created_at, terminal, facility, operator, kind, "
            "order_id, details, changes, line_changes, undoes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.seq,
                entry.entry_id,
                iso_utc(entry.created_at),
                entry.terminal,
                entry.facility,
                entry.operator,
                entry.kind.value,
                entry.order_id,
                entry.details.model_dump_json(exclude_defaults=True),
                _dump_list(entry.changes),
                _dump_list(entry.line_changes),
                entry.details.undoes,
            ),
        )
        if entry.details.order_status is not None and entry.order_id is not None:
            self.conn.execute(
                "INSERT INTO order_state (order_id, local_status) VALUES (?, ?) "
                "ON CONFLICT (order_id) DO UPDATE SET local_status = excluded.local_status",
                (entry.order_id, entry.details.order_status.value),
            )

    def last_seq(self) -> int:
        """The highest sequence number in the ledger (0 when empty)."""
        row = self.conn.execute("SELECT max(seq) FROM entries").fetchone()
        return int(row[0] or 0)

    def _apply_stock(self, changes: Iterable[StockChange], at: datetime) -> None:
        # UPDATE first: an INSERT candidate row with a negative delta would fail the CHECK
        # before ON CONFLICT is considered. "since" marks when units last arrived in an empty
        # location (exception-area ageing).
        for change in changes:
            if change.location is not None:
                cur = self.conn.execute(
                    "UPDATE stock_qoh SET qoh = qoh + ?, "
                    "since = CASE WHEN qoh = 0 THEN ? ELSE since END "
                    "WHERE sku = ? AND location = ?",
                    (change.qoh, iso_utc(at), change.sku, change.location),
                )
                if cur.rowcount == 0:
                    self.conn.execute(
                        "INSERT INTO stock_qoh (sku, location, qoh, since) VALUES (?, ?, ?, ?)",
                        (change.sku, change.location, change.qoh, iso_utc(at)),
                    )
            if change.atp:
                cur = self.conn.execute(
                    "UPDATE stock_atp SET atp = atp + ? WHERE sku = ?", (change.atp, change.sku)
                )
                if cur.rowcount == 0:
                    self.conn.execute(
                        "INSERT INTO stock_atp (sku, atp) VALUES (?, ?)", (change.sku, change.atp)
                    )

    def _apply_lines(self, changes: Iterable[LineChange]) -> None:
        for c in changes:
            cur = self.conn.execute(
                "UPDATE line_progress SET released = released + ?, rejected = rejected + ?, "
                "put_back = put_back + ?, withdrawn = withdrawn + ? "
                "WHERE order_id = ? AND line_no = ?",
                (c.released, c.rejected, c.put_back, c.withdrawn, c.order_id, c.line_no),
            )
            if cur.rowcount == 0:
                self.conn.execute(
                    "INSERT INTO line_progress (order_id, line_no, released, rejected, put_back, "
                    "withdrawn) VALUES (?, ?, ?, ?, ?, ?)",
                    (c.order_id, c.line_no, c.released, c.rejected, c.put_back, c.withdrawn),
                )

    def _update_reconciled(self, order_id: str, at: datetime, operator: str, terminal: str) -> None:
        order = self.order(order_id)
        if order is None:
            return
        done = order.cleared
        if done:
            self.conn.execute(
                "INSERT INTO order_state (order_id, reconciled_at, reconciled_by, "
                "reconciled_terminal) VALUES (?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET "
                "reconciled_at = excluded.reconciled_at, reconciled_by = excluded.reconciled_by, "
                "reconciled_terminal = excluded.reconciled_terminal",
                (order_id, iso_utc(at), operator, terminal),
            )
        else:
            self.conn.execute(
                "UPDATE order_state SET reconciled_at = NULL, reconciled_by = NULL, "
                "reconciled_terminal = NULL WHERE order_id = ?",
                (order_id,),
            )

    # -- loading reference data --------------------------------------------------------------

    def upsert_products(self, products: Iterable[Product]) -> int:
        """Insert or replace products and their barcodes. Returns how many."""
        n = 0
        for chunk in _chunks(products, 5000):
            self.conn.executemany(
                "INSERT INTO products (sku, description, lot_tracked, home_location) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (sku) DO UPDATE SET "
                "description = excluded.description, lot_tracked = excluded.lot_tracked, "
                "home_location = excluded.home_location",
                [(p.sku, p.description, int(p.lot_tracked), p.home_location) for p in chunk],
            )
            self.conn.executemany("DELETE FROM barcodes WHERE sku = ?", [(p.sku,) for p in chunk])
            self.conn.executemany(
                "INSERT OR REPLACE INTO barcodes (code, sku) VALUES (?, ?)",
                [(g, p.sku) for p in chunk for g in p.gtins],
            )
            n += len(chunk)
        return n

    def upsert_locations(self, locations: Iterable[Location]) -> int:
        """Insert or replace locations. Returns how many."""
        rows = [(loc.code, loc.facility, loc.kind.value, loc.barcode) for loc in locations]
        self.conn.executemany(
            "INSERT OR REPLACE INTO locations (code, facility, kind, barcode) VALUES (?, ?, ?, ?)",
            rows,
        )
        return len(rows)

    def upsert_operators(self, operators: Iterable[Operator]) -> int:
        """Insert or replace operators. Returns how many."""
        rows = [(o.badge, o.name, o.role, o.facility, int(o.active)) for o in operators]
        self.conn.executemany(
            "INSERT OR REPLACE INTO operators (badge, name, role, facility, active) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        return len(rows)

    def upsert_orders(self, orders: Iterable[Order]) -> int:
        """Insert or replace orders with their lines (central facts only). Returns how many."""
        n = 0
        for chunk in _chunks(orders, 5000):
            self.conn.executemany(
                "INSERT OR REPLACE INTO orders (order_id, facility, status, has_label, "
                "status_changed_at) VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        o.order_id,
                        o.facility,
                        o.status.value,
                        int(o.has_label),
                        iso_utc(o.status_changed_at) if o.status_changed_at else None,
                    )
                    for o in chunk
                ],
            )
            self.conn.executemany(
                "DELETE FROM order_lines WHERE order_id = ?", [(o.order_id,) for o in chunk]
            )
            self.conn.executemany(
                "INSERT INTO order_lines (order_id, line_no, sku, quantity, picked, "
                "pick_location, lot) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (o.order_id, x.line_no, x.sku, x.quantity, x.picked, x.pick_location, x.lot)
                    for o in chunk
                    for x in o.lines
                ],
            )
            n += len(chunk)
        return n

    def set_baseline(
        self, qoh: Iterable[tuple[str, str, int]], atp: Iterable[tuple[str, int]]
    ) -> None:
        """Load stock as the central store knows it, and reset the projections to it.

        Only for a ledger with no entries yet (``putback init``).

        Raises:
            LedgerError: the ledger already has entries.
        """
        if self.conn.execute("SELECT 1 FROM entries LIMIT 1").fetchone():
            raise LedgerError("This ledger already has entries: its stock cannot be reloaded.")
        for table in ("baseline_qoh", "baseline_atp", "stock_qoh", "stock_atp"):
            self.conn.execute(f"DELETE FROM {table}")
        qoh_rows = list(qoh)
        atp_rows = list(atp)
        self.conn.executemany("INSERT INTO baseline_qoh VALUES (?, ?, ?)", qoh_rows)
        self.conn.executemany("INSERT INTO baseline_atp VALUES (?, ?)", atp_rows)
        self.conn.execute(
            "INSERT INTO stock_qoh (sku, location, qoh) SELECT sku, location, qoh FROM baseline_qoh"
        )
        self.conn.execute("INSERT INTO stock_atp SELECT sku, atp FROM baseline_atp")


_ENTRY_COLUMNS = (
    "seq, entry_id, created_at, terminal, facility, operator, kind, order_id, details, "
    "changes, line_changes"
)


_ENTRY_JSON = (
    "json_object('seq', seq, 'entry_id', entry_id, 'created_at', created_at, "
    "'terminal', terminal, 'facility', facility, 'operator', operator, 'kind', kind, "
    "'order_id', order_id, 'details', json(details), 'changes', json(changes), "
    "'line_changes', json(line_changes))"
)
"""One entry row as the JSON of an :class:`Entry` (the columns hold its parts as JSON)."""
_ENTRY_LIST = TypeAdapter(list[Entry])


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _dump_list(items: Iterable[StockChange] | Iterable[LineChange]) -> str:
    return json.dumps([i.model_dump(exclude_defaults=True) for i in items], separators=(",", ":"))


def _entry_from_row(row: tuple[Any, ...]) -> Entry:
    return Entry(
        seq=row[0],
        entry_id=row[1],
        created_at=datetime.fromisoformat(row[2]),
        terminal=row[3],
        facility=row[4],
        operator=row[5],
        kind=EntryKind(row[6]),
        order_id=row[7],
        details=EntryDetails.model_validate_json(row[8]),
        changes=tuple(StockChange(**c) for c in json.loads(row[9])),
        line_changes=tuple(LineChange(**c) for c in json.loads(row[10])),
    )


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


def _translate(exc: sqlite3.DatabaseError, path: Path) -> LedgerError:
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
