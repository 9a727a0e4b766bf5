"""Facilities write in parallel: per-facility writers, the event feed across them, and the upgrade
to schema 7 (SQLite and PostgreSQL).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from putback_tui.central import schema
from putback_tui.central.imports import import_path
from putback_tui.central.storage import (
    CentralStore,
    Client,
    PostgresEngine,
    StoreError,
    open_store,
)
from putback_tui.dataset import DEMO_DIR
from putback_tui.domain.entries import Entry
from putback_tui.domain.models import (
    Location,
    LocationKind,
    Operator,
    Order,
    OrderLine,
    OrderStatus,
    Product,
)
from putback_tui.wire import ClaimRequest, ClientKind, Outcome
from tests.central_support import (
    MakeTerminal,
    columns_at_schema,
    put_back_entry,
    rows_in_columns,
    store_at_schema,
)
from tests.support.throwaway_pg import ThrowawayPostgres

SKUS = ("SKU-A", "SKU-B", "SKU-C")


def reference(store: CentralStore, facility: str, orders: int = 5) -> None:
    """Orders of ``facility`` with a million units picked: put-backs of one unit always apply."""
    store.import_data(
        products=[Product(sku=s, description=s) for s in SKUS],
        locations=[Location(code=f"{facility}-A", facility=facility, kind=LocationKind.STORAGE,
                            barcode=f"LOC:{facility}-A")],
        operators=[Operator(badge="OP-1", name="Olivia", role="operator")],
        orders=[
            Order(order_id=f"{facility}-O{i}", facility=facility, status=OrderStatus.CANCELLED,
                  lines=(OrderLine(line_no=1, sku=SKUS[i % 3], quantity=10**6, picked=10**6),))
            for i in range(orders)
        ],
        stock=[(facility, s, f"{facility}-A", 100) for s in SKUS],
        atp=[(facility, s, 100) for s in SKUS],
    )


def put_backs(terminal: str, facility: str, first_seq: int, n: int) -> list[Entry]:
    """``n`` put-backs of one unit by ``terminal``, from sequence number ``first_seq``."""
    return [
        put_back_entry(terminal, facility, seq, f"{facility}-O{seq % 5}", SKUS[(seq % 5) % 3],
                       f"{facility}-A")
        for seq in range(first_seq, first_seq + n)
    ]


def terminal(store: CentralStore, name: str, facility: str) -> Client:
    store.add_client(name, ClientKind.TERMINAL, facility)
    return Client(name=name, kind=ClientKind.TERMINAL, facility=facility)


@pytest.fixture
def pg_store(pg_cluster: ThrowawayPostgres) -> Iterator[CentralStore]:
    url = pg_cluster.create_database()
    s = open_store(url, wait_s=0.5)
    yield s
    s.close()
    pg_cluster.drop_database(url)


@pytest.mark.postgres
def test_a_facility_s_open_write_holds_up_only_that_facility(pg_store: CentralStore) -> None:
    """While a write of F1 is open (in another store, as another process would hold it), a
    batch of F2 is applied at once; one of F1 waits and is answered busy (the API's 503, sent
    again later); a network-wide write waits too.
    """
    for f in ("F1", "F2"):
        reference(pg_store, f)
    t1, t2 = terminal(pg_store, "T1", "F1"), terminal(pg_store, "T2", "F2")
    holding, release = threading.Event(), threading.Event()
    assert isinstance(pg_store.engine, PostgresEngine)
    other = open_store(pg_store.engine.url, migrate=False)

    def hold() -> None:
        with other.engine.write("F1"):
            holding.set()
            release.wait(20)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        results = pg_store.ingest(t2, put_backs("T2", "F2", 1, 3))
        assert {r.outcome for r in results} == {Outcome.APPLIED}
        # F2's claims and its terminals' contacts are F2's writes too: not held up by F1.
        answer = pg_store.claim(t2, "F2-O1", ClaimRequest(operator="OP-0002"))
        assert answer.held
        pg_store.note_contact(t2, 4)
        with pytest.raises(StoreError, match="another write kept the database busy"):
            pg_store.ingest(t1, put_backs("T1", "F1", 1, 3))
        with pytest.raises(StoreError, match="another write kept the database busy"):
            reference(pg_store, "F3")
    finally:
        release.set()
        holder.join()
        other.close()
    assert pg_store.last_seq("T1") == 0
    assert {r.outcome for r in pg_store.ingest(t1, put_backs("T1", "F1", 1, 3))} == {
        Outcome.APPLIED
    }


def test_an_event_reader_racing_writers_of_many_facilities_sees_every_entry_once(
    store: CentralStore,
) -> None:
    """Writers of four facilities commit in any order while a reader follows the event feed by
    its cursor: every applied entry reaches the reader exactly once, and each terminal's in the
    order applied.
    """
    facilities = ["F1", "F2", "F3", "F4"]
    clients = []
    for f in facilities:
        reference(store, f)
        clients += [terminal(store, f"{f}-T1", f), terminal(store, f"{f}-T2", f)]
    before = store.events(0, 1000)
    cursor, seen = before.next_cursor, []
    batches, per = 12, 5
    done = threading.Event()
    errors: list[BaseException] = []

    def write(client: Client) -> None:
        try:
            for b in range(batches):
                entries = put_backs(client.name, client.facility or "", b * per + 1, per)
                results = store.ingest(client, entries)
                assert {r.outcome for r in results} == {Outcome.APPLIED}
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    def read() -> None:
        nonlocal cursor
        try:
            while True:
                finished = done.is_set()
                page = store.events(cursor, 7)
                seen.extend(page.events)
                cursor = page.next_cursor
                if finished and not page.has_more:
                    return
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(c,)) for c in clients]
    reader = threading.Thread(target=read)
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    done.set()
    reader.join()
    assert errors == []
    ids = [e.entry.entry_id for e in seen]
    assert len(ids) == len(set(ids)) == len(clients) * batches * per
    positions = [e.position for e in seen]
    assert positions == sorted(positions)
    for c in clients:
        seqs = [e.entry.seq for e in seen if e.entry.terminal == c.name]
        assert seqs == list(range(1, batches * per + 1))


_TABLES = ("counters", "clients", "entries", "products", "locations", "operators", "orders",
           "order_lines", "stock_qoh", "stock_atp", "roles", "site_reasons")


def test_an_upgrade_from_schema_6_keeps_the_feeds_and_the_cursors_readers_hold(
    store: CentralStore, make_terminal: MakeTerminal, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> None:
    """A version-6 database with orders, stock and entries (the demo's releases, a terminal's
    put-backs, a refusal) is migrated: the event feed lists the same entries at the same
    positions, a cursor read before the upgrade goes on where it was, the changes feed gives the
    same items at the same revisions, and what is written next comes after all of it.
    """
    # Version 6 as its code left it: the same work done by this code (on SQLite, whose
    # revisions still come from the counter row, as version 6's did), then copied row for row,
    # in version 6's columns, into a database migrated only as far as version 6 (SQLite or
    # PostgreSQL). Later migrations' tables and columns are left behind, as they never were.
    now = open_store(str(tmp_path / "now.sqlite3"))
    import_path(now, DEMO_DIR)
    now.add_client("PACK-01", ClientKind.TERMINAL, "STORE-01")
    now.add_client("OMS", ClientKind.SYSTEM, None)
    pack = Client(name="PACK-01", kind=ClientKind.TERMINAL, facility="STORE-01")
    t = make_terminal("PACK-01")
    t.station.force_cancel("D-1008")
    t.station.open_order("D-1002")
    t.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    first = t.ledger.entries()
    now.ingest(pack, first)
    now.set_order_status("D-1003", OrderStatus.CANCELLED)
    changes_before = now.changes(pack, 0, 10_000)
    columns = columns_at_schema(tmp_path / "columns.sqlite3", 6, _TABLES, monkeypatch)
    dump = rows_in_columns(now, _TABLES, columns)
    dump["counters"] = [r for r in dump["counters"] if r[0] == "rev"]
    now.close()
    if isinstance(store.engine, PostgresEngine):
        cluster: ThrowawayPostgres = request.getfixturevalue("pg_cluster")
        url = cluster.create_database()
    else:
        url = str(tmp_path / "v6.sqlite3")
    target = store_at_schema(url, 6, monkeypatch)
    with target.engine.write() as tx:
        tx.run("DELETE FROM counters")
        for table, rows in dump.items():
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                tx.many(
                    f"INSERT INTO {table} ({', '.join(columns[table])}) VALUES ({marks})", rows
                )
        assert tx.all("SELECT MAX(version) FROM central_schema") == [(6,)]
    target.close()
    applied = [r[0] for r in dump["entries"] if r[7] == "applied"]
    assert len(applied) >= 4
    upgraded = open_store(url)
    try:
        assert upgraded.health().schema_version == schema.MIGRATIONS[-1].version
        events = upgraded.events(0, 1000).events
        assert [e.position for e in events] == sorted(applied)
        held = events[1].position  # a reader's cursor from before the upgrade
        assert [e.position for e in upgraded.events(held, 1000).events] == sorted(applied)[2:]
        assert upgraded.changes(pack, 0, 10_000) == changes_before
        old_page = changes_before.next_cursor
        # What is written next comes after everything from before, on both feeds.
        t.station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01", 2)
        later = t.ledger.entries()[len(first):]
        assert {r.outcome for r in upgraded.ingest(pack, later)} == {Outcome.APPLIED}
        new_events = upgraded.events(events[-1].position, 100).events
        assert [e.entry.entry_id for e in new_events] == [e.entry_id for e in later]
        assert all(e.position > max(applied) for e in new_events)
        after = upgraded.changes(pack, old_page, 100)
        assert [o.order_id for o in after.orders] == ["D-1002"]
        assert after.cursor == old_page < after.next_cursor
    finally:
        upgraded.close()
