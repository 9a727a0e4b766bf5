"""The central store's schema: numbered migrations written once for SQLite and PostgreSQL.

Statements are plain SQL both engines accept; the two differences are spelled as fields
(``{pk}`` the integer primary key, ``{big}`` a 64-bit integer). Timestamps are stored as ISO
8601 text in UTC, which sorts and compares the same on both engines.

Why this runner and not sqlite-utils' ``Migrations`` (which the terminal's ledger uses): the
central store runs on PostgreSQL too, and sqlite-utils migrates SQLite only. The terminal's
ledger is SQLite alone, and its files in the field record their applied migrations in
sqlite-utils' ``_sqlite_migrations`` table, so it keeps that runner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from putback_tui.domain.models import iso_utc, now_utc

if TYPE_CHECKING:
    from putback_tui.central.engines import Engine


@dataclass(frozen=True)
class Migration:
    """One schema step, applied once, in order, inside a transaction."""

    version: int
    name: str
    statements: tuple[str, ...]
    only: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Statements for one engine (by :attr:`Engine.name`), run after the common ones."""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "initial",
        (
            # One counter hands out every revision and feed position (until migration 7: see there).
            "CREATE TABLE counters (name TEXT PRIMARY KEY, value {big} NOT NULL)",
            "INSERT INTO counters (name, value) VALUES ('rev', 0)",
            # Terminals and systems; only the SHA-256 of a token is kept.
            """CREATE TABLE clients (
                name TEXT PRIMARY KEY,
                kind TEXT NOT NULL CHECK (kind IN ('terminal', 'system')),
                facility TEXT,
                token_hash TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL,
                last_seq {big} NOT NULL DEFAULT 0
            )""",
            # Every entry a terminal sent and the central store answered for good: applied or
            # refused (kept, never dropped). entry_id makes ingest idempotent.
            """CREATE TABLE entries (
                position {pk},
                entry_id TEXT NOT NULL UNIQUE,
                terminal TEXT NOT NULL,
                facility TEXT NOT NULL,
                seq {big} NOT NULL,
                kind TEXT NOT NULL,
                order_id TEXT,
                outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'refused')),
                reason TEXT,
                received_at TEXT NOT NULL,
                body TEXT NOT NULL,
                UNIQUE (terminal, seq)
            )""",
            "CREATE INDEX entries_by_facility ON entries (facility, position)",
            """CREATE TABLE products (
                sku TEXT PRIMARY KEY,
                description TEXT NOT NULL,
                gtins TEXT NOT NULL,
                lot_tracked INTEGER NOT NULL DEFAULT 0,
                home_location TEXT,
                rev {big} NOT NULL
            )""",
            "CREATE INDEX products_by_rev ON products (rev)",
            """CREATE TABLE locations (
                code TEXT PRIMARY KEY,
                facility TEXT NOT NULL,
                kind TEXT NOT NULL,
                barcode TEXT NOT NULL,
                rev {big} NOT NULL
            )""",
            "CREATE INDEX locations_by_rev ON locations (facility, rev)",
            """CREATE TABLE operators (
                badge TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                role TEXT NOT NULL,
                rev {big} NOT NULL
            )""",
            "CREATE INDEX operators_by_rev ON operators (rev)",
            """CREATE TABLE orders (
                order_id TEXT PRIMARY KEY,
                facility TEXT NOT NULL,
                status TEXT NOT NULL,
                has_label INTEGER NOT NULL DEFAULT 0,
                status_changed_at TEXT,
                rev {big} NOT NULL
            )""",
            "CREATE INDEX orders_by_rev ON orders (facility, rev)",
            # Central facts plus progress over every terminal: the limits are re-checked here.
            """CREATE TABLE order_lines (
                order_id TEXT NOT NULL,
                line_no INTEGER NOT NULL,
                sku TEXT NOT NULL,
                quantity INTEGER NOT NULL CHECK (quantity >= 0),
                picked INTEGER NOT NULL CHECK (picked >= 0),
                pick_location TEXT,
                lot TEXT,
                released INTEGER NOT NULL DEFAULT 0 CHECK (released >= 0),
                rejected INTEGER NOT NULL DEFAULT 0 CHECK (rejected >= 0),
                put_back INTEGER NOT NULL DEFAULT 0 CHECK (put_back >= 0),
                PRIMARY KEY (order_id, line_no)
            )""",
            """CREATE TABLE stock_qoh (
                facility TEXT NOT NULL,
                sku TEXT NOT NULL,
                location TEXT NOT NULL,
                qoh {big} NOT NULL CHECK (qoh >= 0),
                rev {big} NOT NULL,
                PRIMARY KEY (facility, sku, location)
            )""",
            "CREATE INDEX stock_qoh_by_rev ON stock_qoh (facility, rev)",
            """CREATE TABLE stock_atp (
                facility TEXT NOT NULL,
                sku TEXT NOT NULL,
                atp {big} NOT NULL CHECK (atp >= 0),
                rev {big} NOT NULL,
                PRIMARY KEY (facility, sku)
            )""",
            "CREATE INDEX stock_atp_by_rev ON stock_atp (facility, rev)",
        ),
    ),
    Migration(
        2,
        "who reconciled an order",
        (
            # Set by the entry that left an exception order with nothing open or waiting, and
            # sent with the order in the changes feed, so every terminal can say who did it.
            "ALTER TABLE orders ADD COLUMN reconciled_at TEXT",
            "ALTER TABLE orders ADD COLUMN reconciled_by TEXT",
            "ALTER TABLE orders ADD COLUMN reconciled_terminal TEXT",
        ),
    ),
    Migration(
        3,
        "effects derived by the central store; operators by facility; roles",
        (
            # What the central store applied for an entry, when it differs from what the entry
            # carried (NULL: exactly as carried). The feeds and undo read the applied effects.
            "ALTER TABLE entries ADD COLUMN effects TEXT",
            # The entry an undo compensates or a resolve resolves.
            "ALTER TABLE entries ADD COLUMN ref TEXT",
            "CREATE INDEX entries_by_ref ON entries (ref)",
            # NULL facility: the operator may work at every facility.
            "ALTER TABLE operators ADD COLUMN facility TEXT",
            "ALTER TABLE operators ADD COLUMN active INTEGER NOT NULL DEFAULT 1",
            # The role -> permissions map terminals and the central store judge by (JSON list);
            # empty: the built-in defaults.
            """CREATE TABLE roles (
                role TEXT PRIMARY KEY,
                permissions TEXT NOT NULL,
                rev {big} NOT NULL
            )""",
        ),
    ),
    Migration(
        4,
        "ingest failures",
        (
            # A batch whose ingest failed unexpectedly (not a refusal: a bug or bad data the
            # checks let through) is rolled back and answered 503; what it was is kept here
            # for `putback central doctor`, with every entry ID of the batch.
            """CREATE TABLE ingest_failures (
                failure_id {pk},
                at TEXT NOT NULL,
                terminal TEXT NOT NULL,
                entries INTEGER NOT NULL,
                entry_ids TEXT NOT NULL,
                error TEXT NOT NULL
            )""",
            "CREATE INDEX ingest_failures_by_at ON ingest_failures (at)",
        ),
    ),
    Migration(
        5,
        "line edits: picked units withdrawn from a live line",
        (
            # Picked units a cancel-line or reduce-line entry took off a live line, owed a
            # put-back while the order stays live (the unpicked ones count as released).
            "ALTER TABLE order_lines ADD COLUMN withdrawn INTEGER NOT NULL DEFAULT 0 "
            "CHECK (withdrawn >= 0)",
        ),
    ),
    Migration(
        6,
        "the site's reason lists",
        (
            # One row: the reason lists per action (JSON of domain.reasons.SiteReasons), sent
            # whole with the changes feed; no row: the built-in defaults.
            """CREATE TABLE site_reasons (
                name TEXT PRIMARY KEY,
                body TEXT NOT NULL,
                rev {big} NOT NULL
            )""",
        ),
    ),
    Migration(
        7,
        "facilities write in parallel; event positions given at publishing",
        (
            # An applied entry's place on the event feed (GET /v1/events), given once it has
            # committed, by one publisher at a time (feeds.publish): a reader can then never
            # pass a position that an entry still in flight would take. Entries recorded before
            # keep their position as their place, so the cursors readers hold stay good.
            "ALTER TABLE entries ADD COLUMN event_pos {big}",
            "UPDATE entries SET event_pos = position WHERE outcome = 'applied'",
            # Partial indexes: an entry enters the first two when it is published, not while a
            # batch is written, and leaves the third then (ingest pays for one, not three).
            "CREATE UNIQUE INDEX entries_by_event ON entries (event_pos) "
            "WHERE event_pos IS NOT NULL",
            "CREATE INDEX entries_events_by_facility ON entries (facility, event_pos) "
            "WHERE event_pos IS NOT NULL",
            "CREATE INDEX entries_unpublished ON entries (position) "
            "WHERE event_pos IS NULL AND outcome = 'applied'",
            "INSERT INTO counters (name, value) "
            "SELECT 'events', COALESCE(MAX(event_pos), 0) FROM entries",
        ),
        only={
            # Revisions come from a sequence instead of the counter row every writer locked:
            # taking one waits for no transaction (engines.py). CACHE 1, so that values come
            # in the order they are asked for across sessions: a facility's writers, taking
            # turns, then get increasing revisions in the order they commit.
            "postgresql": (
                "CREATE SEQUENCE central_revs AS BIGINT MINVALUE 0 START WITH 0 CACHE 1",
                "SELECT setval('central_revs', value, true) FROM counters WHERE name = 'rev'",
                "DELETE FROM counters WHERE name = 'rev'",
            ),
        },
    ),
    Migration(
        8,
        "viewers and the backlog",
        (
            # Read-only clients (dashboards): the backlog, event feed and order histories of
            # their facilities (JSON list; NULL: every facility). Apart from `clients`, whose
            # kinds are fixed by a CHECK that SQLite cannot alter in place.
            """CREATE TABLE viewers (
                name TEXT PRIMARY KEY,
                facilities TEXT,
                token_hash TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL
            )""",
            # Each terminal's last sync call and the entries it said were waiting to be sent.
            """CREATE TABLE terminal_contacts (
                terminal TEXT PRIMARY KEY,
                facility TEXT NOT NULL,
                last_contact TEXT NOT NULL,
                waiting_to_send {big}
            )""",
            # The first operator entry on an exception order since it became one (SLA), set
            # by ingest; NULL for orders cleared before this migration.
            "ALTER TABLE orders ADD COLUMN first_action_at TEXT",
            # The backlog reads only these covering indexes, never the orders themselves: the
            # waiting orders (unreconciled exception orders: a few per facility, where the
            # live and shipped orders are many; queries repeat this predicate word for word,
            # which both engines need to use a partial index),
            "CREATE INDEX orders_waiting ON orders "
            "(facility, order_id, status, status_changed_at, first_action_at) "
            "WHERE reconciled_at IS NULL "
            "AND status IN ('cancelled', 'deleted', 'failed', 'rejected')",
            # the recently cleared (and the waiting orders again, for SQLite: without
            # statistics its planner prefers this index's three equalities to the partial
            # index's one),
            "CREATE INDEX orders_by_reconciled ON orders (facility, reconciled_at, status, "
            "reconciled_by, status_changed_at, first_action_at, order_id)",
            # the orders that became exceptions lately,
            "CREATE INDEX orders_by_status_changed ON orders "
            "(facility, status_changed_at, status, reconciled_by)",
            # and the waiting orders' lines' progress.
            "CREATE INDEX order_lines_progress ON order_lines "
            "(order_id, quantity, picked, released, rejected, put_back)",
            # An order's history.
            "CREATE INDEX entries_by_order ON entries (order_id, position)",
            # Refused entries and resolves are few: partial indexes cost ingest nothing for
            # the other entries.
            "CREATE INDEX entries_refused ON entries (facility, position) "
            "WHERE outcome = 'refused'",
            "CREATE INDEX entries_resolves ON entries (facility, ref) WHERE kind = 'resolve'",
            # Applied entries with a reason, counted per facility, day (UTC), kind and reason
            # by ingest: the backlog's top reasons read a few rows per facility, never the
            # entries.
            """CREATE TABLE reason_counts (
                facility TEXT NOT NULL,
                day TEXT NOT NULL,
                kind TEXT NOT NULL,
                reason TEXT NOT NULL,
                entries {big} NOT NULL,
                units {big} NOT NULL,
                PRIMARY KEY (facility, day, kind, reason)
            )""",
        ),
    ),
    Migration(
        9,
        "claims: which terminal is clearing an exception order",
        (
            # One row per claimed order: best effort, never a lock (a claim blocks no entry).
            # A claim ends when released, or by itself at expires_at (a dead terminal's too):
            # rows past it are ignored by every read and swept by the next claim write.
            """CREATE TABLE claims (
                facility TEXT NOT NULL,
                order_id TEXT NOT NULL,
                terminal TEXT NOT NULL,
                operator TEXT NOT NULL,
                since TEXT NOT NULL,
                renewed_at TEXT NOT NULL,
                expires_at TEXT NOT NULL,
                PRIMARY KEY (facility, order_id)
            )""",
            "CREATE INDEX claims_by_expiry ON claims (facility, expires_at)",
        ),
    ),
    Migration(
        10,
        "each order's units to put back and still reserved, kept with its lines",
        (
            # Sums over the order's lines, written in the transaction that writes the lines
            # (ingest, the central store's releases, imports: backlog.order_sums and
            # keep_sums), so the backlog reads the waiting orders alone, never their lines.
            # Units to put back: picked less put back (OrderLine.to_put_back); reserved:
            # unpicked less released and rejected (OrderLine.unpicked_open); neither below 0
            # on any line.
            "ALTER TABLE orders ADD COLUMN units_to_put_back {big} NOT NULL DEFAULT 0",
            "ALTER TABLE orders ADD COLUMN units_reserved {big} NOT NULL DEFAULT 0",
            # Existing orders: only those with a line to count are written (the others keep
            # their 0 and, on PostgreSQL, their row).
            "UPDATE orders SET (units_to_put_back, units_reserved) = (SELECT "
            "COALESCE(SUM(CASE WHEN l.picked > l.put_back THEN l.picked - l.put_back "
            "ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN l.quantity - l.picked - l.released - l.rejected > 0 "
            "THEN l.quantity - l.picked - l.released - l.rejected ELSE 0 END), 0) "
            "FROM order_lines l WHERE l.order_id = orders.order_id) "
            "WHERE EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = orders.order_id "
            "AND (l.picked > l.put_back OR l.quantity - l.picked - l.released - l.rejected > 0))",
            # The waiting orders' index, now with the sums: the backlog reads it alone. Its
            # first three columns are orders_by_reconciled's, so SQLite (no statistics) finds
            # it as good a match for the backlog's query and takes it for covering it.
            "DROP INDEX orders_waiting",
            "CREATE INDEX orders_waiting ON orders "
            "(facility, reconciled_at, status, order_id, status_changed_at, first_action_at, "
            "units_to_put_back, units_reserved) "
            "WHERE reconciled_at IS NULL "
            "AND status IN ('cancelled', 'deleted', 'failed', 'rejected')",
        ),
    ),
    Migration(
        11,
        "entries: the undo or resolve reference indexed only where there is one",
        (
            # Nearly every entry has none: a partial index costs ingest nothing for them.
            # (Read with "ref IN (...) AND ref IS NOT NULL": see central/state.py.)
            "DROP INDEX entries_by_ref",
            "CREATE INDEX entries_by_ref ON entries (ref) WHERE ref IS NOT NULL",
        ),
    ),
    Migration(
        12,
        "order lines: no index on their progress",
        (
            # Since migration 10 nothing reads it: the backlog reads the sums kept on the
            # orders, and a facility's detail reads its waiting orders' lines by the primary
            # key (it needs each line's SKU, which this index never held). Every put-back
            # changed an indexed column of its line through it: on PostgreSQL no update of a
            # line could be a HOT update (a new index entry in both indexes, every time); on
            # SQLite each update rewrote its entry here.
            "DROP INDEX order_lines_progress",
        ),
    ),
    Migration(
        13,
        "orders: what ingest changes on every entry in a narrow table of its own",
        (
            # An order's revision and its kept sums (migration 10) change with every entry on
            # it; the rest of the order (status, reconciled, first action) rarely. On `orders`
            # each such update wrote a new version of the wide row with an entry in each of its
            # five indexes (its revision is indexed: on PostgreSQL never a HOT update); here it
            # writes one small row and its two index entries. Keyed by facility first, as
            # every key of the central store. Its row moves with the order (imports).
            """CREATE TABLE order_progress (
                facility TEXT NOT NULL,
                order_id TEXT NOT NULL,
                rev {big} NOT NULL,
                units_to_put_back {big} NOT NULL DEFAULT 0,
                units_reserved {big} NOT NULL DEFAULT 0,
                PRIMARY KEY (facility, order_id)
            )""",
            "INSERT INTO order_progress "
            "(facility, order_id, rev, units_to_put_back, units_reserved) "
            "SELECT facility, order_id, rev, units_to_put_back, units_reserved FROM orders",
            # The changes feed's orders, by facility and revision.
            "CREATE INDEX order_progress_by_rev ON order_progress (facility, rev)",
            # The waiting orders' index without the sums (the backlog reads them here by key).
            "DROP INDEX orders_by_rev",
            "DROP INDEX orders_waiting",
            "CREATE INDEX orders_waiting ON orders "
            "(facility, reconciled_at, status, order_id, status_changed_at, first_action_at) "
            "WHERE reconciled_at IS NULL "
            "AND status IN ('cancelled', 'deleted', 'failed', 'rejected')",
            "ALTER TABLE orders DROP COLUMN rev",
            "ALTER TABLE orders DROP COLUMN units_to_put_back",
            "ALTER TABLE orders DROP COLUMN units_reserved",
        ),
    ),
    Migration(
        14,
        "entries: no index by facility; an order's history by the order alone",
        (
            # Nothing has read it since migrations 7 and 8 gave each read by facility an index
            # of its own: a facility's event feed reads entries_events_by_facility (or
            # entries_by_event), the backlog's refused entries entries_refused, their resolves
            # entries_resolves (tests/central/test_entries_plan.py).
            "DROP INDEX entries_by_facility",
            # An order's history in the order recorded, from an index of the order alone: on
            # SQLite an index ends with the row's key, which is the position, so the old one
            # held it twice; PostgreSQL sorted the order's entries anyway and keeps each order
            # once with the list of its rows (deduplication), where each (order, position) was
            # a key of its own. Every entry enters it, at a place of its own order (ingest
            # writes into most of its pages per batch): the smaller, the fewer pages a batch
            # writes (docs/performance-log.md, "Session 10: the entries' indexes").
            "DROP INDEX entries_by_order",
            "CREATE INDEX entries_by_order ON entries (order_id)",
        ),
    ),
    Migration(
        15,
        "order lines: room on their pages for a put-back's update in place",
        (),
        only={
            # A put-back changes no indexed column of its line (migration 12), so on
            # PostgreSQL its update can be a HOT update (no new index entry, and the old
            # version pruned on the page), but only when the new version fits on the line's
            # page: at the default fillfactor of 100 an imported page is full, and six in ten
            # of ingest's updates moved the line to another page with a new key entry. A
            # fifth of each page left free makes nearly all of them HOT: 1-2 us an entry
            # less of the backend in ingest (a) (docs/performance-log.md, "Session 13: HOT
            # updates on PostgreSQL"). Pages written from now on keep the room: a line on a
            # full page moves once, at its next update, to a page that has it. The orders'
            # progress and the stock keep full pages: their revision is indexed, for the
            # changes feed, so their updates are never HOT, and room measured no faster.
            "postgresql": ("ALTER TABLE order_lines SET (fillfactor = 80)",),
        },
    ),
)


def migrate(engine: Engine) -> list[int]:
    """Apply pending migrations to ``engine``'s database, each in its own transaction.

    Concurrent processes (``central serve --workers``) take turns (:meth:`Engine.migrating`),
    and a migration already recorded in ``central_schema`` is skipped. Then, on PostgreSQL,
    the tables that hold rows but no statistics are analyzed (:func:`analyze_unanalyzed`).

    Returns:
        The versions applied now.
    """
    done: list[int] = []
    with engine.migrating() as tx:
        tx.run(
            "CREATE TABLE IF NOT EXISTS central_schema "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
    for migration in MIGRATIONS:
        with engine.migrating() as tx:
            if tx.all("SELECT 1 FROM central_schema WHERE version = ?", (migration.version,)):
                continue
            for statement in (*migration.statements, *migration.only.get(engine.name, ())):
                tx.run(statement.format(**engine.types))
            tx.run(
                "INSERT INTO central_schema (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, iso_utc(now_utc())),
            )
            done.append(migration.version)
    analyze_unanalyzed(engine)
    return done


UNANALYZED_PAGES = 10
"""Pages from which :func:`analyze_unanalyzed` reads a table's statistics. Below them the
planner assumes ten pages of a table never analyzed anyway."""


def analyze_unanalyzed(engine: Engine) -> list[str]:
    """On PostgreSQL, ``ANALYZE`` the tables that hold rows but have no statistics at all.

    A table gets its rows without statistics when a migration fills it (migration 13's
    ``order_progress``) or a dump is restored (neither writes any), until autovacuum comes by.
    Meanwhile the planner judges every column by defaults: a batch's orders read with their
    lines scan every facility's order lines, however many (a hash join over the whole table,
    82 ms a batch of 200 at 400,000 lines against 1.2 analyzed; docs/performance-log.md,
    "Session 12: the ingest's plans before statistics"). Imports analyze what they load
    (:func:`putback_tui.central.upstream.analyze_after_import`). A store that has its
    statistics costs one query of the catalog. SQLite plans without statistics: nothing.

    Returns:
        The tables analyzed now.
    """
    if engine.name != "postgresql":
        return []
    # Under the migrations' lock: workers opening the store at once analyze a table once.
    with engine.migrating() as tx:
        tables = [
            str(r[0])
            for r in tx.all(
                "SELECT quote_ident(c.relname) FROM pg_class c "
                "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' "
                # reltuples 0: analyzed (or vacuumed) and found empty; -1: never either.
                "AND c.reltuples <> 0 "
                "AND pg_relation_size(c.oid) >= ? * current_setting('block_size')::bigint "
                "AND NOT EXISTS (SELECT 1 FROM pg_stats s "
                "WHERE s.schemaname = current_schema() AND s.tablename = c.relname) "
                "ORDER BY c.relname",
                (UNANALYZED_PAGES,),
            )
        ]
        if tables:
            tx.run(f"ANALYZE {', '.join(tables)}")
    return tables
