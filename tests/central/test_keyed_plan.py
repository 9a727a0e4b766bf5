"""A batch's keyed reads and updates on PostgreSQL go through the index, not the whole table.

A batch names a few hundred keys out of every facility's rows; a plan that scans the whole
table costs each batch more as the network grows (docs/performance.md, "Where the fan-in's
PostgreSQL time goes").
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from putback_tui.central.storage import CentralStore, open_store
from tests.support.throwaway_pg import ThrowawayPostgres

pytestmark = pytest.mark.postgres

KEYS = [f"F3-O{i}" for i in range(3, 2000, 10)]
"""200 orders of one facility, each with one line."""


@pytest.fixture
def lines(pg_cluster: ThrowawayPostgres) -> Iterator[CentralStore]:
    """A central store with 20,000 order lines, 2,000 in each of 10 facilities."""
    url = pg_cluster.create_database()
    store = open_store(url)
    try:
        with store.engine.write(None) as tx:
            tx.run(
                "INSERT INTO order_lines (order_id, line_no, sku, quantity, picked) "
                "SELECT 'F' || mod(i, 10) || '-O' || i, 1, 'SKU', 5, 5 "
                "FROM generate_series(1, 20000) AS i"
            )
        yield store
    finally:
        store.close()
        pg_cluster.drop_database(url)


def test_order_lines_of_a_batch_are_read_through_the_primary_key(lines: CentralStore) -> None:
    with lines.engine.read() as tx:
        rows = tx.keyed("SELECT order_id FROM order_lines WHERE order_id IN ({keys})", KEYS)
        plan = "\n".join(
            r[0]
            for r in tx.keyed(
                "EXPLAIN SELECT order_id FROM order_lines WHERE order_id IN ({keys})", KEYS
            )
        )
    assert sorted(r[0] for r in rows) == sorted(KEYS)
    assert "order_lines_pkey" in plan, plan
    assert "Seq Scan on order_lines" not in plan, plan


def test_a_batch_s_order_lines_are_updated_through_the_primary_key(lines: CentralStore) -> None:
    plans: list[str] = []

    def explained(sql: str, params: object = None, **kw: object) -> object:
        if sql.lstrip().startswith(("WITH", "UPDATE")):
            plans.extend(r[0] for r in tx.conn.execute("EXPLAIN " + sql, params).fetchall())
        return real(sql, params, **kw)

    with lines.engine.write(None) as tx:
        real = tx.conn.execute
        tx.conn.execute = explained  # type: ignore[method-assign]
        tx.update_rows(
            "order_lines", ("put_back int",), ("order_id text", "line_no int"),
            [(2, k, 1) for k in KEYS],
        )
        tx.conn.execute = real  # type: ignore[method-assign]
    with lines.engine.read() as tx:
        changed = tx.all("SELECT order_id FROM order_lines WHERE put_back = 2")
    assert sorted(r[0] for r in changed) == sorted(KEYS)
    plan = "\n".join(plans)
    assert "order_lines_pkey" in plan, plan
    assert "Seq Scan on order_lines" not in plan, plan
