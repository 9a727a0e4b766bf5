"""What the central store's schema costs a put-back: the indexes ingest writes through.

Every index on a table is written by each update that changes one of its columns; on
PostgreSQL such an update can never be a HOT update (a new entry in every index of the table).
A put-back changes its order line's progress, so the lines keep no index on it, and on
PostgreSQL their pages keep room for the update's new version (a HOT update needs it on the
same page). Every entry
ingest records enters each index of the entries not limited to a few of them, so the entries
keep only the indexes their reads use (tests/central/test_entries_plan.py).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from putback_tui.central import schema
from putback_tui.central.imports import import_path
from putback_tui.central.storage import CentralStore, Client, open_store
from putback_tui.dataset import DEMO_DIR
from putback_tui.domain.models import Order, OrderLine, OrderStatus, Product, now_utc
from putback_tui.wire import ClientKind
from tests.central_support import MakeTerminal, store_at_schema
from tests.support.throwaway_pg import ThrowawayPostgres


def _indexes(store: CentralStore, table: str) -> set[str]:
    with store.engine.read() as tx:
        if store.kind == "sqlite":
            rows = tx.all(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
            )
        else:
            rows = tx.all("SELECT indexname FROM pg_indexes WHERE tablename = ?", (table,))
    return {str(r[0]) for r in rows}


def test_order_lines_keep_only_their_key_so_a_put_back_updates_no_index(
    store: CentralStore,
) -> None:
    names = _indexes(store, "order_lines")
    assert len(names) == 1, names  # the primary key (order_id, line_no), never updated


def _orders(prefix: str, n: int) -> list[Order]:
    return [
        Order(order_id=f"{prefix}-{i}", facility="F1", status=OrderStatus.CANCELLED,
              lines=(OrderLine(line_no=1, sku="SKU-1", quantity=10, picked=10),))
        for i in range(n)
    ]


def _put_back_in_place(store: CentralStore, order_ids: list[str]) -> int:
    """Add a unit put back to each order's line 1 as ingest writes it, in one transaction:
    how many of the updates were HOT (the new version on the line's page, no index entry).
    """
    # The backend's counts not yet reported (this transaction's, and maybe earlier ones').
    counts = (
        "SELECT pg_stat_get_xact_tuples_updated('order_lines'::regclass), "
        "pg_stat_get_xact_tuples_hot_updated('order_lines'::regclass)"
    )
    with store.engine.write("F1") as tx:
        [(updated, hot)] = tx.all(counts)
        tx.update_rows(
            "order_lines", ("put_back int",), ("order_id text", "line_no int"),
            [(1, order_id, 1) for order_id in order_ids],
            exprs={"put_back": "order_lines.put_back + {put_back}"},
        )
        [(updated_after, hot_after)] = tx.all(counts)
    assert updated_after - updated == len(order_ids)
    return int(hot_after - hot)


@pytest.mark.postgres
def test_a_put_back_updates_its_line_in_place_on_postgresql(
    pg_cluster: ThrowawayPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines imported into a store of schema 14 fill their pages. Migrated, the store keeps
    them as they were and leaves room on the lines' pages: the lines of orders imported since
    are updated in place by a put-back, and so is a line imported before, once its first
    update has moved it to a page with room.
    """
    url = pg_cluster.create_database()
    old = store_at_schema(url, 14, monkeypatch)
    try:
        old.import_data(products=[Product(sku="SKU-1", description="SKU-1")],
                        orders=_orders("OLD", 300))
        with old.engine.read() as tx:
            lines = tx.all("SELECT * FROM order_lines ORDER BY order_id, line_no")
    finally:
        old.close()
    store = open_store(url)
    try:
        with store.engine.read() as tx:
            assert tx.all("SELECT * FROM order_lines ORDER BY order_id, line_no") == lines
            assert tx.all(
                "SELECT reloptions FROM pg_class WHERE oid = 'order_lines'::regclass"
            ) == [(["fillfactor=80"],)]
        store.import_data(orders=_orders("NEW", 300))
        first = [f"NEW-{i}" for i in range(5)]
        assert _put_back_in_place(store, first) == 5
        assert _put_back_in_place(store, first) == 5
        _put_back_in_place(store, [f"OLD-{i}" for i in range(5)])  # moved off its full page
        assert _put_back_in_place(store, [f"OLD-{i}" for i in range(5)]) == 5
    finally:
        store.close()
        pg_cluster.drop_database(url)


ENTRIES_INDEXES = {
    # Every entry: its ID (ingest's idempotency), its terminal and seq (a terminal's own
    # entries), its order (the order's history).
    "entry_id", "terminal_seq", "entries_by_order",
    # Applied entries until they are published (the event feed's publisher).
    "entries_unpublished",
    # Only the few entries they are made for: published ones (the event feed, the whole
    # network's and a facility's), refused ones, resolves, undos and resolves by reference.
    "entries_by_event", "entries_events_by_facility", "entries_refused", "entries_resolves",
    "entries_by_ref",
}
"""The indexes of the entries, by their name or what their unique key holds."""


def _entries_indexes(store: CentralStore) -> set[str]:
    unique = {
        # SQLite names a table's unique keys by their order in CREATE TABLE.
        "sqlite_autoindex_entries_1": "entry_id", "sqlite_autoindex_entries_2": "terminal_seq",
        "entries_entry_id_key": "entry_id", "entries_terminal_seq_key": "terminal_seq",
    }
    return {unique.get(n, n) for n in _indexes(store, "entries") if n != "entries_pkey"}


def _definition(store: CentralStore, index: str) -> str:
    with store.engine.read() as tx:
        if store.kind == "sqlite":
            [[sql]] = tx.all("SELECT sql FROM sqlite_master WHERE name = ?", (index,))
        else:
            [[sql]] = tx.all("SELECT indexdef FROM pg_indexes WHERE indexname = ?", (index,))
    return str(sql)


def test_the_entries_keep_only_the_indexes_their_reads_use(store: CentralStore) -> None:
    assert _entries_indexes(store) == ENTRIES_INDEXES
    # The order alone: SQLite ends every index with the position (the row's key) anyway.
    assert _definition(store, "entries_by_order").endswith("(order_id)")


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_an_upgrade_from_schema_13_changes_the_entries_indexes_and_no_answer(
    engine: str, make_terminal: MakeTerminal, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> None:
    """A version-13 database with entries (put-backs, a force cancel, a refused put-back) is
    migrated: ``entries_by_facility`` is gone, ``entries_by_order`` holds the order alone, and
    the backlog, a facility's detail with its refused entry, the event feed of the facility
    and of the network, an order's history and a terminal's own entries answer as before;
    what is ingested next is recorded and read as ever.
    """
    if engine == "sqlite":
        url = str(tmp_path / "v13.sqlite3")
    else:
        cluster: ThrowawayPostgres = request.getfixturevalue("pg_cluster")
        url = cluster.create_database()
    old = store_at_schema(url, 13, monkeypatch)
    pack = Client("PACK-01", ClientKind.TERMINAL, "STORE-01")
    two = Client("PACK-02", ClientKind.TERMINAL, "STORE-01")
    one, other = make_terminal("PACK-01"), make_terminal("PACK-02")
    try:
        assert old.health().schema_version == 13
        assert "entries_by_facility" in _indexes(old, "entries")
        position = "position" if engine == "sqlite" else '"position"'  # a keyword to PostgreSQL
        assert _definition(old, "entries_by_order").endswith(f"(order_id, {position})")
        import_path(old, DEMO_DIR)
        old.add_client(pack.name, ClientKind.TERMINAL, "STORE-01")
        old.add_client(two.name, ClientKind.TERMINAL, "STORE-01")
        one.station.force_cancel("D-1008")
        one.station.put_back("D-1004", 1, "BOTTLE-1L", "B-01-01")
        old.ingest(pack, one.ledger.entries())
        other.station.put_back("D-1004", 1, "BOTTLE-1L", "B-01-01")  # done already: refused
        old.ingest(two, other.ledger.entries())
        at = now_utc() + timedelta(minutes=5)

        def answers(store: CentralStore) -> tuple[object, ...]:
            return (
                store.backlog(["STORE-01"], at), store.facility_detail("STORE-01", at),
                store.events(0, 1000, "STORE-01"), store.events(0, 1000),
                store.order_history("D-1004"), store.own_entries(two.name, 0, 100),
                store.recorded(),
            )

        before = answers(old)
        assert old.facility_detail("STORE-01", at).refused  # PACK-02's put-back
    finally:
        old.close()
    upgraded = open_store(url)
    try:
        assert upgraded.health().schema_version == schema.MIGRATIONS[-1].version
        with upgraded.engine.read() as tx:
            assert tx.all("SELECT name FROM central_schema WHERE version = 14")
        assert _entries_indexes(upgraded) == ENTRIES_INDEXES
        assert _definition(upgraded, "entries_by_order").endswith("(order_id)")
        assert answers(upgraded) == before
        one.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
        [result] = upgraded.ingest(pack, one.ledger.entries()[-1:])
        assert result.outcome == "applied"
        history = upgraded.order_history("D-1002")
        assert history is not None
        assert history.entries[-1].entry.entry_id == one.ledger.entries()[-1].entry_id
        assert upgraded.events(0, 1000, "STORE-01").events[-1].entry.order_id == "D-1002"
    finally:
        upgraded.close()
        if engine != "sqlite":
            cluster.drop_database(url)
