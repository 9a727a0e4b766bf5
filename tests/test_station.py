"""The station on the demo data: every rule of docs/rules.md via the real ledger, stock checked."""

from __future__ import annotations

import pytest

from putback_tui.config import Settings
from putback_tui.domain.entries import EntryKind
from putback_tui.domain.errors import (
    CancelNotAllowed,
    LotRequired,
    NotEnoughStock,
    NothingToUndo,
    NotSignedIn,
    OrderNotException,
    OrderShipped,
    OverQuantity,
    PermissionDenied,
    UndoNotExact,
    UnknownOperator,
    UnknownOrder,
    WrongFacility,
    WrongLocationKind,
    WrongLot,
)
from putback_tui.domain.models import OrderStatus, RejectReason
from putback_tui.ledger import Ledger
from putback_tui.station import Outcome, Station
from tests.conftest import stock_of


def test_unknown_badge_is_refused(demo_ledger: Ledger) -> None:
    st = Station(demo_ledger, Settings())
    with pytest.raises(UnknownOperator, match="Badge XX-1 is not known here"):
        st.sign_in("XX-1")
    with pytest.raises(NotSignedIn, match="Scan your badge"):
        st.open_order("D-1001")


def test_d1001_nothing_picked_is_released_and_done_at_once(
    station: Station, demo_ledger: Ledger
) -> None:
    view = station.open_order("D-1001")
    assert view.outcome is Outcome.RELEASED
    assert view.message == "Order D-1001 done: 2 lines, 3 units returned to available stock."
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 10}, 8)
    assert stock_of(demo_ledger, "MUG-WHT") == ({"A-01-02": 5}, 4)


def test_d1001_opened_again_says_it_was_already_released_by_whom_and_changes_nothing(
    station: Station, demo_ledger: Ledger
) -> None:
    station.open_order("D-1001")
    entries = demo_ledger.entries()
    view = station.open_order("D-1001")
    assert view.outcome is Outcome.RECONCILED
    assert view.message.startswith("Order D-1001 was already released, ")
    assert "by OP-0001 at PACK-01: nothing was picked, nothing to do." in view.message
    assert demo_ledger.entries() == entries


def test_d1002_all_picked_is_put_back_line_by_line(station: Station, demo_ledger: Ledger) -> None:
    view = station.open_order("D-1002")
    assert view.outcome is Outcome.PUT_BACK
    assert view.suggestions == {1: "A-01-01", 2: "A-02-01"}
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01")
    station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01")
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 11}, 7)
    assert stock_of(demo_ledger, "SOCKS-3PK") == ({"A-02-01": 10}, 10)
    assert station.open_order("D-1002").outcome is Outcome.RECONCILED


def test_d1003_partly_picked_needs_release_and_put_back(
    station: Station, demo_ledger: Ledger
) -> None:
    view = station.open_order("D-1003")
    assert view.message == (
        "Order D-1003: 2 lines, 2 units returned to available stock; 2 units to put back."
    )
    assert stock_of(demo_ledger, "CAP-RED") == ({"A-02-02": 3}, 3)
    assert stock_of(demo_ledger, "MUG-WHT") == ({"A-01-02": 5}, 4)
    station.put_back("D-1003", 1, "MUG-WHT", "A-01-02", 2)
    assert stock_of(demo_ledger, "MUG-WHT") == ({"A-01-02": 7}, 6)


def test_d1004_put_back_into_the_exception_area_counts_in_qoh_not_atp(
    station: Station, demo_ledger: Ledger
) -> None:
    station.open_order("D-1004")
    station.put_back("D-1004", 1, "BOTTLE-1L", "EX-01")
    assert stock_of(demo_ledger, "BOTTLE-1L") == ({"B-01-01": 4, "EX-01": 1}, 4)


def test_move_out_of_the_exception_area_makes_units_available(
    station: Station, demo_ledger: Ledger
) -> None:
    station.open_order("D-1004")
    station.put_back("D-1004", 1, "BOTTLE-1L", "EX-01")
    with pytest.raises(NotEnoughStock, match="Only 1 unit of BOTTLE-1L sit in EX-01, not 2"):
        station.move_out("BOTTLE-1L", "EX-01", "B-01-01", 2)
    station.move_out("BOTTLE-1L", "EX-01", "B-01-01", 1)
    assert stock_of(demo_ledger, "BOTTLE-1L") == ({"B-01-01": 5, "EX-01": 0}, 5)


def test_d1005_live_order_changes_nothing_by_itself(station: Station, demo_ledger: Ledger) -> None:
    view = station.open_order("D-1005")
    assert view.outcome is Outcome.LIVE
    assert demo_ledger.entries() == []
    with pytest.raises(OrderNotException):
        station.put_back("D-1005", 1, "TSHIRT-BLK-M", "A-01-01")


def test_d1006_shipped_is_refused_as_a_return(station: Station) -> None:
    with pytest.raises(OrderShipped, match=r"^Order D-1006 has shipped: handle it as a return\.$"):
        station.open_order("D-1006")


def test_unknown_order_is_refused(station: Station) -> None:
    with pytest.raises(UnknownOrder, match="Order D-9999 is not known here"):
        station.open_order("D-9999")


def test_d1007_lot_tracked_needs_its_lot(station: Station, demo_ledger: Ledger) -> None:
    station.open_order("D-1007")
    with pytest.raises(LotRequired, match="lot-tracked"):
        station.put_back("D-1007", 1, "FIRSTAID-KIT", "A-03-01")
    with pytest.raises(WrongLot, match="Lot ZZ-9 is not the lot picked for this line"):
        station.put_back("D-1007", 1, "FIRSTAID-KIT", "A-03-01", lot="ZZ-9")
    station.put_back("D-1007", 1, "FIRSTAID-KIT", "A-03-01", lot="AB-123")
    assert stock_of(demo_ledger, "FIRSTAID-KIT") == ({"A-03-01": 7}, 7)


@pytest.mark.parametrize(
    ("location", "error", "message"),
    [
        ("PACK-01", WrongLocationKind, "PACK-01 is a packing location"),
    ],
)
def test_location_refusals(station: Station, location: str, error: type, message: str) -> None:
    station.open_order("D-1002")
    with pytest.raises(error, match=message):
        station.put_back("D-1002", 1, "TSHIRT-BLK-M", location)


def test_location_of_another_facility_is_refused(demo_ledger: Ledger) -> None:
    with demo_ledger.write() as tx:
        from putback_tui.domain.models import Location, LocationKind

        tx.upsert_locations(
            [
                Location(
                    code="Z-01", facility="STORE-02", kind=LocationKind.STORAGE, barcode="LOC:Z-01"
                )
            ]
        )
    st = Station(demo_ledger, Settings())
    st.sign_in("OP-0001")
    st.open_order("D-1002")
    with pytest.raises(WrongFacility, match="Location Z-01 belongs to STORE-02, not STORE-01"):
        st.put_back("D-1002", 1, "TSHIRT-BLK-M", "Z-01")


def test_nothing_is_put_back_twice(station: Station) -> None:
    station.open_order("D-1004")
    station.put_back("D-1004", 1, "BOTTLE-1L", "B-01-01")
    with pytest.raises(
        OverQuantity, match="Nothing of BOTTLE-1L is left to put back on order D-1004"
    ):
        station.put_back("D-1004", 1, "BOTTLE-1L", "B-01-01")


def test_undo_is_a_compensating_entry_and_restores_stock(
    station: Station, demo_ledger: Ledger
) -> None:
    station.open_order("D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    undo = station.undo_last_put_back("D-1002")
    assert undo.kind is EntryKind.UNDO
    assert [e.kind for e in demo_ledger.entries()] == [EntryKind.PUT_BACK, EntryKind.UNDO]
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 10}, 6)
    with pytest.raises(NothingToUndo, match="No put-back of order D-1002 is left to undo"):
        station.undo_last_put_back("D-1002")
    # The line is open again: the unit can be put back once more.
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")


@pytest.mark.parametrize(
    ("reason", "qoh", "atp"),
    [
        (RejectReason.NOT_IN_STOCK, 0, 0),
        (RejectReason.MISMATCH, 9, 6),
        (RejectReason.DAMAGE, 10, 6),
        (RejectReason.WORN_DISPLAY, 10, 6),
    ],
    ids=["not-in-stock", "mismatch", "damage", "worn-display"],
)
def test_reject_one_unit_of_d1005_per_reason(
    station: Station, demo_ledger: Ledger, reason: RejectReason, qoh: int, atp: int
) -> None:
    """TSHIRT-BLK-M: QOH 10, ATP 6 with 2 reserved for D-1005; reject 1 unit of it."""
    entry = station.reject("D-1005", 1, reason, 1)
    assert entry.details.reroute is True
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": qoh}, atp)


def test_operator_may_not_cancel_and_the_refusal_is_recorded(
    station: Station, demo_ledger: Ledger
) -> None:
    with pytest.raises(PermissionDenied, match="permission 'cancel_order' is missing"):
        station.cancel("D-1005")
    [entry] = demo_ledger.entries()
    assert entry.kind is EntryKind.REFUSAL
    assert entry.details.permission == "cancel_order"
    assert entry.changes == ()
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 10}, 6)


def test_supervisor_cancels_an_unpicked_live_order(demo_ledger: Ledger) -> None:
    st = Station(demo_ledger, Settings())
    st.sign_in("SV-0001")
    st.cancel("D-1005")
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 10}, 8)
    assert st.view("D-1005").order.status is OrderStatus.CANCELLED


def test_cancel_is_refused_once_a_label_exists_but_force_cancel_works(demo_ledger: Ledger) -> None:
    with demo_ledger.write() as tx:
        tx.conn.execute("UPDATE orders SET has_label = 1 WHERE order_id = 'D-1005'")
    st = Station(demo_ledger, Settings())
    st.sign_in("SV-0001")
    with pytest.raises(CancelNotAllowed, match="has a shipping label"):
        st.cancel("D-1005")
    view = st.force_cancel("D-1005")
    assert view.message == (
        "Order D-1005 cancelled: 2 units returned to available stock, 0 units to put back."
    )
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 10}, 8)


def test_bulk_reject_open_orders_states_its_reach_then_releases(demo_ledger: Ledger) -> None:
    st = Station(demo_ledger, Settings())
    st.sign_in("SV-0001")
    assert st.bulk_reject_preview(OrderStatus.OPEN) == (1, 2)
    entries = st.bulk_reject(OrderStatus.OPEN)
    assert [e.order_id for e in entries] == ["D-1005"]
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == ({"A-01-01": 10}, 8)
    assert st.view("D-1005").order.status is OrderStatus.REJECTED


def test_a_bulk_rejected_order_opened_again_says_it_was_rejected_not_released(
    demo_ledger: Ledger,
) -> None:
    """Its unpicked units were rejected (re-routed), not released: the message says so.

    As the order's lines do: rejected 2, released 0.
    """
    st = Station(demo_ledger, Settings())
    st.sign_in("SV-0001")
    st.bulk_reject(OrderStatus.OPEN)
    view = st.open_order("D-1005")
    assert view.outcome is Outcome.RECONCILED
    assert view.message.startswith("Order D-1005 was rejected, ")
    assert view.message.endswith("by SV-0001 at PACK-01: nothing was picked, nothing to do.")
    assert [(ln.rejected, ln.released) for ln in view.order.lines] == [(2, 0)]


def test_undo_is_refused_once_the_units_have_moved_on(
    station: Station, demo_ledger: Ledger
) -> None:
    """Put back into EX-01, move it out to storage, then undo: refused, stock untouched."""
    station.open_order("D-1004")
    station.put_back("D-1004", 1, "BOTTLE-1L", "EX-01")
    station.move_out("BOTTLE-1L", "EX-01", "B-01-01", 1)
    before = demo_ledger.entries(), demo_ledger.stock()
    with pytest.raises(UndoNotExact, match="BOTTLE-1L of that put-back has moved on from EX-01"):
        station.undo_last_put_back("D-1004")
    assert (demo_ledger.entries(), demo_ledger.stock()) == before


def test_exception_area_lists_what_sits_there_and_since_when(
    station: Station, demo_ledger: Ledger
) -> None:
    station.open_order("D-1004")
    station.open_order("D-1002")
    station.put_back("D-1004", 1, "BOTTLE-1L", "EX-01")
    station.put_back("D-1002", 2, "SOCKS-3PK", "EX-01", 2)
    with demo_ledger.read() as tx:
        rows = tx.exception_stock("STORE-01")
    assert [(loc, sku, n) for loc, sku, n, _ in rows] == [
        ("EX-01", "BOTTLE-1L", 1),
        ("EX-01", "SOCKS-3PK", 2),
    ]
    assert all(since is not None and since.tzinfo is not None for *_, since in rows)
    station.move_out("BOTTLE-1L", "EX-01", "B-01-01", 1)
    with demo_ledger.read() as tx:
        assert [sku for _, sku, _, _ in tx.exception_stock("STORE-01")] == ["SOCKS-3PK"]
