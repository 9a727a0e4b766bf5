"""Sync bookkeeping in the local ledger: what the central store answered, and pulled changes.

The sync worker writes only here (and the reference-data cache), each call inside one short
transaction of its own ledger connection; ``entries`` is never touched.

How stock stays "baseline + local entries" once the central store's stock is pulled:

* ``baseline_qoh`` / ``baseline_atp`` / ``baseline_progress`` hold the central store's figures
  as last pulled, and ``meta['sync.baseline_seq']`` the highest of this terminal's sequence
  numbers that those figures already include (the central store says so with every page, read
  in the same snapshot).
* The projections are the baseline plus every local entry with ``seq > baseline_seq``, applied
  in order and stopping at zero: the entries the central store has not answered yet, or whose
  answer the pulled figures do not reflect yet. A refused entry drops out of the projections
  once a pull includes its answer: the central store's figures are the truth.
* A pull round is staged page by page and applied in one transaction once it is complete, and
  the projections are recomputed in that same transaction, so the screens never see half a
  snapshot. Before the first pull ``baseline_seq`` is 0 and this is exactly the old rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec

from putback_tui.domain.derive import apply_stock_changes
from putback_tui.domain.entries import Entry
from putback_tui.domain.models import (
    LINE_COUNTERS,
    Location,
    Operator,
    Order,
    Product,
    StockChange,
    now_utc,
)
from putback_tui.domain.reasons import SiteReasons
from putback_tui.ledger.errors import LedgerError
from putback_tui.ledger.releases import orders_to_release, release_known
from putback_tui.ledger.rows import ENTRY_JSON, entry_columns, entry_from_row
from putback_tui.ledger.transaction import CENTRAL_REASONS, CENTRAL_ROLES, Transaction

ACKED_THROUGH = "sync.acked_through"
BASELINE_SEQ = "sync.baseline_seq"
PULL_CURSOR = "sync.pull_cursor"
PULL_FULL = "sync.pull_full"
LAST_SUCCESS = "sync.last_success"
FAILURE = "sync.failure"


class Answer(NamedTuple):
    """The central store's final answer for one entry (a tuple: a batch makes a thousand)."""

    seq: int
    entry_id: str
    refused: bool
    reason: str | None = None


@dataclass(frozen=True)
class RefusedEntry:
    """An entry the central store refused: kept here, shown to a supervisor."""

    entry: Entry
    reason: str
    answered_at: datetime


@dataclass(frozen=True)
class SyncFailure:
    """A sync step that failed at the same place in every round since ``since``.

    ``push``: the batch starting at entry ``subject`` was answered with a server error (the
    central store could not apply it); ``pull``: a page of the changes feed held a value out of
    bounds (``subject`` its cursor) and was refused.
    """

    kind: str
    subject: str
    rounds: int
    error: str
    since: datetime

    def shows(self, rounds_allowed: int) -> bool:
        """True when this is a failure to show, not a passing hitch.

        A refused page shows at once; a failing batch once it failed in more than
        ``rounds_allowed`` rounds in a row (a central store restarting fails a round or two).
        """
        return self.kind == "pull" or self.rounds > rounds_allowed

    def describe(self) -> str:
        """The failure in one sentence, naming the entry (or the page)."""
        if self.kind == "push":
            return (f"entry {self.subject} failed to apply at the central store in "
                    f"{self.rounds} rounds in a row: {self.error}")
        return f"refused a changes page ({self.error})"


@dataclass(frozen=True)
class SyncCounts:
    """What the status bar shows, read in one snapshot."""

    waiting: int
    """Entries not yet answered by the central store."""
    refused: int
    last_success: datetime | None
    failure: SyncFailure | None = None
    """A sync step failing at the same place round after round, if any."""


def _meta_int(tx: Transaction, key: str) -> int:
    value = tx.get_meta(key)
    return int(value) if value else 0


def acked_through(tx: Transaction) -> int:
    """The highest seq such that every entry up to it has a final answer."""
    return _meta_int(tx, ACKED_THROUGH)


def unsent(tx: Transaction, limit: int) -> list[Entry]:
    """The oldest entries without a final answer, in sequence order, at most ``limit``."""
    return list(tx.entries(after_seq=acked_through(tx), limit=limit))


@dataclass(frozen=True)
class Outgoing:
    """Entries to send, as the ledger holds them: each one's JSON, read straight from SQLite.

    The sync worker sends these without building :class:`Entry` models and serialising them
    again (the central store validates every entry anyway): that was most of a terminal's
    work per entry while draining a backlog.
    """

    seqs: tuple[int, ...]
    entry_ids: tuple[str, ...]
    entries_json: tuple[str, ...]
    """Each entry as the JSON of an :class:`Entry`, in sequence order."""


def outgoing(tx: Transaction, after_seq: int, limit: int) -> Outgoing:
    """At most ``limit`` entries after ``after_seq``, in sequence order, as JSON."""
    rows = tx.conn.execute(
        f"SELECT seq, entry_id, {ENTRY_JSON} FROM entries WHERE seq > ? ORDER BY seq LIMIT ?",
        (after_seq, limit),
    ).fetchall()
    if not rows:
        return Outgoing((), (), ())
    seqs, entry_ids, entries_json = zip(*rows, strict=True)
    return Outgoing(seqs, entry_ids, entries_json)


def unsent_json(tx: Transaction, limit: int) -> Outgoing:
    """The oldest entries without a final answer, as JSON, at most ``limit``."""
    return outgoing(tx, acked_through(tx), limit)


def record_answers(tx: Transaction, answers: Sequence[Answer], at: datetime | None = None) -> None:
    """Record final answers (in sequence order, from the oldest unanswered entry on).

    A duplicate answer for an entry already answered is ignored: resending is safe.
    """
    # One statement for the whole batch: SQLite reads the answers from one JSON array (a
    # third less than a statement run per answer).
    tx.conn.execute(
        "INSERT OR IGNORE INTO sync_answers (seq, entry_id, outcome, reason, answered_at) "
        "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
        "json_extract(value, '$[2]'), json_extract(value, '$[3]'), ? FROM json_each(?)",
        (
            _answered_at(at),
            json.dumps(
                [
                    (a.seq, a.entry_id, "refused" if a.refused else "applied", a.reason)
                    for a in answers
                ]
            ),
        ),
    )
    _advance(tx, [a.seq for a in answers])


def record_applied(tx: Transaction, seqs: Sequence[int], at: datetime | None = None) -> None:
    """:func:`record_answers` for a batch whose every entry was applied.

    The same rows, written by one statement from the ledger's own entries, with nothing built
    per entry in Python.

    Args:
        tx: the sync worker's write transaction.
        seqs: the batch's sequence numbers as :func:`outgoing` read them: every entry from the
            first to the last, in order (entries are append-only, so no other entry can appear
            between them later).
        at: when the answers arrived (now by default).
    """
    if not seqs:
        return
    tx.conn.execute(
        "INSERT OR IGNORE INTO sync_answers (seq, entry_id, outcome, reason, answered_at) "
        "SELECT seq, entry_id, 'applied', NULL, ? FROM entries WHERE seq BETWEEN ? AND ?",
        (_answered_at(at), seqs[0], seqs[-1]),
    )
    _advance(tx, seqs)


def _answered_at(at: datetime | None) -> str:
    return (at or now_utc()).isoformat(timespec="microseconds")


def _advance(tx: Transaction, seqs: Iterable[int]) -> None:
    """Move ``sync.acked_through`` over the answered ``seqs`` that follow it without a gap."""
    through = acked_through(tx)
    for seq in seqs:
        if seq == through + 1:
            through = seq
    tx.set_meta(ACKED_THROUGH, str(through))


def counts(tx: Transaction) -> SyncCounts:
    """Entries waiting, entries refused, and the last successful sync."""
    # Entries are numbered 1, 2, 3... with no gap (each appended as the next rowid, one taken
    # back from the central store only as the next number, none ever deleted), so those after
    # acked_through number max(seq) minus it: read from the primary key's last page, where
    # counting them walked every waiting row (10 ms at 100,000 waiting, after every batch).
    waiting = tx.last_seq() - acked_through(tx)
    refused = tx.conn.execute(
        "SELECT COUNT(*) FROM sync_answers WHERE outcome = 'refused'"
    ).fetchone()[0]
    last = tx.get_meta(LAST_SUCCESS)
    return SyncCounts(
        waiting=int(waiting),
        refused=int(refused),
        last_success=datetime.fromisoformat(last) if last else None,
        failure=failure(tx),
    )


def failure(tx: Transaction) -> SyncFailure | None:
    """The sync step failing round after round at the same place, if any."""
    raw = tx.get_meta(FAILURE)
    if not raw:
        return None
    doc = json.loads(raw)
    return SyncFailure(
        kind=doc["kind"], subject=doc["subject"], rounds=int(doc["rounds"]), error=doc["error"],
        since=datetime.fromisoformat(doc["since"]),
    )


def note_failure(
    tx: Transaction, kind: str, subject: str, error: str, at: datetime | None = None
) -> SyncFailure:
    """Count one more round failing at ``subject`` (the count restarts at a new subject)."""
    seen = failure(tx)
    same = seen is not None and (seen.kind, seen.subject) == (kind, subject)
    noted = SyncFailure(
        kind=kind,
        subject=subject,
        rounds=seen.rounds + 1 if same and seen else 1,
        error=error,
        since=seen.since if same and seen else (at or now_utc()),
    )
    tx.set_meta(FAILURE, json.dumps({
        "kind": noted.kind, "subject": noted.subject, "rounds": noted.rounds,
        "error": noted.error, "since": noted.since.isoformat(timespec="microseconds"),
    }))
    return noted


def clear_failure(tx: Transaction, kind: str) -> None:
    """Forget a failure of ``kind`` (``push`` or ``pull``): that step got through."""
    seen = failure(tx)
    if seen is not None and seen.kind == kind:
        tx.set_meta(FAILURE, "")


def refused_entries(tx: Transaction) -> list[RefusedEntry]:
    """Every entry the central store refused, oldest first, with the reason it gave."""
    rows = tx.conn.execute(
        f"SELECT {entry_columns('e')}, a.reason, a.answered_at FROM sync_answers a "
        "JOIN entries e USING (seq) WHERE a.outcome = 'refused' ORDER BY a.seq"
    ).fetchall()
    return [
        RefusedEntry(
            entry=entry_from_row(r[:-2]),
            reason=r[-2] or "refused",
            answered_at=datetime.fromisoformat(r[-1]),
        )
        for r in rows
    ]


def mark_success(tx: Transaction, at: datetime | None = None) -> None:
    """Remember when a sync round last completed."""
    tx.set_meta(LAST_SUCCESS, (at or now_utc()).isoformat(timespec="microseconds"))


def pull_cursor(tx: Transaction) -> int:
    """Where the next pull starts in the central store's changes feed."""
    return _meta_int(tx, PULL_CURSOR)


def apply_page(
    tx: Transaction,
    *,
    cursor: int,
    next_cursor: int,
    has_more: bool,
    applied_through_seq: int,
    orders: Iterable[Order] = (),
    products: Iterable[Product] = (),
    locations: Iterable[Location] = (),
    operators: Iterable[Operator] = (),
    qoh: Iterable[tuple[str, str, int]] = (),
    atp: Iterable[tuple[str, int]] = (),
    reconciled: Iterable[tuple[str, datetime, str, str]] = (),
    roles: Mapping[str, Sequence[str]] | None = None,
    release_as: tuple[str, str] | None = None,
    reasons: SiteReasons | None = None,
) -> bool:
    """Apply one page of the changes feed; on the last page of a round, rebase stock.

    Reference data goes straight into the cache. Stock and line progress are staged until the
    round is complete (``has_more`` false), then the baseline is updated (replaced, for a round
    that started at cursor 0: a full snapshot) and the projections recomputed.

    ``reconciled`` (order ID, when, operator, terminal) says who reconciled which order, as the
    central store recorded it; it replaces what the terminal knew, so an order another
    terminal finished shows who finished it, where and when.

    ``release_as`` (terminal, facility): when a round completes, the orders it brought that are
    exceptions with unpicked units still reserved (after the central store's own releases, which
    arrive in the same round) are released at once by automatic entries of this terminal
    (:mod:`putback_tui.ledger.releases`), in the same transaction.

    Returns:
        True when the page completed a round.
    """
    if cursor == 0:
        for table in ("sync_pull_qoh", "sync_pull_atp", "sync_pull_progress"):
            tx.conn.execute(f"DELETE FROM {table}")
        tx.set_meta(PULL_FULL, "1")
    if roles is not None:
        # The whole map, whenever any role changed: a role the central store dropped goes.
        tx.set_meta(CENTRAL_ROLES, json.dumps({r: list(p) for r, p in roles.items()}))
    if reasons is not None:
        # The whole lists: offline, the terminal keeps offering the last ones it received.
        tx.set_meta(CENTRAL_REASONS, reasons.model_dump_json())
    order_list = list(orders)
    tx.upsert_products(products)
    tx.upsert_locations(locations)
    tx.upsert_operators(operators)
    tx.upsert_orders(order_list)
    tx.conn.executemany(
        "INSERT OR REPLACE INTO sync_pull_progress "
        "(order_id, line_no, released, rejected, put_back, withdrawn) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (o.order_id, ln.line_no, ln.released, ln.rejected, ln.put_back, ln.withdrawn)
            for o in order_list
            for ln in o.lines
        ],
    )
    tx.conn.executemany(
        "INSERT INTO order_state (order_id, reconciled_at, reconciled_by, reconciled_terminal) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET "
        "reconciled_at = excluded.reconciled_at, reconciled_by = excluded.reconciled_by, "
        "reconciled_terminal = excluded.reconciled_terminal",
        [
            (order_id, at.astimezone(UTC).isoformat(timespec="microseconds"), operator, terminal)
            for order_id, at, operator, terminal in reconciled
        ],
    )
    tx.conn.executemany("INSERT OR REPLACE INTO sync_pull_qoh VALUES (?, ?, ?)", list(qoh))
    tx.conn.executemany("INSERT OR REPLACE INTO sync_pull_atp VALUES (?, ?)", list(atp))
    tx.set_meta(PULL_CURSOR, str(next_cursor))
    if has_more:
        return False
    full = tx.get_meta(PULL_FULL) == "1"
    old_seq = _meta_int(tx, BASELINE_SEQ)
    staged = sum(
        tx.conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("sync_pull_qoh", "sync_pull_atp", "sync_pull_progress")
    )
    new_seq = max(old_seq, applied_through_seq)
    # What can have changed: the staged rows' keys, and the keys of the entries that move into
    # the baseline now. Every other key keeps its baseline and the same entries after it.
    if full:
        for table in ("baseline_qoh", "baseline_atp", "baseline_progress"):
            tx.conn.execute(f"DELETE FROM {table}")
    else:
        _affected(tx, old_seq, new_seq)
    tx.conn.execute(
        "INSERT OR REPLACE INTO baseline_qoh SELECT sku, location, qoh FROM sync_pull_qoh"
    )
    tx.conn.execute("INSERT OR REPLACE INTO baseline_atp SELECT sku, atp FROM sync_pull_atp")
    tx.conn.execute("INSERT OR REPLACE INTO baseline_progress SELECT * FROM sync_pull_progress")
    if release_as is not None:
        _only(
            tx,
            "temp.pulled_orders",
            tx.conn.execute("SELECT DISTINCT order_id FROM sync_pull_progress").fetchall(),
            "order_id",
        )
    for table in ("sync_pull_qoh", "sync_pull_atp", "sync_pull_progress"):
        tx.conn.execute(f"DELETE FROM {table}")
    tx.set_meta(BASELINE_SEQ, str(new_seq))
    tx.set_meta(PULL_FULL, "0")
    if full or staged or new_seq != old_seq:
        _rebase_projections(tx, skus=not full, lines=not full)
    if release_as is not None:
        terminal, facility = release_as
        pulled = orders_to_release(tx, facility, among="temp.pulled_orders")
        release_known(tx, terminal=terminal, facility=facility, order_ids=pulled)
    return True


def _affected(tx: Transaction, old_seq: int, new_seq: int) -> None:
    """Fill ``temp.affected_skus`` and ``temp.affected_lines`` with the keys a round can change.

    The staged rows' keys, and the keys of the entries that move into the baseline now (seq
    after ``old_seq``, up to ``new_seq``). Read by SQLite from the entries' JSON straight into
    the tables: nothing is built per entry in Python.
    """
    _keys_table(tx, SKUS, SKU_KEY)
    _keys_table(tx, LINES, LINE_KEY)
    for staged in ("sync_pull_qoh", "sync_pull_atp"):
        tx.conn.execute(f"INSERT OR IGNORE INTO {SKUS} SELECT sku FROM {staged}")
    tx.conn.execute(
        f"INSERT OR IGNORE INTO {LINES} SELECT order_id, line_no FROM sync_pull_progress"
    )
    tx.conn.execute(
        f"INSERT OR IGNORE INTO {SKUS} SELECT json_extract(c.value, '$.sku') "
        "FROM entries e, json_each(e.changes) c WHERE e.seq > ? AND e.seq <= ?",
        (old_seq, new_seq),
    )
    tx.conn.execute(
        f"INSERT OR IGNORE INTO {LINES} "
        "SELECT json_extract(c.value, '$.order_id'), json_extract(c.value, '$.line_no') "
        "FROM entries e, json_each(e.line_changes) c WHERE e.seq > ? AND e.seq <= ?",
        (old_seq, new_seq),
    )


class _StockKey(msgspec.Struct, gc=False):
    """A stored stock change, read for its key alone."""

    sku: str


class _LineKey(msgspec.Struct, gc=False):
    """A stored line change, read for its key alone."""

    order_id: str
    line_no: int


# The keys of the entries a rebase rebuilds in Python: the ledger's own JSON, read for the keys
# alone (json.loads of both lists cost twice as much an entry).
_stock_keys = msgspec.json.Decoder(list[_StockKey]).decode
_line_keys = msgspec.json.Decoder(list[_LineKey]).decode

SKUS = "temp.affected_skus"
"""The SKUs whose stock a rebase rewrites (when limited)."""
LINES = "temp.affected_lines"
"""The (order, line) keys whose progress a rebase rewrites (when limited)."""
SKU_KEY = "sku TEXT"
"""A SKU's key in a temp table."""
LINE_KEY = "order_id TEXT, line_no INTEGER"
"""A line's key in a temp table, typed as in the ledger's tables: a column without a type
compared with an INTEGER one cannot be searched by its index."""


def _keys_table(tx: Transaction, table: str, key: str, values: str = "") -> str:
    """Create (once a connection) and empty a temp table; returns its name.

    ``key``: its key's columns (``name TYPE, ...``); ``values``: more columns after it, if any.
    """
    names = ", ".join(column.split()[0] for column in key.split(","))
    tx.conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {table} "
        f"({key}{', ' + values if values else ''}, PRIMARY KEY ({names})) WITHOUT ROWID"
    )
    tx.conn.execute(f"DELETE FROM {table}")
    return table


def _only(tx: Transaction, table: str, rows: Iterable[tuple[object, ...]], key: str) -> str:
    """Fill a temp table with the keys to limit a query to; returns its name."""
    _keys_table(tx, table, key)
    marks = ",".join("?" * len(key.split(",")))
    tx.conn.executemany(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", rows)
    return table


def rebuilt_stock(
    tx: Transaction, skus: set[str] | None = None
) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """Stock from the baseline plus every entry after ``baseline_seq``, stopping at zero.

    With ``skus``, only those SKUs (each SKU's figures depend on its own entries alone).
    """
    where = ""
    if skus is not None:
        _only(tx, "temp.rebuilt_skus", ((s,) for s in skus), SKU_KEY)
        where = " WHERE sku IN (SELECT sku FROM temp.rebuilt_skus)"
    qoh: dict[tuple[str, str], int] = {
        (r[0], r[1]): r[2]
        for r in tx.conn.execute(f"SELECT sku, location, qoh FROM baseline_qoh{where}")
    }
    atp: dict[str, int] = {
        r[0]: r[1] for r in tx.conn.execute(f"SELECT sku, atp FROM baseline_atp{where}")
    }
    for (changes_json,) in tx.conn.execute(
        "SELECT changes FROM entries WHERE seq > ? ORDER BY seq", (_meta_int(tx, BASELINE_SEQ),)
    ):
        apply_stock_changes(
            qoh,
            atp,
            (
                StockChange.model_validate(change)
                for change in json.loads(changes_json)
                if skus is None or change["sku"] in skus
            ),
        )
    return qoh, atp


def rebuilt_progress(
    tx: Transaction, lines: set[tuple[str, int]] | None = None
) -> dict[tuple[str, int], tuple[int, int, int, int]]:
    """Line progress from the central baseline plus every entry after ``baseline_seq``.

    With ``lines``, only those (order, line) keys.
    """
    where = ""
    if lines is not None:
        _only(tx, "temp.rebuilt_lines", lines, LINE_KEY)
        where = " WHERE (order_id, line_no) IN (SELECT order_id, line_no FROM temp.rebuilt_lines)"
    progress: dict[tuple[str, int], list[int]] = {
        (r[0], r[1]): [r[2], r[3], r[4], r[5]]
        for r in tx.conn.execute(
            "SELECT order_id, line_no, released, rejected, put_back, withdrawn "
            f"FROM baseline_progress{where}"
        )
    }
    for (changes_json,) in tx.conn.execute(
        "SELECT line_changes FROM entries WHERE seq > ? AND line_changes != '[]' ORDER BY seq",
        (_meta_int(tx, BASELINE_SEQ),),
    ):
        for c in json.loads(changes_json):
            if lines is not None and (c["order_id"], c["line_no"]) not in lines:
                continue
            p = progress.setdefault((c["order_id"], c["line_no"]), [0, 0, 0, 0])
            for i, counter in enumerate(LINE_COUNTERS):
                p[i] = max(0, p[i] + c.get(counter, 0))
    return {k: (v[0], v[1], v[2], v[3]) for k, v in progress.items()}


def recompute_projections(
    tx: Transaction,
    *,
    skus: set[str] | None = None,
    lines: set[tuple[str, int]] | None = None,
) -> None:
    """Make stock and line progress equal to the rebuild, changing only rows that differ.

    ``skus`` and ``lines`` limit the work to the keys that can have changed (None: all), so a
    sync round on a terminal with a million products touches a handful of rows, not all of
    them, while it holds the write lock. Rows that keep their figure keep their ``since``
    (exception-area ageing); a location that goes from empty to holding units gets ``since``
    now, as an entry would give it.
    """
    if skus is not None:
        _only(tx, SKUS, ((s,) for s in skus), SKU_KEY)
    if lines is not None:
        _only(tx, LINES, lines, LINE_KEY)
    _rebase_projections(tx, skus=skus is not None, lines=lines is not None)


def _rebase_projections(tx: Transaction, *, skus: bool, lines: bool) -> None:
    """:func:`recompute_projections` for the keys in :data:`SKUS` and :data:`LINES`.

    ``skus`` / ``lines`` false: every key. Set-based: the rebuild of a key no entry after
    ``baseline_seq`` touches is its baseline row, copied by SQLite into a temp table; only the
    keys such entries touch (few: what the central store has not applied yet) are rebuilt in
    Python (:func:`rebuilt_stock`, :func:`rebuilt_progress`). The projections are then made
    equal to that table by three statements each, which write only the rows that differ.
    """
    baseline_seq = _meta_int(tx, BASELINE_SEQ)
    pending_skus: set[str] = set()
    pending_lines: set[tuple[str, int]] = set()
    for changes_json, lines_json in tx.conn.execute(
        "SELECT changes, line_changes FROM entries WHERE seq > ?", (baseline_seq,)
    ):
        pending_skus.update(c.sku for c in _stock_keys(changes_json))
        pending_lines.update((c.order_id, c.line_no) for c in _line_keys(lines_json))
    if skus and pending_skus:
        pending_skus = _among(tx, SKUS, "sku", [[s] for s in pending_skus])
    if lines and pending_lines:
        pending_lines = _among(tx, LINES, "order_id, line_no", [list(k) for k in pending_lines])
    _rebase_stock(tx, limited=skus, pending=pending_skus)
    _rebase_progress(tx, limited=lines, pending=pending_lines)


def _among(tx: Transaction, table: str, columns: str, keys: list[list[object]]) -> set[Any]:
    """Those of ``keys`` that ``table`` holds."""
    picks = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(columns.split(","))))
    found = tx.conn.execute(
        f"SELECT {picks} FROM json_each(?) WHERE ({picks}) IN (SELECT {columns} FROM {table})",
        (json.dumps(keys),),
    )
    return {r[0] if len(r) == 1 else tuple(r) for r in found}


def _rebase_stock(tx: Transaction, *, limited: bool, pending: set[str]) -> None:
    """Stock's part of :func:`_rebase_projections`; ``pending``: the SKUs to rebuild in Python."""
    now = now_utc().isoformat(timespec="microseconds")

    def among(table: str) -> str:
        # A search of the table's key by each affected SKU, not a scan of the whole table.
        return f" AND {table}.sku IN (SELECT sku FROM {SKUS})" if limited else ""

    qoh = _keys_table(tx, "temp.rebuilt_qoh", "sku TEXT, location TEXT", "qoh INTEGER")
    atp = _keys_table(tx, "temp.rebuilt_atp", SKU_KEY, "atp INTEGER")
    tx.conn.execute(f"INSERT INTO {qoh} SELECT sku, location, qoh FROM baseline_qoh b "
                    f"WHERE true{among('b')}")
    tx.conn.execute(f"INSERT INTO {atp} SELECT sku, atp FROM baseline_atp b WHERE true{among('b')}")
    if pending:
        pending_qoh, pending_atp = rebuilt_stock(tx, pending)
        for table in (qoh, atp):
            tx.conn.execute(f"DELETE FROM {table} WHERE sku IN (SELECT sku FROM temp.rebuilt_skus)")
        tx.conn.executemany(
            f"INSERT INTO {qoh} VALUES (?, ?, ?)", [(*k, v) for k, v in pending_qoh.items()]
        )
        tx.conn.executemany(f"INSERT INTO {atp} VALUES (?, ?)", list(pending_atp.items()))
    tx.conn.execute(
        f"DELETE FROM stock_qoh WHERE NOT EXISTS (SELECT 1 FROM {qoh} r "
        f"WHERE r.sku = stock_qoh.sku AND r.location = stock_qoh.location){among('stock_qoh')}"
    )
    tx.conn.execute(
        "UPDATE stock_qoh SET qoh = r.qoh, "
        "since = CASE WHEN stock_qoh.qoh = 0 THEN ? ELSE stock_qoh.since END "
        f"FROM {qoh} r WHERE r.sku = stock_qoh.sku AND r.location = stock_qoh.location "
        f"AND r.qoh != stock_qoh.qoh{among('stock_qoh')}",
        (now,),
    )
    tx.conn.execute(
        "INSERT INTO stock_qoh (sku, location, qoh, since) SELECT sku, location, qoh, ? "
        f"FROM {qoh} r WHERE NOT EXISTS (SELECT 1 FROM stock_qoh s "
        "WHERE s.sku = r.sku AND s.location = r.location)",
        (now,),
    )
    tx.conn.execute(
        f"DELETE FROM stock_atp WHERE NOT EXISTS (SELECT 1 FROM {atp} r "
        f"WHERE r.sku = stock_atp.sku){among('stock_atp')}"
    )
    tx.conn.execute(
        f"UPDATE stock_atp SET atp = r.atp FROM {atp} r "
        f"WHERE r.sku = stock_atp.sku AND r.atp != stock_atp.atp{among('stock_atp')}"
    )
    tx.conn.execute(
        f"INSERT INTO stock_atp (sku, atp) SELECT sku, atp FROM {atp} r "
        "WHERE NOT EXISTS (SELECT 1 FROM stock_atp s WHERE s.sku = r.sku)"
    )


def _rebase_progress(tx: Transaction, *, limited: bool, pending: set[tuple[str, int]]) -> None:
    """Progress's part of :func:`_rebase_projections`; ``pending``: lines rebuilt in Python."""
    counters = ", ".join(LINE_COUNTERS)
    rebuilt_counters = ", ".join(f"r.{c}" for c in LINE_COUNTERS)
    rebuilt = _keys_table(
        tx, "temp.rebuilt_progress", LINE_KEY, ", ".join(f"{c} INTEGER" for c in LINE_COUNTERS)
    )
    # From each affected key (CROSS JOIN: in this order) a search of the baseline's key.
    tx.conn.execute(
        f"INSERT INTO {rebuilt} SELECT r.order_id, r.line_no, {rebuilt_counters} "
        + (f"FROM {LINES} a CROSS JOIN baseline_progress r "
           "ON r.order_id = a.order_id AND r.line_no = a.line_no"
           if limited else "FROM baseline_progress r")
    )
    if pending:
        progress = rebuilt_progress(tx, pending)
        tx.conn.execute(
            f"DELETE FROM {rebuilt} WHERE (order_id, line_no) IN "
            "(SELECT order_id, line_no FROM temp.rebuilt_lines)"
        )
        tx.conn.executemany(
            f"INSERT INTO {rebuilt} VALUES (?, ?, ?, ?, ?, ?)",
            [(*k, *v) for k, v in progress.items()],
        )
    rebuilt_row = (f"SELECT 1 FROM {rebuilt} r "
                   "WHERE r.order_id = {0}.order_id AND r.line_no = {0}.line_no")
    if limited:  # the row value IN lists only the keys to delete
        tx.conn.execute(
            "DELETE FROM line_progress WHERE (order_id, line_no) IN (SELECT order_id, line_no "
            f"FROM {LINES} a WHERE NOT EXISTS ({rebuilt_row.format('a')}))"
        )
    else:
        tx.conn.execute(
            f"DELETE FROM line_progress WHERE NOT EXISTS ({rebuilt_row.format('line_progress')})"
        )
    # The unary + keeps SQLite from searching the rebuilt rows by key, so it reads them in turn
    # and searches line_progress by each, rather than reading all of line_progress.
    tx.conn.execute(
        f"UPDATE line_progress SET ({counters}) = ({rebuilt_counters}) FROM {rebuilt} r "
        "WHERE +r.order_id = line_progress.order_id AND +r.line_no = line_progress.line_no "
        f"AND ({rebuilt_counters}) != ({', '.join(f'line_progress.{c}' for c in LINE_COUNTERS)})"
    )
    tx.conn.execute(
        f"INSERT INTO line_progress (order_id, line_no, {counters}) "
        f"SELECT order_id, line_no, {counters} FROM {rebuilt} r "
        f"WHERE NOT EXISTS (SELECT 1 FROM line_progress p "
        "WHERE p.order_id = r.order_id AND p.line_no = r.line_no)"
    )


class LedgerDiverged(LedgerError):
    """The ledger holds entries the central store has different ones for, under the same seq."""


def adopt_own(tx: Transaction, own: Sequence[tuple[Entry, bool, str | None]]) -> int:
    """Take the central store's record of this terminal's own entries (in seq order).

    An entry the ledger has (same seq and ID) gets its answer recorded, so it is not sent
    again; an entry the ledger lacks (it was restored from an older backup) is inserted as it
    was, with its answer. Projections are then recomputed for what those entries touch.

    Returns:
        How many entries were taken back into the ledger.

    Raises:
        LedgerDiverged: the ledger has another entry under one of those sequence numbers: it
            was restored from a stale backup and then used. Nothing is changed.
    """
    adopted = 0
    skus: set[str] = set()
    lines: set[tuple[str, int]] = set()
    answers: list[Answer] = []
    for entry, refused, reason in own:
        row = tx.conn.execute("SELECT entry_id FROM entries WHERE seq = ?", (entry.seq,)).fetchone()
        if row is not None and row[0] != entry.entry_id:
            raise LedgerDiverged(
                f"Entry #{entry.seq} of this ledger is not the one the central store has from "
                f"{entry.terminal}: the ledger was restored from an older backup and then used. "
                "Enrol this terminal under a new ID (see 'Replacing a terminal' in "
                "docs/installing.md)."
            )
        if row is None:
            if entry.seq != tx.last_seq() + 1:
                raise LedgerDiverged(
                    f"The central store has entry #{entry.seq} from {entry.terminal}, but this "
                    f"ledger ends at #{tx.last_seq()}: entries in between are missing."
                )
            tx.adopt(entry)
            adopted += 1
            skus.update(c.sku for c in entry.changes)
            lines.update((c.order_id, c.line_no) for c in entry.line_changes)
        answers.append(
            Answer(seq=entry.seq, entry_id=entry.entry_id, refused=refused, reason=reason)
        )
    record_answers(tx, answers)
    if adopted:
        recompute_projections(tx, skus=skus, lines=lines)
    return adopted
