"""Reads and writes inside one open ledger transaction: the ledger's queries and projections.

:class:`Transaction` is what :meth:`Ledger.read` and :meth:`Ledger.write` hand out; every SQL
statement against the ledger's schema that the station, the reports and the doctor need is a
method here (or in :mod:`putback_tui.ledger.sync` for the sync bookkeeping).

Over 600 lines as one unit on purpose: it is the one place that knows the ledger's tables, so
that a change of schema is a change of this file (and its migration), never of its callers.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from putback_tui.domain.bounds import MAX_FIGURE
from putback_tui.domain.entries import Entry, EntryDraft, EntryKind, new_entry_id
from putback_tui.domain.models import (
    ORDER_LINE_FIELDS,
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
    apply_line_changes,
    constructed,
    iso_utc,
    now_utc,
    replaced,
)
from putback_tui.domain.reasons import SiteReasons
from putback_tui.ledger.cache import OrderFacts, ReadCache
from putback_tui.ledger.errors import LedgerError
from putback_tui.ledger.rows import (
    ENTRY_COLUMNS,
    ENTRY_JSON,
    ENTRY_LIST,
    KIND_INDEXED,
    chunks,
    dump_changes,
    dump_details,
    entry_from_row,
    parse_ts,
)

ORDER_JSON = (
    "SELECT json_object('order_id', o.order_id, 'facility', o.facility, "
    "'status', COALESCE(s.local_status, o.status), 'has_label', o.has_label, "
    "'status_changed_at', o.status_changed_at, 'lines', "
    "(SELECT json_group_array(json(x)) FROM (SELECT json_object("
    "'line_no', l.line_no, 'sku', l.sku, 'quantity', l.quantity, 'picked', l.picked, "
    "'pick_location', l.pick_location, 'lot', l.lot, "
    "'released', COALESCE(p.released, 0), 'rejected', COALESCE(p.rejected, 0), "
    "'put_back', COALESCE(p.put_back, 0), 'withdrawn', COALESCE(p.withdrawn, 0)) AS x "
    "FROM order_lines l LEFT JOIN line_progress p "
    "ON p.order_id = l.order_id AND p.line_no = l.line_no "
    "WHERE l.order_id = o.order_id ORDER BY l.line_no))), s.reconciled_at IS NULL, o.status "
    "FROM orders o LEFT JOIN order_state s ON s.order_id = o.order_id WHERE o.order_id = ?"
)
"""An order as :meth:`Transaction.order` returns it, as the JSON of an :class:`Order`: its
effective status (a local action wins) and each line with this terminal's progress; then
whether it has no "reconciled by" record (the same row of ``order_state``, read for free), and
the central store's own status."""

LINE_PROGRESS = (
    "SELECT line_no, released, rejected, put_back, withdrawn FROM line_progress "
    "WHERE order_id = ?"
)
"""This terminal's progress on each line of an order (lines with none have no row)."""
ORDER_STATE = "SELECT local_status, reconciled_at IS NULL FROM order_state WHERE order_id = ?"
"""An order's local status (a local action's) and whether it has no "reconciled by" record."""

CENTRAL_ROLES = "central.roles"
"""Meta key: the central store's role map (JSON: role -> permission names), once received."""
CENTRAL_REASONS = "central.reasons"
"""Meta key: the central store's reason lists, as last received (JSON)."""


_STATUSES = frozenset(s.value for s in OrderStatus)
_CHECKED_WHO: set[tuple[str, str, str]] = set()
"""(terminal, facility, operator) of entries :meth:`Transaction.append` validated whole: the
next entries of the same three are built without validating them again."""
_NO_PROGRESS = (0, 0, 0, 0)


class Reconciled:
    """Who reconciled an order, where and when."""

    __slots__ = ("at", "operator", "terminal")

    def __init__(self, at: datetime, operator: str, terminal: str) -> None:
        self.at = at
        self.operator = operator
        self.terminal = terminal


class Transaction:
    """Reads and writes inside one open transaction. Implements the domain's StockView."""

    def __init__(self, conn: sqlite3.Connection, cache: ReadCache | None = None) -> None:
        self.conn = conn
        self._cache = ReadCache() if cache is None else cache
        """Orders and reference data as last read (see :mod:`putback_tui.ledger.cache`): the
        connection's own, kept between transactions, or this transaction's alone."""
        self._checked = False
        """The cache was checked against ``PRAGMA data_version`` in this transaction."""
        self.committed: list[Callable[[], object]] | None = None
        """What to run once this transaction has committed (see :meth:`after_commit`)."""

    def after_commit(self, call: Callable[[], object]) -> None:
        """Run ``call`` once this write transaction has committed, out of it; never on rollback.

        For what must not happen for an action that did not: the log line of an entry, written
        after the commit and the ledger's lock (the ledger row is the durable record, the log
        line is not). Only :meth:`Ledger.write` runs them, in the order given. ``call`` must not
        raise (a log call does not): the action has committed by then.
        """
        if self.committed is None:
            self.committed = [call]
        else:
            self.committed.append(call)

    def _current(self) -> ReadCache:
        """The cache, with what may be stale dropped first (see :mod:`putback_tui.ledger.cache`).

        The first call in a transaction reads ``PRAGMA data_version`` (other connections'
        commits), and when it moved, ``reference_revision``; every call compares
        ``total_changes`` (this connection's own writes).
        """
        cache = self._cache
        changes = self.conn.total_changes
        if not self._checked:
            self._checked = True
            # Not one statement with the revision: pragma_data_version prepares the pragma
            # anew at every call (3 us more than the pragma itself, measured on its own).
            version = int(self.conn.execute("PRAGMA data_version").fetchone()[0])
            if changes != cache.clean_at:
                cache.reset(version, changes, self._reference_revision())
            elif version != cache.version:
                revision = self._reference_revision()
                if revision != cache.revision:
                    cache.reset(version, changes, revision)
                else:
                    cache.version = version
                    cache.suspect_all_orders()
        elif changes != cache.clean_at:
            cache.reset(cache.version, changes, self._reference_revision())
        return cache

    def _reference_revision(self) -> int:
        """The counter the reference tables' triggers move (ledger migration m006)."""
        return int(self.conn.execute("SELECT n FROM reference_revision").fetchone()[0])

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

    def central_roles(self) -> Mapping[str, frozenset[Permission]] | None:
        """The central store's role -> permissions map, as last received; None: none yet."""
        cache = self._current()
        if cache.has_roles:
            return cache.roles
        raw = self.get_meta(CENTRAL_ROLES)
        known = {p.value for p in Permission}
        cache.roles = roles = (
            None
            if raw is None
            else {
                role: frozenset(Permission(p) for p in perms if p in known)
                for role, perms in json.loads(raw).items()
            }
        )
        return roles

    def central_reasons(self) -> SiteReasons | None:
        """The central store's reason lists, as last received; None: none yet."""
        cache = self._current()
        if cache.has_reasons:
            return cache.reasons
        raw = self.get_meta(CENTRAL_REASONS)
        cache.reasons = reasons = None if raw is None else SiteReasons.model_validate_json(raw)
        return reasons

    # -- reference data ----------------------------------------------------------------------

    def product(self, sku: str) -> Product | None:
        """The product with this SKU, or None."""
        cache = self._current()
        if sku in cache.products:
            return cache.products[sku]
        product = self._read_product(sku)
        cache.keep_product(sku, product)
        return product

    def _read_product(self, sku: str) -> Product | None:
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
        cache = self._current()
        if code in cache.skus_by_barcode:
            sku = cache.skus_by_barcode[code]
        else:
            row = self.conn.execute("SELECT sku FROM barcodes WHERE code = ?", (code,)).fetchone()
            sku = row[0] if row else None
            cache.keep_barcode(code, sku)
        return self.product(sku) if sku is not None else None

    def location(self, code: str) -> Location | None:
        """The location with this code, or None."""
        cache = self._current()
        if code in cache.locations:
            return cache.locations[code]
        row = self.conn.execute(
            "SELECT code, facility, kind, barcode FROM locations WHERE code = ?", (code,)
        ).fetchone()
        # The kind as stored: validation makes it the enum (in pydantic-core, not Enum's call).
        location = (
            None
            if row is None
            else Location(code=row[0], facility=row[1], kind=row[2], barcode=row[3])
        )
        cache.keep_location(code, location)
        return location

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
            (r[0], r[1], r[2], parse_ts(r[3]))
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
        cache = self._current()
        order = cache.orders.get(order_id)
        if order is not None:
            return order
        facts = cache.order_facts.get(order_id)
        if facts is not None:
            order = self._with_progress(order_id, facts, cache.unverified.pop(order_id, None))
            if order is not None:
                cache.keep_order(order)
                return order
        # One statement, and one parse in pydantic-core: SQLite writes the order with its lines,
        # each line's progress and the local status as one JSON document (a third of the time
        # of building the models row by row).
        row = self.conn.execute(ORDER_JSON, (order_id,)).fetchone()
        if row is None:
            return None
        order = Order.model_validate_json(row[0])
        # What reconciled() would read: no statement of its own, and an entry's append need
        # not clear a record that is not there.
        cache.keep_unreconciled(order_id, bool(row[1]))
        numbers = [line.line_no for line in order.lines]
        if numbers != sorted(numbers):
            # SQLite aggregates the ordered subquery in its order; should it ever not, sort.
            order = replaced(order, lines=tuple(sorted(order.lines, key=lambda x: x.line_no)))
        if row[2] in _STATUSES:
            cache.keep_facts(order, row[2])
        cache.keep_order(order)
        return order

    def _with_progress(
        self, order_id: str, facts: OrderFacts, kept: Order | None = None
    ) -> Order | None:
        """The order from its kept central facts and its progress and local status read now.

        What :data:`ORDER_JSON` would give, read from the two tables an action writes (whose
        pages the put-back then writes anyway) instead of all four, and built without
        validating again: the facts are a validated order's values, and each figure and
        status read here is checked as validation would. None when one would not pass: then
        the order is read whole, as before, and fails as before.

        ``kept``: the order as kept before another connection's commit, built on the same
        facts; returned itself when the progress and status read now are the ones it holds
        (the usual case: the sync worker's commits record answers, not progress).
        """
        progress = {row[0]: row[1:] for row in self.conn.execute(LINE_PROGRESS, (order_id,))}
        state = self.conn.execute(ORDER_STATE, (order_id,)).fetchone()
        (facility, has_label, changed_at, central), line_facts = facts
        local = None if state is None else state[0]
        if kept is not None and _holds(kept, progress, central if local is None else local):
            self._cache.keep_unreconciled(order_id, state is None or bool(state[1]))
            return kept
        lines = []
        for values in line_facts:
            counters = progress.get(values[0], _NO_PROGRESS)
            if counters is not _NO_PROGRESS and not all(
                type(n) is int and 0 <= n <= MAX_FIGURE for n in counters
            ):
                return None
            values += counters
            lines.append(constructed(OrderLine, dict(zip(ORDER_LINE_FIELDS, values, strict=True))))
        if local is not None and local not in _STATUSES:
            return None
        self._cache.keep_unreconciled(order_id, state is None or bool(state[1]))
        return constructed(
            Order,
            {
                "order_id": order_id,
                "facility": facility,
                "status": OrderStatus(central if local is None else local),
                "lines": tuple(lines),
                "has_label": has_label,
                "status_changed_at": changed_at,
            },
        )

    def reconciled(self, order_id: str) -> Reconciled | None:
        """Who reconciled the order, where and when; None while it is not reconciled."""
        cache = self._current()
        if order_id in cache.unreconciled:
            return None
        row = self.conn.execute(
            "SELECT reconciled_at, reconciled_by, reconciled_terminal FROM order_state "
            "WHERE order_id = ? AND reconciled_at IS NOT NULL",
            (order_id,),
        ).fetchone()
        if row is None:
            cache.keep_unreconciled(order_id)
            return None
        at = parse_ts(row[0])
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

    # -- counts and reports ------------------------------------------------------------------

    def count_entries(self) -> int:
        """How many entries the ledger holds."""
        return int(self.conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])

    def count_orders(self, facility: str) -> int:
        """How many orders of the facility the cache holds."""
        row = self.conn.execute("SELECT COUNT(*) FROM orders WHERE facility = ?", (facility,))
        return int(row.fetchone()[0])

    def count_stock_rows(self) -> int:
        """How many (sku, location) QOH rows the projection holds."""
        return int(self.conn.execute("SELECT COUNT(*) FROM stock_qoh").fetchone()[0])

    def exception_orders(
        self, facility: str, statuses: Iterable[OrderStatus]
    ) -> list[tuple[str, str, datetime | None, datetime | None]]:
        """The facility's orders whose effective status is one of ``statuses``.

        Returns:
            (order ID, effective status, when it became an exception, when it was reconciled)
            per order. It became one at its first local cancel / force cancel / bulk reject
            entry, else at the central store's status change; None when neither is known.
        """
        wanted = [s.value for s in statuses]
        marks = ",".join("?" * len(wanted))
        rows = self.conn.execute(
            "SELECT o.order_id, COALESCE(s.local_status, o.status), "
            "COALESCE((SELECT min(created_at) FROM entries e WHERE e.order_id = o.order_id "
            "  AND e.kind IN ('cancel', 'force_cancel', 'bulk_reject')), o.status_changed_at), "
            "s.reconciled_at "
            "FROM orders o LEFT JOIN order_state s USING (order_id) "
            f"WHERE o.facility = ? AND COALESCE(s.local_status, o.status) IN ({marks})",
            (facility, *wanted),
        ).fetchall()
        return [(r[0], r[1], parse_ts(r[2]), parse_ts(r[3])) for r in rows]

    def standing_rejects(self, facility: str) -> list[tuple[datetime, dict[str, Any]]]:
        """The facility's reject entries no undo compensates: (when, details as stored)."""
        return [
            (datetime.fromisoformat(created_at), json.loads(details))
            for created_at, details in self.conn.execute(
                f"SELECT created_at, details FROM entries e WHERE kind = ? AND {KIND_INDEXED} "
                "AND facility = ? "
                "AND NOT EXISTS (SELECT 1 FROM entries u WHERE u.undoes = e.entry_id)",
                (EntryKind.REJECT.value, facility),
            )
        ]

    # -- entries -----------------------------------------------------------------------------

    def entries(self, *, after_seq: int = 0, limit: int | None = None) -> Iterator[Entry]:
        """Entries in sequence order after ``after_seq``."""
        # SQLite writes each row as JSON and pydantic-core parses a thousand at a time: about
        # five times faster than building the models field by field (sync reads every entry).
        sql = f"SELECT {ENTRY_JSON} FROM entries WHERE seq > ? ORDER BY seq"
        args: tuple[Any, ...] = (after_seq,)
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        cursor = self.conn.execute(sql, args)
        while rows := cursor.fetchmany(1000):
            yield from ENTRY_LIST.validate_json("[" + ",".join(r[0] for r in rows) + "]")

    def entry(self, entry_id: str) -> Entry | None:
        """The entry with this ID, or None."""
        row = self.conn.execute(
            f"SELECT {ENTRY_COLUMNS} FROM entries WHERE entry_id = ?", (entry_id,)
        ).fetchone()
        return entry_from_row(row) if row else None

    def is_undone(self, entry_id: str) -> bool:
        """True when an undo entry compensates this entry."""
        return (
            self.conn.execute("SELECT 1 FROM entries WHERE undoes = ?", (entry_id,)).fetchone()
            is not None
        )

    def resolution_of(self, entry_id: str) -> Entry | None:
        """The resolve entry that answers the refused entry ``entry_id``, or None."""
        row = self.conn.execute(
            f"SELECT {ENTRY_COLUMNS} FROM entries WHERE kind = ? AND {KIND_INDEXED} "
            "AND json_extract(details, '$.resolves') = ? ORDER BY seq LIMIT 1",
            (EntryKind.RESOLVE.value, entry_id),
        ).fetchone()
        return entry_from_row(row) if row else None

    def last_undoable(self, order_id: str, kinds: Iterable[EntryKind]) -> Entry | None:
        """The newest entry of the order of one of ``kinds`` that no undo compensates yet."""
        wanted = [k.value for k in kinds]
        marks = ",".join("?" * len(wanted))
        row = self.conn.execute(
            f"SELECT {ENTRY_COLUMNS} FROM entries e WHERE order_id = ? AND kind IN ({marks}) "
            "AND NOT EXISTS (SELECT 1 FROM entries u WHERE u.undoes = e.entry_id) "
            "ORDER BY seq DESC LIMIT 1",
            (order_id, *wanted),
        ).fetchone()
        return entry_from_row(row) if row else None

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
        created_iso = iso_utc(created)
        entry_id = new_entry_id()
        cache = self._current()
        before = cache.orders.get(draft.order_id) if draft.order_id is not None else None
        cur = self.conn.execute(
            "INSERT INTO entries (entry_id, created_at, terminal, facility, operator, kind, "
            "order_id, details, changes, line_changes, undoes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry_id,
                created_iso,
                terminal,
                facility,
                operator,
                str(draft.kind),  # a StrEnum's value, without Enum.value's Python property
                draft.order_id,
                dump_details(draft.details),
                dump_changes(draft.changes),
                dump_changes(draft.line_changes),
                draft.details.undoes,
            ),
        )
        seq = int(cur.lastrowid or 0)
        self._apply_stock(draft.changes, created_iso)
        self._apply_lines(draft.line_changes)
        if draft.details.order_status is not None and draft.order_id is not None:
            self.conn.execute(
                "INSERT INTO order_state (order_id, local_status) VALUES (?, ?) "
                "ON CONFLICT (order_id) DO UPDATE SET local_status = excluded.local_status",
                (draft.order_id, draft.details.order_status.value),
            )
        # What the entry wrote changed only its orders (and stock, which is never cached):
        # those are dropped, and the rest of the cache is still current.
        touched = {c.order_id for c in draft.line_changes}
        if draft.order_id is not None:
            touched.add(draft.order_id)
        cache.forget_orders(touched)
        cache.clean_at = self.conn.total_changes
        if draft.line_changes and draft.order_id is not None:
            after = _after(before, draft) if before is not None else None
            self._update_reconciled(draft.order_id, created_iso, operator, terminal, after)
        values = {
            "kind": draft.kind,
            "order_id": draft.order_id,
            "details": draft.details,
            "changes": draft.changes,
            "line_changes": draft.line_changes,
            "entry_id": entry_id,
            "seq": seq,
            "terminal": terminal,
            "facility": facility,
            "operator": operator,
            "created_at": created,
        }
        who = (terminal, facility, operator)
        if at is None and who in _CHECKED_WHO:
            # Nothing here a validation would refuse: the draft is a validated model, the ID
            # and the time are made here, the sequence number is SQLite's rowid, and who made
            # the entry passed validation before (a terminal, a facility, a badge: a handful a
            # process). Built as it is: a put-back's entry in a fifth of the time.
            return constructed(Entry, values)
        # The draft's parts as they are (validated models, which pydantic takes as they are),
        # not dumped to dicts and validated again.
        entry = Entry(**values)
        if len(_CHECKED_WHO) >= 64:
            _CHECKED_WHO.clear()
        _CHECKED_WHO.add(who)
        return entry

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
                dump_details(entry.details),
                dump_changes(entry.changes),
                dump_changes(entry.line_changes),
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

    def _apply_stock(self, changes: Iterable[StockChange], at: str) -> None:
        # UPDATE first: an INSERT candidate row with a negative delta would fail the CHECK
        # before ON CONFLICT is considered. "since" marks when units last arrived in an empty
        # location (exception-area ageing).
        for change in changes:
            if change.location is not None:
                cur = self.conn.execute(
                    "UPDATE stock_qoh SET qoh = qoh + ?, "
                    "since = CASE WHEN qoh = 0 THEN ? ELSE since END "
                    "WHERE sku = ? AND location = ?",
                    (change.qoh, at, change.sku, change.location),
                )
                if cur.rowcount == 0:
                    self.conn.execute(
                        "INSERT INTO stock_qoh (sku, location, qoh, since) VALUES (?, ?, ?, ?)",
                        (change.sku, change.location, change.qoh, at),
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
            if c.released >= 0 and c.rejected >= 0 and c.put_back >= 0 and c.withdrawn >= 0:
                # One statement whether the row is there or not. Only for additions: the
                # inserted row's CHECKs are tested before ON CONFLICT is, so a negative change
                # (an undo) takes the UPDATE below.
                self.conn.execute(
                    "INSERT INTO line_progress (order_id, line_no, released, rejected, put_back, "
                    "withdrawn) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (order_id, line_no) DO "
                    "UPDATE SET released = released + excluded.released, "
                    "rejected = rejected + excluded.rejected, "
                    "put_back = put_back + excluded.put_back, "
                    "withdrawn = withdrawn + excluded.withdrawn",
                    (c.order_id, c.line_no, c.released, c.rejected, c.put_back, c.withdrawn),
                )
                continue
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

    def _update_reconciled(
        self, order_id: str, at: str, operator: str, terminal: str, after: Order | None
    ) -> None:
        """Record who reconciled the order when it is cleared now; clear the record if not.

        ``after``: the order as the entry just left it, when known without reading it again.
        Called with the cache current (:meth:`append` brought it up to date); leaves it so.
        """
        order = after if after is not None else self.order(order_id)
        if order is None:
            return
        cache = self._cache
        if order.cleared:
            self.conn.execute(
                "INSERT INTO order_state (order_id, reconciled_at, reconciled_by, "
                "reconciled_terminal) VALUES (?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET "
                "reconciled_at = excluded.reconciled_at, reconciled_by = excluded.reconciled_by, "
                "reconciled_terminal = excluded.reconciled_terminal",
                (order_id, at, operator, terminal),
            )
            cache.keep_unreconciled(order_id, False)
        else:
            if order_id not in cache.unreconciled:
                # Only where a record is there to clear: rewriting a row with what it holds
                # still writes its page, one more page for the commit to make durable.
                self.conn.execute(
                    "UPDATE order_state SET reconciled_at = NULL, reconciled_by = NULL, "
                    "reconciled_terminal = NULL WHERE order_id = ? AND reconciled_at IS NOT NULL",
                    (order_id,),
                )
            cache.keep_unreconciled(order_id)
        cache.clean_at = self.conn.total_changes
        cache.keep_order(order)

    # -- loading reference data --------------------------------------------------------------

    def upsert_products(self, products: Iterable[Product]) -> int:
        """Insert or replace products and their barcodes. Returns how many."""
        n = 0
        for chunk in chunks(products, 5000):
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
        """Insert or update orders with their lines (central facts only). Returns how many.

        Only rows whose facts differ are written: a pull brings back orders whose progress
        moved and whose facts did not, and each row written moves the reference revision (the
        station's read cache then reads every order's facts again).
        """
        n = 0
        for chunk in chunks(orders, 5000):
            self.conn.executemany(
                "INSERT INTO orders (order_id, facility, status, has_label, status_changed_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET "
                "facility = excluded.facility, status = excluded.status, "
                "has_label = excluded.has_label, status_changed_at = excluded.status_changed_at "
                "WHERE (facility, status, has_label, status_changed_at) IS NOT (excluded.facility, "
                "excluded.status, excluded.has_label, excluded.status_changed_at)",
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
                "DELETE FROM order_lines WHERE order_id = ? "
                "AND line_no NOT IN (SELECT value FROM json_each(?))",
                [(o.order_id, json.dumps([x.line_no for x in o.lines])) for o in chunk],
            )
            self.conn.executemany(
                "INSERT INTO order_lines (order_id, line_no, sku, quantity, picked, "
                "pick_location, lot) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (order_id, line_no) DO UPDATE SET sku = excluded.sku, "
                "quantity = excluded.quantity, picked = excluded.picked, "
                "pick_location = excluded.pick_location, lot = excluded.lot "
                "WHERE (sku, quantity, picked, pick_location, lot) IS NOT (excluded.sku, "
                "excluded.quantity, excluded.picked, excluded.pick_location, excluded.lot)",
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


def _holds(order: Order, progress: Mapping[int, tuple[Any, ...]], status: str) -> bool:
    """True when ``order`` has this effective status and each line this progress.

    ``progress``: each line's counters as read (lines with none have no row).
    """
    if order.status != status:
        return False
    for line in order.lines:
        counters = progress.get(line.line_no, _NO_PROGRESS)
        if (
            line.released != counters[0]
            or line.rejected != counters[1]
            or line.put_back != counters[2]
            or line.withdrawn != counters[3]
        ):
            return False
    return True


def _after(before: Order, draft: EntryDraft) -> Order | None:
    """The order as :meth:`Transaction.order` would read it after ``draft`` was appended.

    Its lines' progress plus the draft's line changes, and the local status the draft set (a
    local status wins over the central one). None when a change names a line the order does
    not have: then the order is read again.
    """
    own = [c for c in draft.line_changes if c.order_id == before.order_id]
    try:
        after = apply_line_changes(before, own)
    except KeyError:
        return None
    status = draft.details.order_status
    return after if status is None else replaced(after, status=status)
