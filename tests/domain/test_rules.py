"""docs/rules.md sections 1-5 and 9 on the demo data: exact stock changes, figures, refusals."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from pydantic import ValidationError

from putback_tui.domain import errors
from putback_tui.domain.entries import EntryDraft, EntryKind
from putback_tui.domain.errors import (
    CancelNotAllowed,
    InvalidQuantity,
    LotRequired,
    NotEnoughStock,
    NothingToUndo,
    OrderNotException,
    OrderNotLive,
    OrderReconciled,
    OrderShipped,
    OverQuantity,
    PermissionDenied,
    ProductNotOnOrder,
    Refused,
    UndoNotExact,
    WrongFacility,
    WrongLocationKind,
    WrongLot,
)
from putback_tui.domain.models import (
    LineChange,
    Location,
    LocationKind,
    Order,
    OrderLine,
    OrderStatus,
    Permission,
    Product,
    RejectReason,
    StockChange,
    apply_line_changes,
)
from putback_tui.domain.permissions import DEFAULT_ROLES, check_permission
from putback_tui.domain.rules import (
    bulk_reject,
    cancel,
    check_can_open,
    force_cancel,
    line_for_product,
    move_out,
    put_back,
    refusal,
    reject,
    release,
    suggest_location,
    undo,
)

TSHIRT, MUG, SOCKS, CAP, BOTTLE, KIT = (
    "TSHIRT-BLK-M",
    "MUG-WHT",
    "SOCKS-3PK",
    "CAP-RED",
    "BOTTLE-1L",
    "FIRSTAID-KIT",
)


def qoh(sku: str, location: str, n: int) -> StockChange:
    return StockChange(sku=sku, location=location, qoh=n)


def atp(sku: str, n: int) -> StockChange:
    return StockChange(sku=sku, atp=n)


def assert_refused(exc: BaseException, cls: type[Refused], message: str) -> None:
    """The refusal is of the expected type, a Refused, and says exactly ``message``."""
    assert type(exc) is cls
    assert isinstance(exc, Refused)
    assert str(exc) == exc.message == message
    assert_readable(message)


def assert_readable(message: str) -> None:
    """A sentence an operator can read: not empty, ends like a sentence, no Python leaking."""
    assert message[:1].isupper(), message
    assert message.endswith("."), message
    for leak in ("None", "<", "{", "Traceback", "OrderStatus.", "LocationKind."):
        assert leak not in message, message


def figures(stock: Any, sku: str, *locations: str) -> tuple[int, ...]:
    """QOH at each location asked, then ATP: what the stock screen shows for one product."""
    return (*(stock.qoh(sku, loc) for loc in locations), stock.atp(sku))


# --- Section 1: opening an order ------------------------------------------------------------


def test_shipped_order_is_refused_as_a_return(orders, demo):
    with pytest.raises(Refused) as caught:
        check_can_open(orders["D-1006"], demo.facility)
    assert_refused(caught.value, OrderShipped, "Order D-1006 has shipped: handle it as a return.")


def test_order_of_another_facility_is_refused(orders):
    with pytest.raises(Refused) as caught:
        check_can_open(orders["D-1001"], "STORE-02")
    assert_refused(caught.value, WrongFacility, "Order D-1001 belongs to STORE-01, not STORE-02.")


@pytest.mark.parametrize("order_id", ["D-1001", "D-1002", "D-1003", "D-1004", "D-1005", "D-1007"])
def test_other_orders_open(orders, demo, order_id):
    check_can_open(orders[order_id], demo.facility)


# --- Section 1 and 9: release of unpicked quantities ----------------------------------------


@pytest.mark.parametrize(
    ("order_id", "changes", "lines_released", "after"),
    [
        pytest.param(
            "D-1001",
            (atp(TSHIRT, 2), atp(MUG, 1)),
            {1: 2, 2: 1},
            {TSHIRT: (10, 8), MUG: (5, 4)},
            id="D-1001 nothing picked: TSHIRT ATP 6->8, MUG 3->4",
        ),
        pytest.param(
            "D-1003",
            (atp(MUG, 1), atp(CAP, 1)),
            {1: 1, 2: 1},
            {MUG: (5, 4), CAP: (3, 3)},
            id="D-1003 partly picked: only the unpicked MUG and CAP",
        ),
    ],
)
def test_release_raises_atp_only(orders, demo, stock, order_id, changes, lines_released, after):
    draft = release(orders[order_id], stock)
    assert draft is not None
    assert draft.kind is EntryKind.RELEASE
    assert draft.changes == changes
    assert {c.line_no: c.released for c in draft.line_changes} == lines_released
    assert draft.details.quantity == sum(lines_released.values())
    stock.apply(draft)
    for sku, figs in after.items():
        assert figures(stock, sku, demo.products[sku].home_location) == figs


@pytest.mark.parametrize("order_id", ["D-1002", "D-1004", "D-1007"])
def test_release_with_nothing_unpicked_returns_none(orders, stock, order_id):
    assert release(orders[order_id], stock) is None


def test_release_twice_releases_nothing_the_second_time(orders, stock):
    order = orders["D-1001"]
    draft = release(order, stock)
    assert draft is not None
    stock.apply(draft)
    order = apply_line_changes(order, draft.line_changes)
    assert order.reconciled
    assert release(order, stock) is None
    assert figures(stock, TSHIRT, "A-01-01") == (10, 8)


@pytest.mark.parametrize(
    ("order_id", "cls", "message"),
    [
        pytest.param(
            "D-1005",
            OrderNotException,
            "Order D-1005 is open, not an exception: nothing is released.",
            id="live",
        ),
        pytest.param(
            "D-1006",
            OrderShipped,
            "Order D-1006 has shipped: handle it as a return.",
            id="shipped",
        ),
    ],
)
def test_release_refused_for_non_exception_orders(orders, stock, demo, order_id, cls, message):
    before = stock.snapshot()
    with pytest.raises(Refused) as caught:
        release(orders[order_id], stock)
    assert_refused(caught.value, cls, message)
    assert stock.snapshot() == before


# --- Section 1 and 9: put-back ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_id", "line_no", "location", "quantity", "lot", "changes", "after"),
    [
        pytest.param(
            "D-1002", 1, "A-01-01", 1, None,
            (qoh(TSHIRT, "A-01-01", 1), atp(TSHIRT, 1)),
            {TSHIRT: {"A-01-01": 11, "ATP": 7}},
            id="storage: QOH and ATP up",
        ),
        pytest.param(
            "D-1002", 2, "EX-01", 2, None,
            (qoh(SOCKS, "EX-01", 2),),
            {SOCKS: {"EX-01": 2, "A-02-01": 8, "ATP": 8}},
            id="exception location: QOH only",
        ),
        pytest.param(
            "D-1002", 2, "A-01-01", 1, None,
            (qoh(SOCKS, "A-01-01", 1), atp(SOCKS, 1)),
            {SOCKS: {"A-01-01": 1, "A-02-01": 8, "ATP": 9}},
            id="storage other than the pick location",
        ),
        pytest.param(
            "D-1004", 1, "B-01-01", 1, None,
            (qoh(BOTTLE, "B-01-01", 1), atp(BOTTLE, 1)),
            {BOTTLE: {"B-01-01": 5, "ATP": 5}},
            id="deleted order",
        ),
        pytest.param(
            "D-1003", 1, "A-01-02", 2, None,
            (qoh(MUG, "A-01-02", 2), atp(MUG, 2)),
            {MUG: {"A-01-02": 7, "ATP": 5}},
            id="failed order, typed quantity",
        ),
        pytest.param(
            "D-1007", 1, "A-03-01", 1, "AB-123",
            (qoh(KIT, "A-03-01", 1), atp(KIT, 1)),
            {KIT: {"A-03-01": 7, "ATP": 7}},
            id="lot-tracked with its lot",
        ),
    ],
)  # fmt: skip
def test_put_back(demo, orders, stock, order_id, line_no, location, quantity, lot, changes, after):
    order = orders[order_id]
    sku = order.line(line_no).sku
    draft = put_back(
        order, line_no, demo.products[sku], demo.locations[location], quantity, stock, lot=lot
    )
    assert draft.kind is EntryKind.PUT_BACK
    assert draft.changes == changes
    assert draft.line_changes == (
        LineChange(order_id=order_id, line_no=line_no, put_back=quantity),
    )
    assert draft.details.location == location
    assert draft.details.lot == lot
    # Built without validating it again (the put-back is frequent): what validation gives.
    validated = EntryDraft.model_validate(draft.model_dump())
    assert draft == validated
    assert draft.model_dump_json() == validated.model_dump_json()
    stock.apply(draft)
    for sku_, figs in after.items():
        for where, n in figs.items():
            got = stock.atp(sku_) if where == "ATP" else stock.qoh(sku_, where)
            assert (sku_, where, got) == (sku_, where, n)


def test_a_put_back_of_a_quantity_that_is_no_whole_number_is_refused(demo, orders, stock):
    order = orders["D-1002"]
    with pytest.raises(ValidationError):
        put_back(order, 2, demo.products[SOCKS], demo.locations["A-01-01"], 1.5, stock)  # type: ignore[arg-type]


def test_partly_picked_order_needs_release_and_put_back(demo, orders, stock):
    order = orders["D-1003"]
    released = release(order, stock)
    assert released is not None
    stock.apply(released)
    order = apply_line_changes(order, released.line_changes)
    assert not order.reconciled
    assert (order.line(1).to_put_back, order.line(2).reconciled) == (2, True)

    for _ in range(2):  # two scans, one unit each
        draft = put_back(order, 1, demo.products[MUG], demo.locations["A-01-02"], 1, stock)
        stock.apply(draft)
        order = apply_line_changes(order, draft.line_changes)

    assert order.reconciled
    assert figures(stock, MUG, "A-01-02") == (7, 6)
    assert figures(stock, CAP, "A-02-02") == (3, 3)


def test_nothing_can_be_put_back_twice(demo, orders, stock):
    order = orders["D-1002"]
    draft = put_back(order, 2, demo.products[SOCKS], demo.locations["A-02-01"], 2, stock)
    stock.apply(draft)
    order = apply_line_changes(order, draft.line_changes)
    with pytest.raises(Refused) as caught:
        put_back(order, 2, demo.products[SOCKS], demo.locations["A-02-01"], 1, stock)
    assert_refused(
        caught.value,
        OverQuantity,
        "Nothing of SOCKS-3PK is left to put back on order D-1002.",
    )
    with pytest.raises(Refused) as caught:
        line_for_product(order, SOCKS)
    assert_refused(
        caught.value, OrderReconciled, "SOCKS-3PK of order D-1002 is already all put back."
    )
    assert figures(stock, SOCKS, "A-02-01") == (10, 10)


def test_put_back_after_a_partial_put_back_counts_what_is_left(demo, orders, stock):
    order = orders["D-1002"]
    draft = put_back(order, 2, demo.products[SOCKS], demo.locations["A-02-01"], 1, stock)
    stock.apply(draft)
    order = apply_line_changes(order, draft.line_changes)
    with pytest.raises(Refused) as caught:
        put_back(order, 2, demo.products[SOCKS], demo.locations["A-02-01"], 2, stock)
    assert_refused(
        caught.value,
        OverQuantity,
        "Only 1 unit of SOCKS-3PK is left to put back on order D-1002, not 2.",
    )
    assert figures(stock, SOCKS, "A-02-01") == (9, 9)


@pytest.mark.parametrize(
    ("call", "cls", "message"),
    [
        pytest.param(
            {"order_id": "D-1007", "lot": None},
            LotRequired,
            "FIRSTAID-KIT is lot-tracked: scan the GS1 label or type the lot.",
            id="lot required",
        ),
        pytest.param(
            {"order_id": "D-1007", "lot": "ZZ-999"},
            WrongLot,
            "Lot ZZ-999 is not the lot picked for this line (AB-123).",
            id="wrong lot",
        ),
        pytest.param(
            {"order_id": "D-1002", "line_no": 2, "quantity": 3},
            OverQuantity,
            "Only 2 units of SOCKS-3PK are left to put back on order D-1002, not 3.",
            id="over quantity",
        ),
        pytest.param(
            {"order_id": "D-1003", "line_no": 1, "quantity": 3},
            OverQuantity,
            "Only 2 units of MUG-WHT are left to put back on order D-1003, not 3.",
            id="over quantity: unpicked units are not put back",
        ),
        pytest.param(
            {"order_id": "D-1004", "quantity": 2},
            OverQuantity,
            "Only 1 unit of BOTTLE-1L is left to put back on order D-1004, not 2.",
            id="over quantity, one unit",
        ),
        pytest.param(
            {"order_id": "D-1002", "line_no": 1, "sku": MUG},
            ProductNotOnOrder,
            "MUG-WHT is not on line 1 of order D-1002 (TSHIRT-BLK-M).",
            id="product not on the line",
        ),
        pytest.param(
            {"order_id": "D-1004", "location": "Z-09-09"},
            WrongFacility,
            "Location Z-09-09 belongs to STORE-02, not STORE-01.",
            id="location of another facility",
        ),
        pytest.param(
            {"order_id": "D-1004", "location": "PACK-01"},
            WrongLocationKind,
            "PACK-01 is a packing location: scan a storage or exception location.",
            id="packing location",
        ),
        pytest.param(
            {"order_id": "D-1004", "quantity": 0},
            InvalidQuantity,
            "Quantity must be at least 1, not 0.",
            id="zero quantity",
        ),
        pytest.param(
            {"order_id": "D-1005", "location": "A-01-01"},
            OrderNotException,
            "Order D-1005 is open: only exception orders are put back.",
            id="live order",
        ),
        pytest.param(
            {"order_id": "D-1006", "location": "A-02-01"},
            OrderShipped,
            "Order D-1006 has shipped: handle it as a return.",
            id="shipped order",
        ),
    ],
)
def test_put_back_refusals_change_nothing(demo, orders, stock, call, cls, message):
    order = orders[call["order_id"]]
    line_no = call.get("line_no", 1)
    sku = call.get("sku", order.line(line_no).sku)
    location = call.get("location", order.line(line_no).pick_location)
    before = stock.snapshot()
    with pytest.raises(Refused) as caught:
        put_back(
            order,
            line_no,
            demo.products[sku],
            demo.locations[location],
            call.get("quantity", 1),
            stock,
            lot=call.get("lot"),
        )
    assert_refused(caught.value, cls, message)
    assert stock.snapshot() == before


def test_scanning_a_product_not_on_the_order(orders):
    with pytest.raises(Refused) as caught:
        line_for_product(orders["D-1002"], BOTTLE)
    assert_refused(caught.value, ProductNotOnOrder, "BOTTLE-1L is not on order D-1002.")


def test_scanning_a_product_selects_its_line(orders):
    assert line_for_product(orders["D-1002"], SOCKS).line_no == 2


@pytest.mark.parametrize(
    ("line", "home", "expected"),
    [
        pytest.param({"pick_location": "A-02-01"}, "B-01-01", "A-02-01", id="where it was picked"),
        pytest.param({}, "B-01-01", "B-01-01", id="else its home"),
        pytest.param({}, None, "EX-01", id="else the exception area"),
    ],
)
def test_suggested_location(demo, line, home, expected):
    product = demo.products[SOCKS].model_copy(update={"home_location": home})
    order_line = OrderLine(line_no=1, sku=SOCKS, quantity=1, picked=1, **line)
    assert suggest_location(order_line, product, demo.exception_locations) == expected


def test_no_suggestion_without_an_exception_area(demo):
    order_line = OrderLine(line_no=1, sku=SOCKS, quantity=1, picked=1)
    assert suggest_location(order_line, None, []) is None


# --- Section 3 and 9: rejecting items -------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "quantity", "changes", "after"),
    [
        pytest.param(
            RejectReason.DAMAGE, 1, (), (10, 6), id="DAMAGE: released then taken, QOH unchanged"
        ),
        pytest.param(RejectReason.WORN_DISPLAY, 2, (), (10, 6), id="WORN DISPLAY"),
        pytest.param(
            RejectReason.MISMATCH,
            1,
            (qoh(TSHIRT, "A-01-01", -1),),
            (9, 6),
            id="MISMATCH: QOH at the pick location down",
        ),
        pytest.param(
            RejectReason.MISMATCH,
            2,
            (qoh(TSHIRT, "A-01-01", -2),),
            (8, 6),
            id="MISMATCH two units",
        ),
        pytest.param(
            RejectReason.NOT_IN_STOCK,
            1,
            (qoh(TSHIRT, "A-01-01", -10), atp(TSHIRT, -6)),
            (0, 0),
            id="NOT IN STOCK: everything to 0",
        ),
    ],
)
def test_reject_on_live_order(orders, stock, reason, quantity, changes, after):
    draft = reject(orders["D-1005"], 1, reason, quantity, stock)
    assert draft.kind is EntryKind.REJECT
    assert draft.changes == changes
    assert draft.line_changes == (LineChange(order_id="D-1005", line_no=1, rejected=quantity),)
    assert draft.details.reason is reason
    assert draft.details.reroute is True
    stock.apply(draft)
    assert figures(stock, TSHIRT, "A-01-01") == after


@pytest.mark.parametrize(
    ("reason", "after"),
    [
        pytest.param(RejectReason.DAMAGE, (10, 9), id="DAMAGE"),
        pytest.param(RejectReason.WORN_DISPLAY, (10, 9), id="WORN DISPLAY"),
        pytest.param(RejectReason.MISMATCH, (9, 9), id="MISMATCH"),
        pytest.param(RejectReason.NOT_IN_STOCK, (0, 0), id="NOT IN STOCK"),
    ],
)
def test_worked_example_of_section_9(stock_of, reason, after):
    """QOH 10, ATP 9, one unit reserved for this order: DAMAGE leaves ten on the shelf, nine
    sellable.
    """
    stock = stock_of({("WIDGET", "A-01-01"): 10}, {"WIDGET": 9})
    order = Order(
        order_id="D-2001",
        facility="STORE-01",
        status=OrderStatus.IN_PROGRESS,
        lines=(OrderLine(line_no=1, sku="WIDGET", quantity=1, picked=0, pick_location="A-01-01"),),
    )
    stock.apply(reject(order, 1, reason, 1, stock))
    assert figures(stock, "WIDGET", "A-01-01") == after


@pytest.mark.parametrize(
    ("reason", "changes", "after"),
    [
        pytest.param(RejectReason.DAMAGE, (), (5, 1), id="DAMAGE"),
        pytest.param(RejectReason.WORN_DISPLAY, (), (5, 1), id="WORN DISPLAY"),
        pytest.param(RejectReason.MISMATCH, (qoh("WIDGET", "A-01-01", -2),), (3, 1),
                     id="MISMATCH"),
    ],
)
def test_a_rejection_releases_first_then_takes_when_atp_is_below_the_quantity(
    stock_of, reason, changes, after
):
    """ATP 1 while two units are reserved for this order (the figure was corrected down after the
    reservation): releasing gives 3, taking the two rejected units leaves 1, so ATP does not
    change. Taking first would stop at 0 and the release would then make it 2: two units
    promised that nobody has.
    """
    stock = stock_of({("WIDGET", "A-01-01"): 5}, {"WIDGET": 1})
    order = Order(
        order_id="D-2002",
        facility="STORE-01",
        status=OrderStatus.IN_PROGRESS,
        lines=(OrderLine(line_no=1, sku="WIDGET", quantity=2, picked=0, pick_location="A-01-01"),),
    )
    draft = reject(order, 1, reason, 2, stock)
    assert draft.changes == changes
    stock.apply(draft)
    assert figures(stock, "WIDGET", "A-01-01") == after


def test_not_in_stock_zeroes_every_location_of_the_product(demo, orders, stock):
    # Two TSHIRTs of D-1002 waited in the exception area before the shelf turned out empty.
    parked = put_back(orders["D-1002"], 1, demo.products[TSHIRT], demo.locations["EX-01"], 1, stock)
    stock.apply(parked)
    assert figures(stock, TSHIRT, "A-01-01", "EX-01") == (10, 1, 6)

    draft = reject(orders["D-1005"], 1, RejectReason.NOT_IN_STOCK, 2, stock)
    assert draft.changes == (
        qoh(TSHIRT, "A-01-01", -10),
        qoh(TSHIRT, "EX-01", -1),
        atp(TSHIRT, -6),
    )
    stock.apply(draft)
    assert figures(stock, TSHIRT, "A-01-01", "EX-01") == (0, 0, 0)
    assert figures(stock, MUG, "A-01-02") == (5, 3), "other products untouched"


def test_mismatch_without_pick_location_uses_the_home_location(orders, stock):
    order = orders["D-1005"]
    order = order.model_copy(
        update={"lines": (order.line(1).model_copy(update={"pick_location": None}),)}
    )
    draft = reject(order, 1, RejectReason.MISMATCH, 1, stock, home_location="A-01-01")
    stock.apply(draft)
    assert figures(stock, TSHIRT, "A-01-01") == (9, 6)


@pytest.mark.parametrize(
    ("order_id", "quantity", "cls", "message"),
    [
        pytest.param(
            "D-1001",
            1,
            OrderNotLive,
            "Order D-1001 is already cancelled: it cannot be rejected.",
            id="exception order",
        ),
        pytest.param(
            "D-1006",
            1,
            OrderShipped,
            "Order D-1006 has shipped: handle it as a return.",
            id="shipped order",
        ),
        pytest.param(
            "D-1005",
            3,
            OverQuantity,
            "Line 1 has only 2 units of TSHIRT-BLK-M unpicked and open, not 3.",
            id="over quantity",
        ),
        pytest.param(
            "D-1005", -1, InvalidQuantity, "Quantity must be at least 1, not -1.", id="negative"
        ),
    ],
)
def test_reject_refusals_change_nothing(orders, stock, order_id, quantity, cls, message):
    before = stock.snapshot()
    with pytest.raises(Refused) as caught:
        reject(orders[order_id], 1, RejectReason.DAMAGE, quantity, stock)
    assert_refused(caught.value, cls, message)
    assert stock.snapshot() == before


def test_rejected_units_cannot_be_rejected_again(orders, stock):
    order = orders["D-1005"]
    draft = reject(order, 1, RejectReason.DAMAGE, 2, stock)
    stock.apply(draft)
    order = apply_line_changes(order, draft.line_changes)
    with pytest.raises(Refused) as caught:
        reject(order, 1, RejectReason.DAMAGE, 1, stock)
    assert_refused(
        caught.value,
        OverQuantity,
        "Line 1 has only 0 units of TSHIRT-BLK-M unpicked and open, not 1.",
    )


# --- Section 3 and 9: bulk reject -------------------------------------------------------------


def in_progress_order(*, has_label: bool = False) -> Order:
    """A live order half picked: 1 TSHIRT picked from A-01-01, 2 still reserved; 1 MUG reserved."""
    return Order(
        order_id="D-2002",
        facility="STORE-01",
        status=OrderStatus.IN_PROGRESS,
        has_label=has_label,
        lines=(
            OrderLine(line_no=1, sku=TSHIRT, quantity=3, picked=1, pick_location="A-01-01"),
            OrderLine(line_no=2, sku=MUG, quantity=1, picked=0, pick_location="A-01-02"),
        ),
    )


@pytest.mark.parametrize(
    ("status", "rejected", "changes"),
    [
        pytest.param(OrderStatus.OPEN, {1: 2}, (atp(TSHIRT, 2),), id="open order D-1005"),
        pytest.param(
            OrderStatus.IN_PROGRESS,
            {1: 2, 2: 1},
            (atp(TSHIRT, 2), atp(MUG, 1)),
            id="in-progress order",
        ),
    ],
)
def test_bulk_reject_releases_unpicked_and_keeps_qoh(orders, stock, status, rejected, changes):
    order = orders["D-1005"] if status is OrderStatus.OPEN else in_progress_order()
    draft = bulk_reject(order, stock)
    assert draft.kind is EntryKind.BULK_REJECT
    assert draft.changes == changes
    assert {c.line_no: c.rejected for c in draft.line_changes} == rejected
    assert all(c.released == 0 for c in draft.line_changes)
    assert draft.details.order_status is OrderStatus.REJECTED
    assert draft.details.reroute is True
    qoh_before = (stock.qoh(TSHIRT, "A-01-01"), stock.qoh(MUG, "A-01-02"))
    stock.apply(draft)
    assert (stock.qoh(TSHIRT, "A-01-01"), stock.qoh(MUG, "A-01-02")) == qoh_before


def test_bulk_rejected_picked_units_go_to_put_back(demo, stock):
    order = in_progress_order()
    draft = bulk_reject(order, stock)
    stock.apply(draft)
    order = apply_line_changes(order, draft.line_changes).model_copy(
        update={"status": draft.details.order_status}
    )
    assert release(order, stock) is None
    assert not order.reconciled
    back = put_back(order, 1, demo.products[TSHIRT], demo.locations["A-01-01"], 1, stock)
    stock.apply(back)
    order = apply_line_changes(order, back.line_changes)
    assert order.reconciled
    assert figures(stock, TSHIRT, "A-01-01") == (11, 9)


# --- Section 4: cancel and force cancel -------------------------------------------------------


def test_cancel_releases_every_reservation(orders, stock):
    draft = cancel(orders["D-1005"], stock)
    assert draft.kind is EntryKind.CANCEL
    assert draft.changes == (atp(TSHIRT, 2),)
    assert draft.line_changes == (LineChange(order_id="D-1005", line_no=1, released=2),)
    assert draft.details.order_status is OrderStatus.CANCELLED
    stock.apply(draft)
    assert figures(stock, TSHIRT, "A-01-01") == (10, 8)


@pytest.mark.parametrize(
    ("order", "cls", "message"),
    [
        pytest.param(
            in_progress_order(),
            CancelNotAllowed,
            "Order D-2002 has 1 unit picked: use force cancel, then put them back.",
            id="something picked",
        ),
        pytest.param(
            in_progress_order().model_copy(
                update={
                    "has_label": True,
                    "lines": tuple(
                        line.model_copy(update={"picked": 0}) for line in in_progress_order().lines
                    ),
                }
            ),
            CancelNotAllowed,
            "Order D-2002 has a shipping label: use force cancel.",
            id="label printed",
        ),
        pytest.param(
            None,
            OrderNotLive,
            "Order D-1001 is already cancelled: it cannot be cancelled.",
            id="already cancelled",
        ),
        pytest.param(
            "D-1006",
            OrderShipped,
            "Order D-1006 has shipped: handle it as a return.",
            id="shipped",
        ),
    ],
)
def test_cancel_refusals(orders, stock, order, cls, message):
    if order is None:
        order = orders["D-1001"]
    elif isinstance(order, str):
        order = orders[order]
    before = stock.snapshot()
    with pytest.raises(Refused) as caught:
        cancel(order, stock)
    assert_refused(caught.value, cls, message)
    assert stock.snapshot() == before


@pytest.mark.parametrize("has_label", [False, True], ids=["no label", "with label"])
def test_force_cancel_releases_unpicked_and_leaves_picked_to_put_back(demo, stock, has_label):
    order = in_progress_order(has_label=has_label)
    draft = force_cancel(order, stock)
    assert draft.kind is EntryKind.FORCE_CANCEL
    assert draft.changes == (atp(TSHIRT, 2), atp(MUG, 1))
    assert draft.details.order_status is OrderStatus.CANCELLED
    stock.apply(draft)
    assert figures(stock, TSHIRT, "A-01-01") == (10, 8)
    assert figures(stock, MUG, "A-01-02") == (5, 4)

    order = apply_line_changes(order, draft.line_changes).model_copy(
        update={"status": draft.details.order_status}
    )
    assert [line.to_put_back for line in order.lines] == [1, 0]
    back = put_back(order, 1, demo.products[TSHIRT], demo.locations["A-01-01"], 1, stock)
    stock.apply(back)
    assert apply_line_changes(order, back.line_changes).reconciled
    assert figures(stock, TSHIRT, "A-01-01") == (11, 9)


def test_force_cancel_of_shipped_order_is_refused(orders, stock):
    with pytest.raises(Refused) as caught:
        force_cancel(orders["D-1006"], stock)
    assert_refused(caught.value, OrderShipped, "Order D-1006 has shipped: handle it as a return.")


# --- Section 2 and 9: exception area, move out ------------------------------------------------


@pytest.fixture
def socks_parked(demo, orders, stock):
    """D-1002's two SOCKS put back into the exception area EX-01."""
    order = orders["D-1002"]
    stock.apply(put_back(order, 2, demo.products[SOCKS], demo.locations["EX-01"], 2, stock))
    assert figures(stock, SOCKS, "EX-01", "A-02-01") == (2, 8, 8)
    return stock


@pytest.mark.parametrize(
    ("quantity", "after"),
    [
        pytest.param(1, (1, 9, 9), id="one of two"),
        pytest.param(2, (0, 10, 10), id="all"),
    ],
)
def test_move_out_of_exception_area(demo, socks_parked, quantity, after):
    stock = socks_parked
    draft = move_out(
        demo.products[SOCKS],
        demo.locations["EX-01"],
        demo.locations["A-02-01"],
        quantity,
        demo.facility,
        stock,
    )
    assert draft.kind is EntryKind.MOVE_OUT
    assert draft.changes == (
        qoh(SOCKS, "EX-01", -quantity),
        qoh(SOCKS, "A-02-01", quantity),
        atp(SOCKS, quantity),
    )
    stock.apply(draft)
    assert figures(stock, SOCKS, "EX-01", "A-02-01") == after


@pytest.mark.parametrize(
    ("source", "target", "quantity", "cls", "message"),
    [
        pytest.param(
            "EX-01", "A-02-01", 3, NotEnoughStock,
            "Only 2 units of SOCKS-3PK sit in EX-01, not 3.",
            id="more than sits there",
        ),
        pytest.param(
            "A-02-01", "A-01-01", 1, WrongLocationKind,
            "A-02-01 is a storage location: scan an exception location.",
            id="source is not an exception location",
        ),
        pytest.param(
            "EX-01", "PACK-01", 1, WrongLocationKind,
            "PACK-01 is a packing location: scan a storage location.",
            id="target is a packing location",
        ),
        pytest.param(
            "EX-01", "Z-09-09", 1, WrongFacility,
            "Location Z-09-09 belongs to STORE-02, not STORE-01.",
            id="target of another facility",
        ),
    ],
)  # fmt: skip
def test_move_out_refusals(demo, socks_parked, source, target, quantity, cls, message):
    stock = socks_parked
    before = stock.snapshot()
    with pytest.raises(Refused) as caught:
        move_out(
            demo.products[SOCKS],
            demo.locations[source],
            demo.locations[target],
            quantity,
            demo.facility,
            stock,
        )
    assert_refused(caught.value, cls, message)
    assert stock.snapshot() == before


def test_move_out_of_an_empty_exception_area(demo, stock):
    with pytest.raises(Refused) as caught:
        move_out(
            demo.products[MUG],
            demo.locations["EX-01"],
            demo.locations["A-01-02"],
            1,
            demo.facility,
            stock,
        )
    assert_refused(caught.value, NotEnoughStock, "Only 0 units of MUG-WHT sit in EX-01, not 1.")


# --- Section 1.5 and 9: undo -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "opposite"),
    [
        pytest.param(
            "A-01-01", (qoh(TSHIRT, "A-01-01", -1), atp(TSHIRT, -1)), id="put back to storage"
        ),
        pytest.param("EX-01", (qoh(TSHIRT, "EX-01", -1),), id="put back to exception area"),
    ],
)
def test_undo_is_the_exact_opposite_of_a_put_back(
    demo, orders, stock, to_entry, location, opposite
):
    order = orders["D-1002"]
    before = stock.snapshot()
    entry = to_entry(put_back(order, 1, demo.products[TSHIRT], demo.locations[location], 1, stock))
    stock.apply(entry)
    order = apply_line_changes(order, entry.line_changes)
    assert order.line(1).to_put_back == 0

    draft = undo(entry, already_undone=False, stock=stock)
    assert draft.kind is EntryKind.UNDO
    assert draft.details.undoes == entry.entry_id
    assert draft.changes == opposite
    assert draft.line_changes == (LineChange(order_id="D-1002", line_no=1, put_back=-1),)
    stock.apply(draft)
    order = apply_line_changes(order, draft.line_changes)
    assert stock.snapshot() == before
    assert order == orders["D-1002"]


def test_undo_of_a_move_out(demo, socks_parked, to_entry):
    stock = socks_parked
    before = stock.snapshot()
    entry = to_entry(
        move_out(
            demo.products[SOCKS],
            demo.locations["EX-01"],
            demo.locations["A-02-01"],
            2,
            demo.facility,
            stock,
        )
    )
    stock.apply(entry)
    draft = undo(entry, already_undone=False, stock=stock)
    assert draft.changes == (qoh(SOCKS, "EX-01", 2), qoh(SOCKS, "A-02-01", -2), atp(SOCKS, -2))
    stock.apply(draft)
    assert stock.snapshot() == before


def test_undo_twice_is_refused(demo, orders, stock, to_entry):
    entry = to_entry(
        put_back(orders["D-1004"], 1, demo.products[BOTTLE], demo.locations["B-01-01"], 1, stock)
    )
    stock.apply(entry)
    stock.apply(undo(entry, already_undone=False, stock=stock))
    with pytest.raises(Refused) as caught:
        undo(entry, already_undone=True, stock=stock)
    assert_refused(caught.value, NothingToUndo, "That put-back was undone already.")
    assert figures(stock, BOTTLE, "B-01-01") == (4, 4)


def test_undo_of_a_move_out_twice_names_the_move_out(demo, socks_parked, to_entry):
    entry = to_entry(
        move_out(
            demo.products[SOCKS],
            demo.locations["EX-01"],
            demo.locations["A-02-01"],
            1,
            demo.facility,
            socks_parked,
        )
    )
    with pytest.raises(Refused) as caught:
        undo(entry, already_undone=True, stock=socks_parked)
    assert_refused(caught.value, NothingToUndo, "That move out was undone already.")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda orders, stock: release(orders["D-1001"], stock),
            "A release entry cannot be undone.",
            id="release",
        ),
        pytest.param(
            lambda orders, stock: reject(orders["D-1005"], 1, RejectReason.DAMAGE, 1, stock),
            "A reject entry cannot be undone.",
            id="reject",
        ),
        pytest.param(
            lambda orders, stock: cancel(orders["D-1005"], stock),
            "A cancel entry cannot be undone.",
            id="cancel",
        ),
    ],
)
def test_only_put_backs_and_moves_can_be_undone(orders, stock, to_entry, make, message):
    entry = to_entry(make(orders, stock))
    with pytest.raises(Refused) as caught:
        undo(entry, already_undone=False, stock=stock)
    assert_refused(caught.value, NothingToUndo, message)


def test_an_undo_cannot_be_undone(demo, orders, stock, to_entry):
    entry = to_entry(
        put_back(orders["D-1004"], 1, demo.products[BOTTLE], demo.locations["B-01-01"], 1, stock)
    )
    stock.apply(entry)
    compensation = to_entry(undo(entry, already_undone=False, stock=stock))
    with pytest.raises(Refused) as caught:
        undo(compensation, already_undone=False, stock=stock)
    assert_refused(caught.value, NothingToUndo, "An undo entry cannot be undone.")


# --- Section 9: stopping at zero ---------------------------------------------------------------


def test_mismatch_stops_qoh_at_zero_and_records_what_it_took(stock_of):
    stock = stock_of({("WIDGET", "A-01-01"): 1, ("WIDGET", "B-01-01"): 5}, {"WIDGET": 3})
    order = Order(
        order_id="D-2003",
        facility="STORE-01",
        status=OrderStatus.OPEN,
        lines=(OrderLine(line_no=1, sku="WIDGET", quantity=3, picked=0, pick_location="A-01-01"),),
    )
    draft = reject(order, 1, RejectReason.MISMATCH, 3, stock)
    assert draft.changes == (qoh("WIDGET", "A-01-01", -1),)
    stock.apply(draft)
    assert figures(stock, "WIDGET", "A-01-01", "B-01-01") == (0, 5, 3)


def test_undo_is_refused_when_the_units_have_moved_on(demo, orders, stock, to_entry):
    # Two SOCKS parked in EX-01, then moved out to storage: the put-back can no longer be undone
    # exactly (EX-01 holds nothing), so the undo is refused rather than stopped at zero.
    parked = to_entry(
        put_back(orders["D-1002"], 2, demo.products[SOCKS], demo.locations["EX-01"], 2, stock)
    )
    stock.apply(parked)
    stock.apply(
        move_out(
            demo.products[SOCKS],
            demo.locations["EX-01"],
            demo.locations["A-02-01"],
            2,
            demo.facility,
            stock,
        )
    )
    with pytest.raises(UndoNotExact) as caught:
        undo(parked, already_undone=False, stock=stock)
    assert_refused(
        caught.value,
        UndoNotExact,
        "Cannot undo: the SOCKS-3PK of that put-back has moved on from EX-01 since. "
        "Correct it with a new entry instead.",
    )
    assert figures(stock, SOCKS, "EX-01", "A-02-01") == (0, 10, 10)


def test_atp_stops_at_zero(stock_of, to_entry):
    # A put-back to storage raised ATP by 2; the central store has since promised all of it, so
    # ATP is 1 when the operator undoes: it goes to 0, and the undo records -1, not -2.
    stock = stock_of({("WIDGET", "A-01-01"): 0}, {"WIDGET": 0})
    order = Order(
        order_id="D-2004",
        facility="STORE-01",
        status=OrderStatus.CANCELLED,
        lines=(OrderLine(line_no=1, sku="WIDGET", quantity=2, picked=2, pick_location="A-01-01"),),
    )
    entry = to_entry(
        put_back(
            order,
            1,
            Product(sku="WIDGET", description="Widget"),
            Location(
                code="A-01-01", facility="STORE-01", kind=LocationKind.STORAGE, barcode="LOC:A"
            ),
            2,
            stock,
        )
    )
    stock.apply(entry)
    stock.apply_changes([atp("WIDGET", -1)])
    draft = undo(entry, already_undone=False, stock=stock)
    assert draft.changes == (qoh("WIDGET", "A-01-01", -2), atp("WIDGET", -1))
    stock.apply(draft)
    assert figures(stock, "WIDGET", "A-01-01") == (0, 0)


# --- Section 5: permissions -------------------------------------------------------------------

OPERATOR_MAY = {Permission.PUT_BACK, Permission.REJECT_ITEM, Permission.MOVE_OUT}


@pytest.mark.parametrize(
    ("badge", "permission", "allowed"),
    [
        pytest.param(badge, p, badge == "SV-0001" or p in OPERATOR_MAY, id=f"{badge} {p.label}")
        for badge in ("OP-0001", "SV-0001")
        for p in Permission
    ],
)
def test_permissions_per_role(operators, badge, permission, allowed):
    operator = operators[badge]
    if allowed:
        check_permission(operator, permission, DEFAULT_ROLES)
        return
    with pytest.raises(Refused) as caught:
        check_permission(operator, permission, DEFAULT_ROLES)
    assert_refused(
        caught.value,
        PermissionDenied,
        f"Ola Berg (OP-0001, operator) may not {permission.label}: "
        f"permission '{permission.value}' is missing. Ask a supervisor.",
    )
    assert caught.value.permission == permission.value


def test_unmapped_role_may_do_nothing(operators):
    guest = operators["OP-0001"].model_copy(update={"role": "guest"})
    for permission in Permission:
        with pytest.raises(PermissionDenied):
            check_permission(guest, permission, DEFAULT_ROLES)


def test_refused_action_is_recorded_and_changes_nothing(operators):
    with pytest.raises(PermissionDenied) as caught:
        check_permission(operators["OP-0001"], Permission.FORCE_CANCEL, DEFAULT_ROLES)
    draft = refusal("force cancel", caught.value.permission, caught.value.message, "D-1005")
    assert draft.kind is EntryKind.REFUSAL
    assert draft.order_id == "D-1005"
    assert draft.changes == ()
    assert draft.line_changes == ()
    assert draft.details.permission == "force_cancel"
    assert draft.details.message is not None
    assert draft.details.message.startswith("force cancel: Ola Berg (OP-0001, operator)")


# --- Every refusal ----------------------------------------------------------------------------


def test_every_refusal_is_a_refused_with_its_own_code():
    classes = [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if obj.__module__ == errors.__name__
    ]
    assert all(issubclass(cls, Refused) for cls in classes)
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes))
