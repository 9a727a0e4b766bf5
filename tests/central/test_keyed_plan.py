"""A keyed lookup on PostgreSQL reads its keys through the index, not the whole table.

A batch's reads name a few hundred keys out of every facility's rows; a plan that scans the
whole table costs each batch more as the network grows (docs/performance.md, "Where the
fan-in's PostgreSQL time goes").
"""

from __future__ import annotations

import pytest

from putback_tui.central.storage import open_store
from tests.support.throwaway_pg import ThrowawayPostgres

pytestmark = pytest.mark.postgres


def test_order_lines_of_a_batch_are_read_through_the_primary_key(
    pg_cluster: ThrowawayPostgres,
) -> None:
    url = pg_cluster.create_database()
    store = open_store(url)
    try:
        with store.engine.write(None) as tx:
            tx.run(
                "INSERT INTO order_lines (order_id, line_no, sku, quantity, picked) "
                "SELECT 'F' || mod(i, 10) || '-O' || i, 1, 'SKU', 1, 1 "
                "FROM generate_series(1, 20000) AS i"
            )
        keys = [f"F3-O{i}" for i in range(3, 2000, 10)]
        with store.engine.read() as tx:
            rows = tx.keyed(
                "SELECT order_id FROM order_lines WHERE order_id IN ({keys})", keys
            )
            plan = "\n".join(
                r[0]
                for r in tx.keyed(
                    "EXPLAIN SELECT order_id FROM order_lines WHERE order_id IN ({keys})", keys
                )
            )
        assert sorted(r[0] for r in rows) == sorted(keys)
        assert "order_lines_pkey" in plan, plan
        assert "Seq Scan on order_lines" not in plan, plan
    finally:
        store.close()
        pg_cluster.drop_database(url)


def test_a_batch_s_order_lines_are_updated_through_the_primary_key(
    pg_cluster: ThrowawayPostgres,
) -> None:
    url = pg_cluster.create_database()
    store = open_store(url)
    try:
        with store.engine.write(None) as tx:
            tx.run(
                "INSERT INTO order_lines (order_id, line_no, sku, quantity, picked) "
                "SELECT 'F' || mod(i, 10) || '-O' || i, 1, 'SKU', 5, 5 "
                "FROM generate_series(1, 20000) AS i"
            )
        keys = [f"F3-O{i}" for i in range(3, 2000, 10)]
        plans: list[str] = []

        def explained(sql: str, params: object = None, **kw: object) -> object:
            if sql.lstrip().startswith(("WITH", "UPDATE")):
                plans.extend(r[0] for r in tx.conn.execute("EXPLAIN " + sql, params).fetchall())
            return real(sql, params, **kw)

        with store.engine.write(None) as tx:
            real = tx.conn.execute
            tx.conn.execute = explained  # type: ignore[method-assign]
            tx.update_rows(
                "order_lines", ("put_back int",), ("order_id text", "line_no int"),
                [(2, k, 1) for k in keys],
            )
            tx.conn.execute = real  # type: ignore[method-assign]
        with store.engine.read() as tx:
            changed = tx.all("SELECT order_id FROM order_lines WHERE put_back = 2")
        assert sorted(r[0] for r in changed) == sorted(keys)
        plan = "\n".join(plans)
        assert "order_lines_pkey" in plan, plan
        assert "Seq Scan on order_lines" not in plan, plan
    finally:
        store.close()
        pg_cluster.drop_database(url)
