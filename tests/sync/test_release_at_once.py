"""Release the moment an exception is known, once: by the central store, or by a terminal."""

from __future__ import annotations

from datetime import UTC, datetime

from putback_tui.central.server import BackgroundServer
from putback_tui.domain.entries import CENTRAL_TERMINAL, SYSTEM_OPERATOR, EntryKind
from putback_tui.domain.models import Order, OrderLine, OrderStatus
from putback_tui.ledger import Transaction
from putback_tui.ledger import sync as book
from putback_tui.station import Outcome
from putback_tui.sync.worker import SyncWorker
from tests.central_support import Central, MakeTerminal, from_terminals


def central_releases(central: Central) -> list[tuple[str | None, int | None, str, str]]:
    return [
        (e.entry.order_id, e.entry.details.quantity, e.entry.operator, e.entry.terminal)
        for e in central.store.events(0, 1000).events
        if e.entry.terminal == CENTRAL_TERMINAL
    ]


def test_an_import_releases_its_exception_orders_unpicked_units_as_the_central_stores_own(
    central: Central,
) -> None:
    # D-1001: 2 T-shirts and 1 mug, nothing picked; D-1003: 1 mug and 1 cap not picked.
    assert central_releases(central) == [
        ("D-1001", 3, SYSTEM_OPERATOR, CENTRAL_TERMINAL),
        ("D-1003", 2, SYSTEM_OPERATOR, CENTRAL_TERMINAL),
    ]
    _, atp = central.store.stock("STORE-01")
    assert (atp["TSHIRT-BLK-M"], atp["MUG-WHT"], atp["CAP-RED"]) == (8, 5, 3)
    d1001 = central.store.order("D-1001")
    assert d1001 is not None
    assert [ln.released for ln in d1001.lines] == [2, 1]
    # Importing the same data again releases nothing twice: the line counters decide.
    from putback_tui.central.imports import import_path
    from putback_tui.dataset import DEMO_DIR

    import_path(central.store, DEMO_DIR)
    assert len(central_releases(central)) == 2


def test_the_oms_setting_a_status_releases_at_once_on_both_feeds(central: Central) -> None:
    client = central.store.authenticate(central.tokens["PACK-01"])
    assert client is not None
    cursor = central.store.changes(client, 0, 10_000).next_cursor
    order = central.store.set_order_status(
        "D-1008", OrderStatus.CANCELLED, datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    )
    # One of the two mugs was picked (it waits for a put-back); the other and the socks go.
    assert [(ln.released, ln.to_put_back) for ln in order.lines] == [(1, 1), (1, 0)]
    assert central_releases(central)[-1] == ("D-1008", 2, SYSTEM_OPERATOR, CENTRAL_TERMINAL)
    after = central.store.changes(client, cursor, 1000)
    assert [o.order_id for o in after.orders] == ["D-1008"]
    assert {s.sku: s.quantity for s in after.stock} == {"MUG-WHT": 6, "SOCKS-3PK": 9}
    assert after.reconciled == ()  # the picked mug still waits
    # The OMS saying it again changes nothing.
    central.store.set_order_status("D-1008", OrderStatus.CANCELLED)
    assert len(central_releases(central)) == 3
    assert central.store.stock("STORE-01")[1]["MUG-WHT"] == 6


def test_an_order_named_twice_in_one_release_is_released_once(central: Central) -> None:
    # The releases of many orders are read first and written together: an order named twice
    # must not be released twice from the same reading of its lines.
    from putback_tui.central.releases import release_exceptions

    with central.store.engine.write(None) as tx:
        tx.run("UPDATE orders SET status = 'cancelled' WHERE order_id = 'D-1008'")
        made = release_exceptions(tx, ["D-1008", "D-1008"])
    assert [(e.order_id, e.details.quantity) for e in made] == [("D-1008", 2)]
    order = central.store.order("D-1008")
    assert order is not None
    assert [ln.released for ln in order.lines] == [1, 1]
    assert central.store.stock("STORE-01")[1]["MUG-WHT"] == 6


def test_a_terminal_pulls_the_central_release_and_says_who_released_it(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal()
    central.store.set_order_status("D-1005", OrderStatus.FAILED)
    worker = SyncWorker(
        t.path,
        t.sync_settings(server.url, central.tokens["PACK-01"]),
        release_as=("PACK-01", "STORE-01"),
    )
    state = worker.run_once()
    worker.stop()
    assert (state.online, state.waiting, state.refused) == (True, 0, 0)
    assert t.ledger.entries() == []  # nothing left for this terminal to release
    view = t.station.open_order("D-1005")
    assert view.outcome is Outcome.RECONCILED
    assert view.message.startswith("Order D-1005 was already released, ")
    assert view.message.endswith(
        "by the central store (automatic release): nothing was picked, nothing to do."
    )
    assert t.ledger.entries() == []
    qoh, atp = t.ledger.stock()
    assert ({(s, loc): n for s, loc, n in qoh}, dict(atp)) == central.store.stock("STORE-01")
    assert from_terminals(central.store) == []


def _page(tx: Transaction, cursor: int, orders: list[Order], release: bool) -> bool:
    return book.apply_page(
        tx,
        cursor=cursor,
        next_cursor=cursor + 1,
        has_more=False,
        applied_through_seq=0,
        orders=orders,
        release_as=("PACK-01", "STORE-01") if release else None,
    )


def test_a_pulled_page_that_makes_an_exception_releases_it_here_once(
    make_terminal: MakeTerminal,
) -> None:
    """A central store that did not release (an older one, or a status from elsewhere): the
    terminal that learns of the exception from a pulled page releases at once, and only once.
    """
    t = make_terminal()
    cancelled = Order(
        order_id="D-1005",
        facility="STORE-01",
        status=OrderStatus.CANCELLED,
        lines=(OrderLine(line_no=1, sku="TSHIRT-BLK-M", quantity=2, picked=0),),
    )
    atp_before = dict(t.ledger.stock("TSHIRT-BLK-M")[1])["TSHIRT-BLK-M"]
    with t.ledger.write() as tx:
        _page(tx, 1, [cancelled], release=True)
    [entry] = t.ledger.entries()
    assert (entry.kind, entry.order_id, entry.operator, entry.terminal) == (
        EntryKind.RELEASE,
        "D-1005",
        SYSTEM_OPERATOR,
        "PACK-01",
    )
    assert dict(t.ledger.stock("TSHIRT-BLK-M")[1])["TSHIRT-BLK-M"] == atp_before + 2
    with t.ledger.write() as tx:
        _page(tx, 2, [cancelled], release=True)  # the same order pulled again
    assert len(t.ledger.entries()) == 1
    view = t.station.open_order("D-1005")
    assert view.outcome is Outcome.RECONCILED
    assert "by PACK-01 (automatic release)" in view.message


def test_a_loaded_data_set_counts_as_learning_of_its_exceptions(
    make_terminal: MakeTerminal,
) -> None:
    """``putback init --demo`` (release_as): D-1001 needs no visit, D-1003 only its put-back."""
    from putback_tui.dataset import DEMO_DIR, Dataset
    from putback_tui.ledger import Ledger
    from putback_tui.ledger.load import load_dataset

    t = make_terminal()
    fresh = Ledger(t.path.with_name("fresh.sqlite3"))
    try:
        counts = load_dataset(fresh, Dataset(DEMO_DIR), "STORE-01", release_as="PACK-01")
        assert counts["released orders"] == 2
        assert [(e.order_id, e.operator) for e in fresh.entries()] == [
            ("D-1001", SYSTEM_OPERATOR),
            ("D-1003", SYSTEM_OPERATOR),
        ]
        d1003 = fresh.order("D-1003")
        assert d1003 is not None
        assert [(ln.released, ln.to_put_back) for ln in d1003.lines] == [(1, 2), (1, 0)]
    finally:
        fresh.close()
