"""The local ledger: append-only entries, durable commits, clear errors on bad files."""

from __future__ import annotations

import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from putback_tui.barcodes import normalise_gtin
from putback_tui.domain.errors import OverQuantity, Refused, UnknownLocation
from putback_tui.ledger import Ledger, LedgerCorrupt, LedgerError, LedgerLocked
from putback_tui.ledger.rows import KIND_INDEXED
from putback_tui.ledger.schema import migrations
from putback_tui.station import Station
from tests.conftest import stock_of


def _put_back_one(station: Station) -> None:
    station.open_order("D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")


def test_entries_table_refuses_update_and_delete(station: Station, demo_ledger: Ledger) -> None:
    _put_back_one(station)
    conn = sqlite3.connect(demo_ledger.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE entries SET kind = 'release'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM entries")
    conn.close()
    assert [e.kind.value for e in demo_ledger.entries()] == ["put_back"]


def test_schema_refuses_a_second_undo_of_one_entry(station: Station, demo_ledger: Ledger) -> None:
    _put_back_one(station)
    undo = station.undo_last_put_back("D-1002")
    conn = sqlite3.connect(demo_ledger.path)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.execute(
            "INSERT INTO entries (entry_id, created_at, terminal, facility, operator, kind, "
            "details, changes, line_changes, undoes) VALUES "
            "('x', 't', 'PACK-01', 'STORE-01', 'OP-0001', 'undo', '{}', '[]', '[]', ?)",
            (undo.details.undoes,),
        )
    conn.close()


def test_confirmed_put_back_is_visible_to_another_process(
    station: Station, demo_ledger: Ledger
) -> None:
    """Durable on return: a separate process reading the file sees the entry at once."""
    _put_back_one(station)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
            'print(c.execute("SELECT kind, order_id FROM entries").fetchall())',
            str(demo_ledger.path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "('put_back', 'D-1002')" in out.stdout


@pytest.mark.parametrize(
    ("action", "error"),
    [
        (lambda st: st.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01", 5), OverQuantity),
        (lambda st: st.put_back("D-1002", 1, "TSHIRT-BLK-M", "Z-99"), UnknownLocation),
    ],
    ids=["over-quantity", "unknown-location"],
)
def test_a_refused_action_writes_nothing(
    station: Station, demo_ledger: Ledger, action, error
) -> None:
    station.open_order("D-1002")
    before_entries = demo_ledger.entries()
    before_stock = demo_ledger.stock()
    with pytest.raises(error) as caught:
        action(station)
    assert isinstance(caught.value, Refused)
    assert demo_ledger.entries() == before_entries
    assert demo_ledger.stock() == before_stock


def test_a_put_back_waits_for_this_program_s_own_long_write_instead_of_failing(
    demo_ledger: Ledger, station: Station
) -> None:
    """The sync worker's connection holds a write longer than the busy timeout (the last page
    of a large facility's first pull rebases every projection in one transaction: 1.4-1.8 s
    at 100,000 orders on the lead's machine, against a timeout of 2 s): the operator's
    put-back waits its turn and is saved, not refused as "locked by another program".
    """
    station.open_order("D-1002")
    mine = Ledger(demo_ledger.path, busy_timeout_s=0.05)
    sync_side = Ledger(demo_ledger.path)
    began, held_s = threading.Event(), 0.5

    def long_write() -> None:
        with sync_side.write() as tx:
            tx.set_meta("pull_note", "held")
            began.set()
            time.sleep(held_s)

    holder = threading.Thread(target=long_write)
    holder.start()
    try:
        began.wait(5)
        st = Station(mine, station.settings)
        st.sign_in("OP-0001")
        entry = st.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    finally:
        holder.join()
        sync_side.close()
    assert [e.entry_id for e in mine.entries()][-1] == entry.entry_id
    assert stock_of(mine, "TSHIRT-BLK-M") == ({"A-01-01": 11}, 7)
    mine.close()


def test_locked_database_gives_a_clear_error_and_writes_nothing(
    demo_ledger: Ledger, station: Station
) -> None:
    station.open_order("D-1002")
    locked = Ledger(demo_ledger.path, busy_timeout_s=0.05)
    blocker = sqlite3.connect(demo_ledger.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        st = Station(locked, station.settings)
        st.sign_in("OP-0001")
        with pytest.raises(LedgerLocked, match="locked by another program; nothing was saved"):
            st.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert [e.kind.value for e in locked.entries()] == ["release"] or all(
        e.kind.value != "put_back" for e in locked.entries()
    )
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 10}, 6)
    locked.close()


def test_a_file_that_is_not_sqlite_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "putback.sqlite3"
    path.write_bytes(b"this is somebody's notes, not a database\n" * 100)
    before = path.read_bytes()
    with pytest.raises(LedgerCorrupt, match=r"not a SQLite database.*left untouched"):
        Ledger(path)
    assert path.read_bytes() == before


def test_another_programs_sqlite_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(LedgerCorrupt, match="not a putback ledger"):
        Ledger(path)
    assert path.read_bytes() == before


def test_a_truncated_ledger_is_refused_and_left_untouched(
    demo_ledger: Ledger, tmp_path: Path
) -> None:
    demo_ledger.close()
    damaged = tmp_path / "damaged.sqlite3"
    data = demo_ledger.path.read_bytes()
    # Keep the header page but cut the file mid-way: SQLite finds the damage on first read.
    damaged.write_bytes(data[: len(data) // 3])
    before = damaged.read_bytes()

    def open_and_read() -> None:
        ledger = Ledger(damaged)
        ledger.entries()
        ledger.stock()

    with pytest.raises(LedgerError, match=r"damaged|malformed|not a"):
        open_and_read()
    assert damaged.read_bytes() == before


def test_missing_ledger_without_create_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="putback init --demo"):
        Ledger(tmp_path / "nope.sqlite3", create=False)


def test_reopening_applies_no_migration_twice(demo_ledger: Ledger) -> None:
    assert migrations.pending(demo_ledger.db) == []
    names = [m.name for m in migrations.applied(demo_ledger.db)]
    reopened = Ledger(demo_ledger.path)
    assert [m.name for m in migrations.applied(reopened.db)] == names
    reopened.close()


@pytest.mark.parametrize("code", ["012345678905", "0012345678905", "00012345678905"])
def test_upc_a_and_its_longer_forms_find_the_same_product(station: Station, code: str) -> None:
    assert station.product_by_gtin(normalise_gtin(code)).sku == "SOCKS-3PK"


def test_projections_equal_the_rebuild_from_the_ledger(
    station: Station, demo_ledger: Ledger
) -> None:
    for order_id in ("D-1001", "D-1002", "D-1003", "D-1004", "D-1007"):
        station.open_order(order_id)
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    station.put_back("D-1002", 2, "SOCKS-3PK", "EX-01", 2)
    station.put_back("D-1003", 1, "MUG-WHT", "A-01-02", 1)
    station.undo_last_put_back("D-1003")
    station.put_back("D-1007", 1, "FIRSTAID-KIT", "A-03-01", lot="AB-123")
    qoh, atp = demo_ledger.stock()
    rebuilt_qoh, rebuilt_atp = demo_ledger.rebuild_stock()
    assert {(s, loc): n for s, loc, n in qoh} == {k: v for k, v in rebuilt_qoh.items()}
    assert dict(atp) == rebuilt_atp


def _rows_written(ledger: Ledger) -> int:
    with ledger.read() as tx:
        return tx.conn.total_changes


def test_an_entry_writes_only_the_rows_it_changes(station: Station, demo_ledger: Ledger) -> None:
    """Every row written is a page the commit makes durable: none is rewritten with what it held.

    D-1002 is reconciled, then opened again by an undo (its "reconciled by" record is cleared);
    a second undo writes its entry, the QOH and ATP rows and the line's progress, and leaves
    the already cleared record alone.
    """
    station.open_order("D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01", 2)
    with demo_ledger.read() as tx:
        done = tx.reconciled("D-1002")
    assert done is not None
    assert (done.operator, done.terminal) == ("OP-0001", station.terminal)
    station.undo_last_put_back("D-1002")
    with demo_ledger.read() as tx:
        assert tx.reconciled("D-1002") is None
    before = _rows_written(demo_ledger)
    station.undo_last_put_back("D-1002")
    assert _rows_written(demo_ledger) - before == 4  # entry, QOH, ATP, line progress
    with demo_ledger.read() as tx:
        assert tx.reconciled("D-1002") is None
        order = tx.order("D-1002")
    assert order is not None
    assert [line.put_back for line in order.lines] == [0, 0]


def _btrees_written(ledger: Ledger, action: Callable[[], object]) -> set[str]:
    """The tables and indexes whose pages ``action``'s commit wrote to the WAL."""
    wal = Path(f"{ledger.path}-wal")
    start = wal.stat().st_size
    action()
    with ledger.read() as tx:
        frame = 24 + int(tx.conn.execute("PRAGMA page_size").fetchone()[0])
    data = wal.read_bytes()[start:]
    pages = {struct.unpack(">I", data[i : i + 4])[0] for i in range(0, len(data), frame)}
    conn = sqlite3.connect(f"file:{ledger.path}?mode=ro", uri=True)
    try:
        owners = dict(conn.execute("SELECT pageno, name FROM dbstat"))
    finally:
        conn.close()
    return {owners.get(page, "?") for page in pages}


def test_a_put_back_writes_no_page_of_the_kind_index(
    station: Station, demo_ledger: Ledger
) -> None:
    """A put-back's commit writes the entry, its ID and order indexes, QOH, ATP and the line's
    progress; the kind index holds only the kinds looked up by kind (ledger migration m006).
    """
    station.open_order("D-1002")
    written = _btrees_written(
        demo_ledger, lambda: station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    )
    assert "entries_by_kind" not in written
    assert {"entries", "entries_by_order", "stock_qoh", "stock_atp", "line_progress"} <= written


def test_lookups_by_kind_use_the_kind_index(demo_ledger: Ledger) -> None:
    """The queries that look entries up by kind name the index's condition, so SQLite uses it
    (a table scan of every entry otherwise).
    """
    with demo_ledger.read() as tx:
        (index_sql,) = tx.conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'entries_by_kind'"
        ).fetchone()
        assert KIND_INDEXED in index_sql.replace('"', "'")
        for sql, args in [
            (
                f"SELECT created_at FROM entries e WHERE kind = ? AND {KIND_INDEXED} "
                "AND facility = ?",
                ("reject", "STORE-01"),
            ),
            (
                f"SELECT created_at FROM entries WHERE kind IN (?, ?) AND {KIND_INDEXED} "
                "AND facility = ?",
                ("cancel_line", "reduce_line", "STORE-01"),
            ),
        ]:
            plan = " ".join(r[3] for r in tx.conn.execute(f"EXPLAIN QUERY PLAN {sql}", args))
            assert "USING INDEX entries_by_kind" in plan, plan
