"""A write transaction on PostgreSQL waits for the server as few times as its work allows.

A batch's statements that do not need each other's answers travel together (pipeline mode,
``Tx.ask``): the facility's turn is held for fewer waits (docs/performance-log.md, "Session 10:
PostgreSQL's round trips"). What may travel late must still fail as it did: an error of a
queued write rolls the whole transaction back.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from psycopg import waiting
from psycopg.waiting import Wait

from putback_tui.central import hot
from putback_tui.central.engines import INTEGRITY_ERRORS
from putback_tui.central.storage import CentralStore, Client, Contact
from putback_tui.domain.models import (
    Location,
    LocationKind,
    Operator,
    Order,
    OrderLine,
    OrderStatus,
    Product,
)
from putback_tui.wire import ClientKind
from tests.central_support import put_back_entry

F = "F1"
ORDERS = 40


def _world(store: CentralStore) -> Client:
    store.import_data(
        products=[Product(sku=f"S{i}", description="p") for i in range(ORDERS)],
        locations=[Location(code="L-ST", facility=F, kind=LocationKind.STORAGE, barcode="L")],
        operators=[Operator(badge="OP-1", name="Op", role="operator")],
        orders=[
            Order(order_id=f"O{i}", facility=F, status=OrderStatus.CANCELLED,
                  lines=(OrderLine(line_no=1, sku=f"S{i}", quantity=9, picked=9),))
            for i in range(ORDERS)
        ],
        stock=[(F, f"S{i}", "L-ST", 5) for i in range(ORDERS)],
        atp=[(F, f"S{i}", 5) for i in range(ORDERS)],
    )
    store.add_client("T1", ClientKind.TERMINAL, F)
    return Client("T1", ClientKind.TERMINAL, F)


def _batch(first_seq: int, n: int) -> hot.HotBatch:
    entries = [
        put_back_entry("T1", F, seq, f"O{i}", f"S{i}", "L-ST")
        for seq, i in zip(range(first_seq, first_seq + n), range(n), strict=True)
    ]
    batch = hot.decode([e.model_dump_json(exclude_defaults=True) for e in entries])
    assert batch is not None
    return batch


@contextmanager
def counting_waits() -> Iterator[list[int]]:
    """How many times psycopg waits for the server to answer, meanwhile (one a round trip).

    An answer that arrives in pieces makes psycopg wait to read again: waits to read one
    after another, with nothing sent between them, are one wait for the server.
    """
    count = [0]
    real = waiting.wait

    def counted(gen: Generator[Any, Any, Any], *args: Any, **kwargs: Any) -> Any:
        def watched() -> Generator[Any, Any, Any]:
            ready = None
            before = None
            try:
                while True:
                    wait = gen.send(ready)
                    count[0] += wait == Wait.R and before != Wait.R
                    before = wait
                    ready = yield wait
            except StopIteration as stop:
                return stop.value

        return real(watched(), *args, **kwargs)

    waiting.wait = counted
    try:
        yield count
    finally:
        waiting.wait = real



@pytest.mark.postgres
def test_a_batch_of_put_backs_waits_for_postgresql_six_times(pg_store: CentralStore) -> None:
    """BEGIN with the locks; every read; the revisions; the COPY (two); the writes and COMMIT.

    It waited 21 times before: once a statement.
    """
    store = pg_store
    client = _world(store)
    # The first batch makes the pool's connection, the ones after run warm.
    assert store.ingest_hot(client, _batch(1, ORDERS), contact=Contact(ORDERS)) is not None
    with counting_waits() as waits:
        answer = store.ingest_hot(client, _batch(ORDERS + 1, ORDERS), contact=Contact(0))
    assert answer is not None
    assert answer.count('"outcome":"applied"') == ORDERS
    assert waits[0] <= 6
    assert store.last_seq("T1") == 2 * ORDERS
    qoh, atp = store.stock(F)
    assert qoh[("S0", "L-ST")] == 7
    assert atp["S0"] == 7


def test_asked_reads_see_the_transactions_own_writes(store: CentralStore) -> None:
    """``Tx.ask`` and ``Tx.ask_keyed`` answer what ``all`` and ``keyed`` would, at that point."""
    _world(store)
    with store.engine.write(F) as tx:
        tx.update_rows("stock_atp", ("atp bigint",), ("facility text", "sku text"),
                       [(11, F, "S1"), (12, F, "S2")])
        asked = tx.ask("SELECT sku, atp FROM stock_atp WHERE facility = ? ORDER BY sku", (F,))
        keyed = tx.ask_keyed("SELECT sku, atp FROM stock_atp WHERE sku IN ({keys})",
                             ["S1", "S2", "S9"])
        tx.update_rows("stock_atp", ("atp bigint",), ("facility text", "sku text"),
                       [(13, F, "S1")])
        after = tx.all("SELECT atp FROM stock_atp WHERE sku = 'S1'")
        assert sorted(keyed()) == [("S1", 11), ("S2", 12), ("S9", 5)]
        assert asked()[:3] == [("S0", 5), ("S1", 11), ("S10", 5)]
        assert after == [(13,)]


def test_an_error_of_a_queued_write_rolls_the_whole_transaction_back(
    store: CentralStore,
) -> None:
    """A write sent with the COMMIT that breaks a key fails the transaction: nothing is kept."""
    client = _world(store)

    def failing() -> None:
        with store.engine.write(F) as tx:
            tx.update_rows("stock_atp", ("atp bigint",), ("facility text", "sku text"),
                           [(99, F, "S1")])
            # A second client of the same name: the clients' primary key refuses it.
            tx.many("INSERT INTO clients (name, kind, facility, token_hash, created_at) "
                    "VALUES (?, 'terminal', ?, 'x', 'now')", [("T1", F)])

    with pytest.raises(INTEGRITY_ERRORS):
        failing()
    assert store.stock(F)[1]["S1"] == 5
    # The connection went back sound: the next batch is applied.
    assert store.ingest_hot(client, _batch(1, 3)) is not None
    assert store.stock(F)[1]["S1"] == 6
