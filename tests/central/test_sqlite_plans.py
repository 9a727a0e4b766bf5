"""A batch's reads on SQLite go through the keys it names, whatever the size of its facility.

SQLite plans without statistics. Asked for ``facility = ? AND code IN (...)``, it chose the index
that leads with the facility (``locations_by_rev``) and read every location of the facility for
each batch; at 5,000 locations, 0.56 ms a batch of 200 (docs/performance-log.md, "Session 13:
a batch's locations by their key").
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from putback_tui.central import hot
from putback_tui.central.state import load_hot_state, load_state
from putback_tui.central.storage import CentralStore, open_store
from tests.central_support import put_back_entry

CODES = [f"F3-L{i:05d}" for i in range(0, 5000, 25)]
"""200 of facility F3's 5,000 locations, as a batch names them."""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CentralStore]:
    """5,000 storage locations of facility F3, 5,000 of F4, and one of F4 named like F3's."""
    store = open_store(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    with store.engine.write(None) as tx:
        tx.many(
            "INSERT INTO locations (code, facility, kind, barcode, rev) "
            "VALUES (?, ?, 'storage', ?, 1)",
            [(f"{f}-L{i:05d}", f, f"LOC:{f}-L{i:05d}") for f in ("F3", "F4") for i in range(5000)]
            + [("F3-ELSEWHERE", "F4", "LOC:F3-ELSEWHERE")],
        )
    yield store
    store.close()


def _plans(conn: sqlite3.Connection, statements: list[str]) -> list[str]:
    return [
        str(r[3])
        for sql in statements
        if " FROM locations " in sql
        for r in conn.execute("EXPLAIN QUERY PLAN " + sql)
    ]


def _batch(codes: list[str]) -> list:  # type: ignore[type-arg]
    return [put_back_entry("T3", "F3", n, "F3-O1", "SKU", c) for n, c in enumerate(codes, 1)]


@pytest.mark.parametrize("path", ["hot", "ordinary"])
def test_a_batch_s_locations_are_read_by_their_codes(store: CentralStore, path: str) -> None:
    statements: list[str] = []
    with store.engine.write("F3") as tx:
        conn = tx.conn  # type: ignore[attr-defined]
        conn.set_trace_callback(statements.append)
        entries = _batch([*CODES, "F3-ELSEWHERE", "F3-NOWHERE"])
        if path == "hot":
            batch = hot.decode([e.model_dump_json() for e in entries])
            assert batch is not None
            found = set(load_hot_state(tx, "F3", batch).location_kinds)
        else:
            found = set(load_state(tx, "F3", entries).locations)
        conn.set_trace_callback(None)
        plans = _plans(conn, statements)
    # Only the facility's own: a location of another facility is as unknown as a made-up one.
    assert found == set(CODES)
    assert plans, statements
    assert all("locations_by_rev" not in p for p in plans), plans
    assert any("PRIMARY KEY" in p or "sqlite_autoindex_locations_1" in p for p in plans), plans
