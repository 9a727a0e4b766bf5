"""The local ledger's schema, as sqlite-utils migrations applied in order on every open."""

from __future__ import annotations

from sqlite_utils import Database, Migrations

APPLICATION_ID = 0x50424B31
"""``PRAGMA application_id`` of a putback ledger ("PBK1"): any other SQLite file is refused."""

migrations = Migrations("putback-ledger")


@migrations()
def m001_initial(db: Database) -> None:
    """Entries (append-only), stock projections, line progress and the reference-data cache."""
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

        -- The ledger. seq is the per-terminal sequence number; rows are never changed.
        CREATE TABLE entries (
            seq INTEGER PRIMARY KEY,
            entry_id TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            terminal TEXT NOT NULL,
            facility TEXT NOT NULL,
            operator TEXT NOT NULL,
            kind TEXT NOT NULL,
            order_id TEXT,
            details TEXT NOT NULL,
            changes TEXT NOT NULL,
            line_changes TEXT NOT NULL,
            undoes TEXT
        );
        CREATE INDEX entries_by_order ON entries (order_id, seq) WHERE order_id IS NOT NULL;
        CREATE INDEX entries_by_kind ON entries (kind, seq);
        -- An entry can be undone once: the schema itself refuses a second undo.
        CREATE UNIQUE INDEX entries_undoes ON entries (undoes) WHERE undoes IS NOT NULL;
        CREATE TRIGGER entries_append_only_update BEFORE UPDATE ON entries
        BEGIN
            SELECT RAISE(ABORT, 'ledger entries are append-only: add a compensating entry');
        END;
        CREATE TRIGGER entries_append_only_delete BEFORE DELETE ON entries
        BEGIN
            SELECT RAISE(ABORT, 'ledger entries are append-only: add a compensating entry');
        END;

        -- Projections, changed in the same transaction as the entry that changes them.
        CREATE TABLE stock_qoh (
            sku TEXT NOT NULL,
            location TEXT NOT NULL,
            qoh INTEGER NOT NULL CHECK (qoh >= 0),
            since TEXT,
            PRIMARY KEY (sku, location)
        ) WITHOUT ROWID;
        CREATE INDEX stock_qoh_by_location ON stock_qoh (location, sku);
        CREATE TABLE stock_atp (
            sku TEXT PRIMARY KEY,
            atp INTEGER NOT NULL CHECK (atp >= 0)
        ) WITHOUT ROWID;
        CREATE TABLE line_progress (
            order_id TEXT NOT NULL,
            line_no INTEGER NOT NULL,
            released INTEGER NOT NULL DEFAULT 0 CHECK (released >= 0),
            rejected INTEGER NOT NULL DEFAULT 0 CHECK (rejected >= 0),
            put_back INTEGER NOT NULL DEFAULT 0 CHECK (put_back >= 0),
            PRIMARY KEY (order_id, line_no)
        ) WITHOUT ROWID;
        CREATE TABLE order_state (
            order_id TEXT PRIMARY KEY,
            local_status TEXT,
            reconciled_at TEXT,
            reconciled_by TEXT,
            reconciled_terminal TEXT
        ) WITHOUT ROWID;

        -- Stock as loaded from the central store: the projections are this plus every entry.
        CREATE TABLE baseline_qoh (
            sku TEXT NOT NULL,
            location TEXT NOT NULL,
            qoh INTEGER NOT NULL,
            PRIMARY KEY (sku, location)
        ) WITHOUT ROWID;
        CREATE TABLE baseline_atp (sku TEXT PRIMARY KEY, atp INTEGER NOT NULL) WITHOUT ROWID;

        -- Reference data cached from the central store.
        CREATE TABLE products (
            sku TEXT PRIMARY KEY,
            description TEXT NOT NULL,
            lot_tracked INTEGER NOT NULL DEFAULT 0,
            home_location TEXT
        ) WITHOUT ROWID;
        CREATE TABLE barcodes (
            code TEXT PRIMARY KEY,
            sku TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX barcodes_by_sku ON barcodes (sku);
        CREATE TABLE locations (
            code TEXT PRIMARY KEY,
            facility TEXT NOT NULL,
            kind TEXT NOT NULL,
            barcode TEXT NOT NULL UNIQUE
        ) WITHOUT ROWID;
        CREATE INDEX locations_by_kind ON locations (facility, kind);
        CREATE TABLE operators (
            badge TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE orders (
            order_id TEXT PRIMARY KEY,
            facility TEXT NOT NULL,
            status TEXT NOT NULL,
            has_label INTEGER NOT NULL DEFAULT 0,
            status_changed_at TEXT
        ) WITHOUT ROWID;
        CREATE INDEX orders_by_status ON orders (facility, status);
        CREATE TABLE order_lines (
            order_id TEXT NOT NULL,
            line_no INTEGER NOT NULL,
            sku TEXT NOT NULL,
            quantity INTEGER NOT NULL,
            picked INTEGER NOT NULL,
            pick_location TEXT,
            lot TEXT,
            PRIMARY KEY (order_id, line_no)
        ) WITHOUT ROWID;
        """
    )


@migrations()
def m002_sync(db: Database) -> None:
    """Sync bookkeeping: the central store's answers, staged pulls, and central line progress.

    ``entries`` is never touched: what was sent is known from ``sync_answers`` (one row per
    entry the central store answered for good) and ``meta`` (``sync.acked_through``, the pull
    cursor, and ``sync.baseline_seq``: the highest of this terminal's entries the pulled
    baseline already includes).
    """
    db.executescript(
        """
        CREATE TABLE sync_answers (
            seq INTEGER PRIMARY KEY,
            entry_id TEXT NOT NULL UNIQUE,
            outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'refused')),
            reason TEXT,
            answered_at TEXT NOT NULL
        );
        CREATE INDEX sync_answers_refused ON sync_answers (seq) WHERE outcome = 'refused';
        -- An answer is final: like the entries it answers, it is never changed or removed.
        CREATE TRIGGER sync_answers_final_update BEFORE UPDATE ON sync_answers
        BEGIN
            SELECT RAISE(ABORT, 'sync answers are final');
        END;
        CREATE TRIGGER sync_answers_final_delete BEFORE DELETE ON sync_answers
        BEGIN
            SELECT RAISE(ABORT, 'sync answers are final');
        END;

        -- Central line progress (every terminal): line_progress is this plus pending entries.
        CREATE TABLE baseline_progress (
            order_id TEXT NOT NULL,
            line_no INTEGER NOT NULL,
            released INTEGER NOT NULL,
            rejected INTEGER NOT NULL,
            put_back INTEGER NOT NULL,
            PRIMARY KEY (order_id, line_no)
        ) WITHOUT ROWID;

        -- Pages of a pull round wait here until the round is complete, then replace or update
        -- the baseline in one transaction, so the projections never mix two snapshots.
        CREATE TABLE sync_pull_qoh (
            sku TEXT NOT NULL,
            location TEXT NOT NULL,
            qoh INTEGER NOT NULL,
            PRIMARY KEY (sku, location)
        ) WITHOUT ROWID;
        CREATE TABLE sync_pull_atp (sku TEXT PRIMARY KEY, atp INTEGER NOT NULL) WITHOUT ROWID;
        CREATE TABLE sync_pull_progress (
            order_id TEXT NOT NULL,
            line_no INTEGER NOT NULL,
            released INTEGER NOT NULL,
            rejected INTEGER NOT NULL,
            put_back INTEGER NOT NULL,
            PRIMARY KEY (order_id, line_no)
        ) WITHOUT ROWID;
        """
    )


@migrations()
def m003_operators_and_roles(db: Database) -> None:
    """Operators' facility and active flag, as the central store holds them.

    The central store's role -> permissions map arrives with the changes feed and is kept in
    ``meta`` (``central.roles``): while it is there, the terminal judges by it, exactly as the
    central store will.
    """
    db.executescript(
        """
        ALTER TABLE operators ADD COLUMN facility TEXT;
        ALTER TABLE operators ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
        """
    )


def migration_names(db: Database) -> tuple[list[str], list[str]]:
    """The names of the migrations applied to ``db``, and of every one this version knows."""
    applied = [m.name for m in migrations.applied(db)]
    known = [m.name for m in migrations._migrations]  # sqlite-utils keeps the list private
    return applied, known


@migrations()
def m004_worklist_index(db: Database) -> None:
    """Indexes for the worklist: local exceptions, and recently cleared orders.

    The worklist reads the facility's exception orders through ``orders_by_status`` (the
    central store's status) and this index (a local cancel, force cancel or bulk reject), so
    its cost follows the number of exception orders, not the size of the order cache.
    """
    db.execute(
        "CREATE INDEX IF NOT EXISTS order_state_by_local_status ON order_state (local_status) "
        "WHERE local_status IS NOT NULL"
    )
    # The worklist's prediction reads the orders cleared in the last days.
    db.execute(
        "CREATE INDEX IF NOT EXISTS order_state_by_reconciled ON order_state (reconciled_at) "
        "WHERE reconciled_at IS NOT NULL"
    )


@migrations()
def m005_withdrawn(db: Database) -> None:
    """Line edits: picked units withdrawn from a live line, in every line-progress table."""
    db.executescript(
        """
        ALTER TABLE line_progress ADD COLUMN withdrawn INTEGER NOT NULL DEFAULT 0
            CHECK (withdrawn >= 0);
        ALTER TABLE baseline_progress ADD COLUMN withdrawn INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sync_pull_progress ADD COLUMN withdrawn INTEGER NOT NULL DEFAULT 0;
        """
    )


REFERENCE_TABLES = ("products", "barcodes", "locations", "operators")
"""Tables only a load or a pull writes, never an action: the read cache keeps what they hold."""


@migrations()
def m006_reference_revision_and_kind_index(db: Database) -> None:
    """A reference revision for the read cache; the kind index only for the kinds looked up.

    The station keeps products, barcodes, locations and the central store's role map and
    reason lists in memory between actions (:mod:`putback_tui.ledger.cache`). Another
    connection's commit (the sync worker records answers after every batch) says only that
    *something* changed; these triggers say whether it was reference data. No action writes
    these tables or keys, so an action pays nothing for them; a load pays one counter update a
    row. The kind index holds only the kinds some query looks up by kind (``INDEXED_KINDS``):
    a put-back no longer writes it.
    """
    db.execute(
        "CREATE TABLE reference_revision (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "n INTEGER NOT NULL)"
    )
    db.execute("INSERT INTO reference_revision (id, n) VALUES (1, 0)")
    bump = "UPDATE reference_revision SET n = n + 1 WHERE id = 1;"
    for table in REFERENCE_TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            db.execute(
                f"CREATE TRIGGER {table}_{event.lower()}_revision AFTER {event} ON {table} "
                f"BEGIN {bump} END"
            )
    central = "('central.roles', 'central.reasons')"
    for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        db.execute(
            f"CREATE TRIGGER meta_{event.lower()}_revision AFTER {event} ON meta "
            f"WHEN {row}.key IN {central} BEGIN {bump} END"
        )
    # Every put-back wrote into the middle of (kind, seq), 1.45 pages a put-back with its
    # splits, for queries that only ever ask for these kinds (ledger/rows.py: INDEXED_KINDS,
    # whose condition those queries repeat so that SQLite uses the index).
    db.execute("DROP INDEX entries_by_kind")
    db.execute(
        "CREATE INDEX entries_by_kind ON entries (kind, seq) "
        "WHERE kind IN ('reject', 'resolve', 'cancel_line', 'reduce_line')"
    )


ORDER_TABLES = ("orders", "order_lines")
"""The central store's facts about orders: only a load or a pull writes them, never an action
(an action's progress and local status live in ``line_progress`` and ``order_state``)."""


@migrations()
def m007_order_facts_revision(db: Database) -> None:
    """The reference revision moves with the orders' central facts too.

    The read cache keeps an order's central facts (its status, label, lines and what was
    picked) like the other reference data; after another connection's commit it reads only the
    order's progress again (``line_progress`` and ``order_state``, which the put-back writes
    anyway), unless these triggers say that a pull or load changed the facts. No action writes
    these tables, so an action pays nothing for them; a load pays one counter update a row.
    """
    bump = "UPDATE reference_revision SET n = n + 1 WHERE id = 1;"
    for table in ORDER_TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            db.execute(
                f"CREATE TRIGGER {table}_{event.lower()}_revision AFTER {event} ON {table} "
                f"BEGIN {bump} END"
            )
