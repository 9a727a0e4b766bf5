"""What the central store's schema costs a put-back: the indexes ingest writes through.

Every index on a table is written by each update that changes one of its columns; on
PostgreSQL such an update can never be a HOT update (a new entry in every index of the table).
A put-back changes its order line's progress, so the lines keep no index on it.
"""

from __future__ import annotations

from putback_tui.central.storage import CentralStore


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
