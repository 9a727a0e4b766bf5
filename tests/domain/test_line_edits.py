"""Cancel a line and reduce a line's quantity (SPEC section 9's rows, docs/rules.md): one test
per row, the refusals with their exact sentences, and the put-back of withdrawn units.
"""

from __future__ import annotations

import pytest

from putback_tui.domain.entries import EntryKind
from putback_tui.domain.errors import (
    InvalidQuantity,
    LineEditNotAllowed,
    OrderNotException,
    OrderNotLive,
    OrderShipped,
    OverQuantity,
    Refused,
    UnknownLine,
    UnknownReason,
)
from putback_tui.domain.models import (
    LineChange,
    Order,
    OrderLine,
    OrderStatus,
    RejectReason,
    StockChange,
    apply_line_changes,
)
from putback_tui.domain.reasons import ReasonEffect, RejectReasonDef, SiteReasons
from putback_tui.domain.rules import cancel_line, put_back, reduce_line, reject, release

TSHIRT, MUG, SOCKS = "TSHIRT-BLK-M", "MUG-WHT", "SOCKS-3PK"


def d1008(**update: object) -> Order:
    """The demo's D-1008: 2 mugs (1 picked from A-01-02) and 1 pack of socks, in progress."""
    order = Order(
        order_id="D-1008",
        facility="STORE-01",
        status=OrderStatus.IN_PROGRESS,
        lines=(
            OrderLine(line_no=1, sku=MUG, quantity=2, picked=1, pick_location="A-01-02"),
            OrderLine(line_no=2, sku=SOCKS, quantity=1, picked=0),
        ),
    )
    return order.model_copy(update=update)


def figures(stock, sku: str, *locations: str) -> tuple[int, ...]:
    return (*(stock.qoh(sku, loc) for loc in locations), stock.atp(sku))


def after(order: Order, draft) -> Order:
    return apply_line_changes(order, draft.line_changes)


# --- the rows: cancel a line, reduce a line ---------------------------------------------------


@pytest.mark.parametrize(
    ("line_no", "released", "withdrawn", "changes"),
    [
        pytest.param(2, 1, 0, (StockChange(sku=SOCKS, atp=1),), id="nothing picked: all released"),
        pytest.param(
            1, 1, 1, (StockChange(sku=MUG, atp=1),), id="1 of 2 picked: 1 released, 1 put back"
        ),
    ],
)
def test_cancel_a_line_releases_the_unpicked_and_withdraws_the_picked(
    stock, line_no, released, withdrawn, changes
):
    order = d1008()
    qoh_before = stock.qoh_by_location(order.line(line_no).sku)
    draft = cancel_line(order, line_no, "CUSTOMER REQUEST", stock)
    assert draft.kind is EntryKind.CANCEL_LINE
    assert draft.changes == changes
    assert draft.line_changes == (
        LineChange(order_id="D-1008", line_no=line_no, released=released, withdrawn=withdrawn),
    )
    assert draft.details.line_no == line_no
    assert draft.details.from_quantity == order.line(line_no).quantity
    assert draft.details.quantity == 0
    assert draft.details.reason_code == "CUSTOMER REQUEST"
    assert draft.details.order_status is None  # the order stays live
    stock.apply(draft)
    assert stock.qoh_by_location(order.line(line_no).sku) == qoh_before  # QOH unchanged
    edited = after(order, draft)
    assert edited.line(line_no).ordered == 0
    assert edited.owed(edited.line(line_no)) == withdrawn


@pytest.mark.parametrize(
    ("quantity", "picked", "new", "released", "withdrawn"),
    [
        pytest.param(2, 0, 1, 1, 0, id="D-1005 T-shirts 2 to 1: unpicked released"),
        pytest.param(2, 0, 0, 2, 0, id="2 to 0, none picked"),
        pytest.param(3, 1, 2, 1, 0, id="unpicked first: picked untouched"),
        pytest.param(3, 2, 1, 1, 1, id="1 unpicked released, then 1 picked withdrawn"),
        pytest.param(3, 3, 1, 0, 2, id="all picked: 2 withdrawn"),
        pytest.param(3, 1, 0, 2, 1, id="to 0: like a cancel"),
    ],
)
def test_reduce_takes_from_the_unpicked_first(stock, quantity, picked, new, released, withdrawn):
    order = Order(
        order_id="D-1005",
        facility="STORE-01",
        status=OrderStatus.OPEN if not picked else OrderStatus.IN_PROGRESS,
        lines=(OrderLine(line_no=1, sku=TSHIRT, quantity=quantity, picked=picked,
                         pick_location="A-01-01"),),
    )
    before = figures(stock, TSHIRT, "A-01-01")
    draft = reduce_line(order, 1, new, "PRICE ERROR", stock)
    assert draft.kind is EntryKind.REDUCE_LINE
    assert draft.line_changes == (
        LineChange(order_id="D-1005", line_no=1, released=released, withdrawn=withdrawn),
    )
    assert (draft.details.from_quantity, draft.details.quantity) == (quantity, new)
    stock.apply(draft)
    assert figures(stock, TSHIRT, "A-01-01") == (before[0], before[1] + released)
    edited = after(order, draft)
    assert edited.line(1).ordered == new
    assert edited.units_owed == withdrawn


def test_withdrawn_units_are_put_back_on_the_live_order_and_no_more(demo, stock):
    order = d1008()
    socks = cancel_line(order, 2, "CUSTOMER REQUEST", stock)
    stock.apply(socks)
    order = after(order, socks)
    mugs = cancel_line(order, 1, "CUSTOMER REQUEST", stock)
    stock.apply(mugs)
    order = after(order, mugs)
    assert order.status is OrderStatus.IN_PROGRESS
    assert figures(stock, SOCKS, "A-02-01") == (8, 9)
    assert figures(stock, MUG, "A-01-02") == (5, 4)
    with pytest.raises(OverQuantity):
        put_back(order, 1, demo.products[MUG], demo.locations["A-01-02"], 2, stock)
    back = put_back(order, 1, demo.products[MUG], demo.locations["A-01-02"], 1, stock)
    stock.apply(back)
    order = after(order, back)
    assert figures(stock, MUG, "A-01-02") == (6, 5)
    assert order.units_owed == 0
    with pytest.raises(OverQuantity, match="Nothing of MUG-WHT is left to put back"):
        put_back(order, 1, demo.products[MUG], demo.locations["A-01-02"], 1, stock)
    # The OMS cancels the order later: nothing is left to release or put back twice.
    cancelled = order.model_copy(update={"status": OrderStatus.CANCELLED})
    assert release(cancelled, stock) is None
    assert cancelled.reconciled


def test_a_live_order_without_a_line_edit_is_still_not_put_back(demo, stock):
    with pytest.raises(OrderNotException):
        put_back(d1008(), 1, demo.products[MUG], demo.locations["A-01-02"], 1, stock)


def test_a_reduced_line_leaves_only_the_rest_to_reject(stock):
    order = d1008()
    draft = reduce_line(order, 1, 1, "PRICE ERROR", stock)
    order = after(order, draft)
    # 2 ordered, 1 picked: the unpicked unit went back to stock, nothing is left to reject.
    assert order.line(1).unpicked_open == 0
    with pytest.raises(OverQuantity):
        reject(order, 1, RejectReason.DAMAGE, 1, stock)


def test_a_line_edit_after_a_reject_cannot_take_the_rerouted_units(stock):
    order = Order(
        order_id="D-3000",
        facility="STORE-01",
        status=OrderStatus.OPEN,
        lines=(OrderLine(line_no=1, sku=TSHIRT, quantity=3, picked=0, rejected=2),),
    )
    with pytest.raises(LineEditNotAllowed) as caught:
        reduce_line(order, 1, 0, "PRICE ERROR", stock)
    assert str(caught.value) == (
        "Line 1 can go down to 2 here, not 0: the rest was rejected and is re-routed."
    )
    draft = cancel_line(order, 1, "PRICE ERROR", stock)
    assert draft.line_changes[0].released == 1


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "call", "cls", "message"),
    [
        pytest.param(
            d1008(status=OrderStatus.CANCELLED), "cancel", OrderNotLive,
            "Order D-1008 is cancelled: its lines are not cancelled, it is handled by release "
            "and put-back.",
            id="exception order",
        ),
        pytest.param(
            d1008(status=OrderStatus.SHIPPED), "reduce", OrderShipped,
            "Order D-1008 has shipped: handle it as a return.",
            id="shipped",
        ),
        pytest.param(
            d1008(has_label=True), "cancel", LineEditNotAllowed,
            "Order D-1008 has a shipping label: its lines cannot be cancelled. Force cancel it, "
            "or change it in the OMS.",
            id="label",
        ),
        pytest.param(
            d1008(), "raise", LineEditNotAllowed,
            "Raising line 1 from 2 to 3 needs a new reservation: change it in the OMS.",
            id="raising",
        ),
        pytest.param(
            d1008(), "same", LineEditNotAllowed,
            "Line 1 already orders 2: type a smaller quantity.",
            id="same quantity",
        ),
        pytest.param(
            d1008(), "negative", InvalidQuantity,
            "The new quantity must be 0 or more, not -1.",
            id="negative",
        ),
        pytest.param(
            d1008(), "no reason", LineEditNotAllowed,
            "A line edit names a reason code of 1 to 64 characters.",
            id="no reason",
        ),
        pytest.param(
            d1008(), "line 9", UnknownLine, "Order D-1008 has no line 9.", id="unknown line",
        ),
    ],
)
def test_line_edit_refusals_change_nothing(stock, order, call, cls, message):
    snapshot = stock.snapshot()
    calls = {
        "cancel": lambda: cancel_line(order, 1, "CUSTOMER REQUEST", stock),
        "reduce": lambda: reduce_line(order, 1, 1, "CUSTOMER REQUEST", stock),
        "raise": lambda: reduce_line(order, 1, 3, "CUSTOMER REQUEST", stock),
        "same": lambda: reduce_line(order, 1, 2, "CUSTOMER REQUEST", stock),
        "negative": lambda: reduce_line(order, 1, -1, "CUSTOMER REQUEST", stock),
        "no reason": lambda: cancel_line(order, 1, " ", stock),
        "line 9": lambda: cancel_line(order, 9, "CUSTOMER REQUEST", stock),
    }
    with pytest.raises(Refused) as caught:
        calls[call]()
    assert type(caught.value) is cls
    assert str(caught.value) == message
    assert stock.snapshot() == snapshot


def test_a_cancelled_line_cannot_be_cancelled_again(stock):
    order = d1008()
    order = after(order, cancel_line(order, 2, "CUSTOMER REQUEST", stock))
    with pytest.raises(LineEditNotAllowed, match="has nothing left here to take off"):
        cancel_line(order, 2, "CUSTOMER REQUEST", stock)


def test_a_line_the_oms_says_was_picked_after_its_release_has_nothing_to_cancel(stock):
    # D-1008 was cancelled (its unpicked sock released), then the OMS sent it again, live,
    # with that sock picked: released 1 and picked 1 of 1. The line orders nothing any more,
    # so cancelling it is refused; it built an entry of quantity -1, which failed validation
    # inside the central store's ingest (found by the kept-sums property test).
    socks = OrderLine(line_no=2, sku=SOCKS, quantity=1, picked=1, released=1)
    order = d1008(lines=(d1008().lines[0], socks))
    assert (socks.ordered, socks.held) == (0, 0)
    with pytest.raises(LineEditNotAllowed, match="has nothing left here to take off"):
        cancel_line(order, 2, "CUSTOMER REQUEST", stock)


# --- reasons a site defines -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("effect", "after"),
    [
        pytest.param(ReasonEffect.ZERO_STOCK, ({"A-01-01": 0}, 0), id="zero_stock"),
        pytest.param(ReasonEffect.REMOVE_FROM_STOCK, ({"A-01-01": 9}, 6), id="remove_from_stock"),
        pytest.param(ReasonEffect.UNSELLABLE, ({"A-01-01": 10}, 6), id="unsellable"),
        pytest.param(ReasonEffect.NO_VARIANCE, ({"A-01-01": 10}, 7), id="no_variance"),
    ],
)
def test_a_site_reason_s_effect_decides_the_arithmetic(orders, stock, effect, after):
    """1 T-shirt of D-1005 (QOH 10, ATP 6) rejected for a site's code with each effect."""
    draft = reject(orders["D-1005"], 1, "SHORT PICK", 1, stock, effect=effect)
    assert draft.details.reason is None
    assert draft.details.reason_code == "SHORT PICK"
    assert draft.details.reroute
    stock.apply(draft)
    assert ({"A-01-01": stock.qoh(TSHIRT, "A-01-01")}, stock.atp(TSHIRT)) == after


def test_built_in_reasons_keep_their_own_effect_and_record_no_code(orders, stock):
    draft = reject(orders["D-1005"], 1, RejectReason.DAMAGE, 1, stock)
    assert draft.details.reason is RejectReason.DAMAGE
    assert draft.details.reason_code is None
    assert draft.changes == ()  # released 1, then 1 taken from ATP: nets to nothing


def test_a_site_code_without_an_effect_is_refused(orders, stock):
    with pytest.raises(UnknownReason, match="Reason SHORT PICK is not a reject reason"):
        reject(orders["D-1005"], 1, "SHORT PICK", 1, stock)


def test_the_site_lists_refuse_unknown_codes_and_bad_lists():
    reasons = SiteReasons(
        reject=(RejectReasonDef(code="SHORT PICK", effect=ReasonEffect.NO_VARIANCE),),
    )
    assert reasons.reject_effect("SHORT PICK") is ReasonEffect.NO_VARIANCE
    with pytest.raises(UnknownReason, match="Reason DAMAGE is not a reject reason at this site"):
        reasons.reject_effect("DAMAGE")
    with pytest.raises(UnknownReason, match="not a reason for cancelling a line"):
        reasons.check_line_edit("OOPS", cancel=True)
    with pytest.raises(ValueError, match="reduce_line: list 1 to 9 reasons, not 0"):
        SiteReasons(reduce_line=())
    with pytest.raises(ValueError, match="is not a reason code"):
        SiteReasons(cancel_line=("bad\x1b[31m",))
