"""A batch's keyed reads and updates on PostgreSQL go through the index, not the whole table.

A batch names a few hundred keys out of every facility's rows; a plan that scans the whole
table costs each batch more as the network grows (docs/performance.md, "Where the fan-in's
PostgreSQL time goes").
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from putback_tui.central.backlog import write_notes
from putback_tui.central.state import facility_orders
from putback_tui.central.storage import CentralStore, open_store
from putback_tui.domain.models import Order, OrderLine, OrderStatus, Product
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


@pytest.fixture
def orders(pg_cluster: ThrowawayPostgres) -> Iterator[CentralStore]:
    """A central store with 4,000 orders, 2,000 in each of two facilities, just imported.

    Not analyzed yet, as right after an import: PostgreSQL counts on a few rows per facility.
    """
    url = pg_cluster.create_database()
    store = open_store(url)
    try:
        with store.engine.write(None) as tx:
            tx.run(
                "INSERT INTO orders (order_id, facility, status, status_changed_at) "
                "SELECT 'F' || mod(i, 2) || '-O' || i, 'F' || mod(i, 2), 'in_progress', "
                "'2026-12-07T08:00:00.000000+00:00' "
                "FROM generate_series(1, 4000) AS i"
            )
        yield store
    finally:
        store.close()
        pg_cluster.drop_database(url)


def test_a_batch_s_orders_are_read_through_the_primary_key(orders: CentralStore) -> None:
    # A batch naming half of F0's orders, two of F1's (which F0's batch must not see) and one
    # that does not exist.
    mine = [f"F0-O{i}" for i in range(2, 4001, 4)]
    asked = [*mine, "F1-O1", "F1-O11", "F0-unknown"]
    plans: list[str] = []
    with orders.engine.read() as tx:
        real = tx.conn.execute

        def explained(sql: str, params: object = None, **kw: object) -> object:
            if "FROM orders" in sql:
                plans.extend(r[0] for r in real("EXPLAIN " + sql, params).fetchall())
            return real(sql, params, **kw)

        tx.conn.execute = explained  # type: ignore[method-assign]
        rows = facility_orders(tx, "order_id, status", "F0", sorted(asked))
        tx.conn.execute = real  # type: ignore[method-assign]
    assert sorted(rows) == sorted((k, "in_progress") for k in mine)
    plan = "\n".join(plans)
    # The keys are the index's condition: each order found by its ID, not every order of the
    # facility compared with every key.
    assert "Index Cond: (order_id = ANY" in plan, plan
    assert "Filter: (order_id = ANY" not in plan, plan


def test_a_batch_s_first_actions_after_a_day_s_import_are_written_through_the_key(
    pg_cluster: ThrowawayPostgres,
) -> None:
    # A day's import of 4,000 exception orders, then the terminals' first batch naming 1,000
    # of them: its first actions are one update. On the statistics of the table before the
    # import, PostgreSQL read every waiting order of the facilities for it (29 ms a batch);
    # the import now has the loaded tables analyzed.
    url = pg_cluster.create_database()
    store = open_store(url)
    try:
        store.import_data(
            products=[Product(sku="SKU", description="SKU")],
            orders=[
                Order(order_id=f"F{i % 2}-O{i}", facility=f"F{i % 2}",
                      status=OrderStatus.CANCELLED,
                      lines=(OrderLine(line_no=1, sku="SKU", quantity=2, picked=2),))
                for i in range(4000)
            ],
        )
        first = {f"F0-O{i}": "2026-12-07T09:00:00.000000+00:00" for i in range(0, 4000, 4)}
        plans: list[str] = []
        with store.engine.write("F0") as tx:
            real = tx.conn.execute

            def explained(sql: str, params: object = None, **kw: object) -> object:
                if sql.lstrip().startswith(("WITH", "UPDATE")):
                    plans.extend(r[0] for r in real("EXPLAIN " + sql, params).fetchall())
                return real(sql, params, **kw)

            tx.conn.execute = explained  # type: ignore[method-assign]
            write_notes(tx, first, {})
            tx.conn.execute = real  # type: ignore[method-assign]
        with store.engine.read() as tx:
            [[written]] = tx.all(
                "SELECT COUNT(*) FROM orders WHERE first_action_at IS NOT NULL"
            )
        assert written == 1000
        plan = "\n".join(plans)
        assert "orders_pkey" in plan, plan
    finally:
        store.close()
        pg_cluster.drop_database(url)
