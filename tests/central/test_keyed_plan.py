"""A batch's keyed reads and updates on PostgreSQL go through the index, not the whole table.

A batch names a few hundred keys out of every facility's rows; a plan that scans the whole
table costs each batch more as the network grows (docs/performance-log.md, "Where the fan-in's
PostgreSQL time goes").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from putback_tui.central import hot
from putback_tui.central.backlog import keep_sums, write_notes
from putback_tui.central.state import facility_orders, load_hot_state
from putback_tui.central.storage import CentralStore, open_store
from putback_tui.domain.models import Order, OrderLine, OrderStatus, Product
from tests.central_support import put_back_entry, store_at_schema
from tests.support.throwaway_pg import ThrowawayPostgres

pytestmark = pytest.mark.postgres

KEYS = [f"F3-O{i}" for i in range(3, 2000, 10)]
"""200 orders of one facility, each with one line."""


@pytest.fixture
def fresh(pg_cluster: ThrowawayPostgres) -> Iterator[Callable[[str], CentralStore]]:
    """Fresh central stores on the throwaway cluster, each with the rows one SQL statement
    inserts (none for ""): as right after a load, PostgreSQL has no statistics of them.
    """
    made: list[tuple[CentralStore, str]] = []

    def make(insert: str) -> CentralStore:
        url = pg_cluster.create_database()
        store = open_store(url)
        made.append((store, url))
        if insert:
            with store.engine.write(None) as tx:
                tx.run(insert)
        return store

    yield make
    for store, url in made:
        store.close()
        pg_cluster.drop_database(url)


@contextmanager
def explaining(tx: Any, wanted: Callable[[str], bool]) -> Iterator[list[str]]:
    """The plans of the statements ``tx`` runs meanwhile that are ``wanted`` (each still run)."""
    plans: list[str] = []
    real = tx.conn.execute

    def explained(sql: str, params: object = None, **kw: object) -> object:
        if wanted(sql):
            plans.extend(r[0] for r in real("EXPLAIN " + sql, params).fetchall())
        return real(sql, params, **kw)

    tx.conn.execute = explained
    try:
        yield plans
    finally:
        tx.conn.execute = real


def _updates(sql: str) -> bool:
    return sql.lstrip().startswith(("WITH", "UPDATE"))


@pytest.fixture
def lines(fresh: Callable[[str], CentralStore]) -> CentralStore:
    """A central store with 20,000 order lines, 2,000 in each of 10 facilities."""
    return fresh(
        "INSERT INTO order_lines (order_id, line_no, sku, quantity, picked) "
        "SELECT 'F' || mod(i, 10) || '-O' || i, 1, 'SKU', 5, 5 "
        "FROM generate_series(1, 20000) AS i"
    )


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
    with lines.engine.write(None) as tx, explaining(tx, _updates) as plans:
        tx.update_rows(
            "order_lines",
            ("put_back int",),
            ("order_id text", "line_no int"),
            [(2, k, 1) for k in KEYS],
        )
    with lines.engine.read() as tx:
        changed = tx.all("SELECT order_id FROM order_lines WHERE put_back = 2")
    assert sorted(r[0] for r in changed) == sorted(KEYS)
    plan = "\n".join(plans)
    assert "order_lines_pkey" in plan, plan
    assert "Seq Scan on order_lines" not in plan, plan


@pytest.fixture
def orders(fresh: Callable[[str], CentralStore]) -> CentralStore:
    """A central store with 4,000 orders, 2,000 in each of two facilities, just imported.

    Not analyzed yet, as right after an import: PostgreSQL counts on a few rows per facility.
    """
    return fresh(
        "INSERT INTO orders (order_id, facility, status, status_changed_at) "
        "SELECT 'F' || mod(i, 2) || '-O' || i, 'F' || mod(i, 2), 'in_progress', "
        "'2026-12-07T08:00:00.000000+00:00' "
        "FROM generate_series(1, 4000) AS i"
    )


def test_a_batch_s_orders_are_read_through_the_primary_key(orders: CentralStore) -> None:
    # A batch naming half of F0's orders, two of F1's (which F0's batch must not see) and one
    # that does not exist.
    mine = [f"F0-O{i}" for i in range(2, 4001, 4)]
    asked = [*mine, "F1-O1", "F1-O11", "F0-unknown"]
    with orders.engine.read() as tx, explaining(tx, lambda sql: "FROM orders" in sql) as plans:
        rows = facility_orders(tx, "order_id, status", "F0", sorted(asked))
    assert sorted(rows) == sorted((k, "in_progress") for k in mine)
    plan = "\n".join(plans)
    # The keys are the index's condition: each order found by its ID, not every order of the
    # facility compared with every key.
    assert "Index Cond: (order_id = ANY" in plan, plan
    assert "Filter: (order_id = ANY" not in plan, plan


def test_a_batch_s_first_actions_after_a_day_s_import_are_written_through_the_key(
    fresh: Callable[[str], CentralStore],
) -> None:
    # A day's import of 4,000 exception orders, then the terminals' first batch naming 1,000
    # of them: its first actions are one update. On the statistics of the table before the
    # import, PostgreSQL read every waiting order of the facilities for it (29 ms a batch);
    # the import now has the loaded tables analyzed.
    store = fresh("")
    store.import_data(
        products=[Product(sku="SKU", description="SKU")],
        orders=[
            Order(
                order_id=f"F{i % 2}-O{i}",
                facility=f"F{i % 2}",
                status=OrderStatus.CANCELLED,
                lines=(OrderLine(line_no=1, sku="SKU", quantity=2, picked=2),),
            )
            for i in range(4000)
        ],
    )
    first = {f"F0-O{i}": "2026-12-07T09:00:00.000000+00:00" for i in range(0, 4000, 4)}
    with store.engine.write("F0") as tx, explaining(tx, _updates) as plans:
        write_notes(tx, first, {})
    with store.engine.read() as tx:
        [[written]] = tx.all("SELECT COUNT(*) FROM orders WHERE first_action_at IS NOT NULL")
    assert written == 1000
    plan = "\n".join(plans)
    assert "orders_pkey" in plan, plan


@pytest.fixture
def progress(fresh: Callable[[str], CentralStore]) -> CentralStore:
    """A central store with 20,000 orders' progress rows, 2,000 in each of 10 facilities."""
    return fresh(
        "INSERT INTO order_progress (facility, order_id, rev) "
        "SELECT 'F' || mod(i, 10), 'F' || mod(i, 10) || '-O' || i, i "
        "FROM generate_series(1, 20000) AS i"
    )


@pytest.mark.parametrize("analyzed", [False, True], ids=["before-statistics", "analyzed"])
def test_a_batch_s_order_progress_is_updated_through_the_primary_key(
    progress: CentralStore, analyzed: bool
) -> None:
    # Sent as a JSON recordset (counted as 100 rows), a facility's 200 orders were hash-joined
    # with a scan of every facility's 20,000 rows, statistics or none.
    if analyzed:
        with progress.engine.migrating() as tx:
            tx.run("ANALYZE order_progress")
    with progress.engine.write("F3") as tx, explaining(tx, _updates) as plans:
        tx.update_rows(
            "order_progress",
            ("rev bigint", "units_to_put_back bigint", "units_reserved bigint"),
            ("facility text", "order_id text"),
            [(100_000 + n, 1, 0, "F3", k) for n, k in enumerate(KEYS)],
        )
    with progress.engine.read() as tx:
        changed = tx.all("SELECT order_id FROM order_progress WHERE rev >= 100000")
    assert sorted(r[0] for r in changed) == sorted(KEYS)
    plan = "\n".join(plans)
    assert "order_progress_pkey" in plan, plan
    assert "Seq Scan on order_progress" not in plan, plan


def test_a_hot_batch_s_orders_and_lines_are_read_by_their_keys_once_migrated(
    pg_cluster: ThrowawayPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A store of schema 12 holding 20,000 orders of ten facilities and their 40,000 lines,
    # loaded with no statistics (as a restored dump: no ANALYZE), is opened and so migrated.
    # Without statistics a hot batch's orders read with their lines hash-join them with a scan
    # of every facility's lines (any number of them): opening the store analyzes the tables
    # that have rows and no statistics.
    url = pg_cluster.create_database()
    old = store_at_schema(url, 12, monkeypatch)
    with old.engine.write(None) as tx:
        tx.run(
            "INSERT INTO orders (order_id, facility, status, rev) "
            "SELECT 'F' || mod(i, 10) || '-O' || i, 'F' || mod(i, 10), 'cancelled', i "
            "FROM generate_series(1, 20000) AS i"
        )
        tx.run(
            "INSERT INTO order_lines (order_id, line_no, sku, quantity, picked) "
            "SELECT 'F' || mod(i, 10) || '-O' || i, n, 'SKU', 5, 5 "
            "FROM generate_series(1, 20000) AS i, generate_series(1, 2) AS n"
        )
    old.close()
    store = open_store(url)
    try:
        batch = hot.decode(
            [put_back_entry("T3", "F3", n, k, "SKU", "L").model_dump_json()
             for n, k in enumerate(KEYS, 1)]
        )
        assert batch is not None
        with store.engine.write("F3") as tx, explaining(
            tx, lambda sql: "JOIN order_lines" in sql
        ) as plans:
            state = load_hot_state(tx, "F3", batch)
        assert sorted(state.orders) == sorted(KEYS)
        assert all(len(o.lines) == 2 for o in state.orders.values())
        plan = "\n".join(plans)
        assert "order_lines_pkey" in plan, plan
        assert "Seq Scan on order_lines" not in plan, plan
    finally:
        store.close()
        pg_cluster.drop_database(url)


@pytest.fixture
def progress_and_lines(fresh: Callable[[str], CentralStore]) -> CentralStore:
    """20,000 orders of 10 facilities, each with its progress row and one line of 5 units.

    Two of the units picked; no statistics, as inside a new import's transaction.
    """
    store = fresh(
        "INSERT INTO order_progress (facility, order_id, rev) "
        "SELECT 'F' || mod(i, 10), 'F' || mod(i, 10) || '-O' || i, i "
        "FROM generate_series(1, 20000) AS i"
    )
    with store.engine.write(None) as tx:
        tx.run(
            "INSERT INTO order_lines (order_id, line_no, sku, quantity, picked) "
            "SELECT 'F' || mod(i, 10) || '-O' || i, 1, 'SKU', 5, 2 "
            "FROM generate_series(1, 20000) AS i"
        )
    return store


def test_kept_sums_are_written_through_the_primary_key_in_the_plan_postgresql_keeps(
    progress_and_lines: CentralStore,
) -> None:
    # After five runs of a statement, PostgreSQL may keep one plan for every later run, made
    # without the parameters' values (a generic plan). An import keeps the sums of its orders
    # a list at a time, and each release's; asked as "order_id IN" a list of parameters, that
    # plan read every order of the facility for each list: an import of 40,000 orders spent
    # 58 of its 113 s there.
    with progress_and_lines.engine.write("F3") as tx:
        tx.run("SET LOCAL plan_cache_mode = force_generic_plan")
        with explaining(tx, _updates) as plans:
            keep_sums(tx, [("F3", k) for k in KEYS])
    with progress_and_lines.engine.read() as tx:
        kept = tx.all(
            "SELECT order_id, units_reserved FROM order_progress WHERE units_reserved > 0"
        )
    assert sorted(kept) == sorted((k, 3) for k in KEYS)
    plan = "\n".join(plans)
    assert "order_progress_pkey" in plan, plan
    assert "order_progress_by_rev" not in plan, plan
    assert "Seq Scan on order_progress" not in plan, plan
