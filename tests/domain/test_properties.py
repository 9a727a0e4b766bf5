"""Random sequences of actions against the demo stock: docs/rules.md sections 1 and 9 hold.

Each step draws an action and its arguments (many of them invalid on purpose), runs the rule,
and either sees a Refused or applies the draft to a MemoryStock and the order. After every step
the stock figures are checked against an independent reading of docs/rules.md section 9's table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from putback_tui.domain.entries import UNDOABLE_KINDS, Entry, EntryDraft
from putback_tui.domain.errors import OverQuantity, Refused
from putback_tui.domain.models import (
    LocationKind,
    Order,
    OrderLine,
    OrderStatus,
    RejectReason,
    StockChange,
    apply_line_changes,
)
from putback_tui.domain.rules import (
    bulk_reject,
    cancel,
    force_cancel,
    move_out,
    put_back,
    reject,
    release,
    undo,
)

ACTIONS = (
    "release",
    "put_back",
    "put_back_then_undo",
    "reject",
    "cancel",
    "force_cancel",
    "bulk_reject",
    "move_out",
    "undo",
)

EXTRA_ORDERS = (
    # A live order half picked, so force cancel and bulk reject leave units to put back.
    Order(
        order_id="D-2002",
        facility="STORE-01",
        status=OrderStatus.IN_PROGRESS,
        lines=(
            OrderLine(line_no=1, sku="TSHIRT-BLK-M", quantity=3, picked=1, pick_location="A-01-01"),
            OrderLine(line_no=2, sku="CAP-RED", quantity=1, picked=0, pick_location="A-02-02"),
        ),
    ),
    # A cancelled order with many units picked on one line, for put-backs in several goes.
    Order(
        order_id="D-2004",
        facility="STORE-01",
        status=OrderStatus.CANCELLED,
        lines=(OrderLine(line_no=1, sku="CAP-RED", quantity=4, picked=4, pick_location="A-02-02"),),
    ),
    Order(
        order_id="D-2003",
        facility="STORE-01",
        status=OrderStatus.OPEN,
        has_label=True,
        lines=(OrderLine(line_no=1, sku="BOTTLE-1L", quantity=2, picked=0),),
    ),
)

PARKED = (
    # Units someone left in the exception area earlier: counted in QOH, not in ATP.
    StockChange(sku="SOCKS-3PK", location="EX-01", qoh=3),
    StockChange(sku="MUG-WHT", location="EX-01", qoh=1),
)


def new_world(demo: Any, to_entry: Any) -> World:
    stock = demo.stock()
    stock.apply_changes(PARKED)
    orders = dict(demo.orders) | {o.order_id: o for o in EXTRA_ORDERS}
    return World(demo=demo, to_entry=to_entry, stock=stock, orders=orders)


PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@dataclass
class World:
    """Stock, orders and everything recorded so far."""

    demo: Any
    to_entry: Any
    stock: Any
    orders: dict[str, Order]
    initial: Any = None
    entries: list[Entry] = field(default_factory=list)
    undone: set[str] = field(default_factory=set)
    refusals: list[Refused] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.initial = self.stock.copy()

    def record(self, draft: EntryDraft | None) -> Entry | None:
        """Apply a draft as the ledger would: stock, then the order's lines and status."""
        if draft is None:
            return None
        entry = self.to_entry(draft)
        self.stock.apply(entry)
        if entry.order_id is not None:
            order = apply_line_changes(self.orders[entry.order_id], entry.line_changes)
            if entry.details.order_status is not None:
                order = order.model_copy(update={"status": entry.details.order_status})
            self.orders[entry.order_id] = order
        if entry.details.undoes is not None:
            self.undone.add(entry.details.undoes)
        self.entries.append(entry)
        return entry

    def check_invariants(self) -> None:
        assert all(r.message.strip() for r in self.refusals), self.refusals
        assert all(n >= 0 for n in self.stock.figures()), self.stock.snapshot()
        for order in self.orders.values():
            for line in order.lines:
                assert 0 <= line.put_back <= line.picked, line
                assert line.released >= 0, line
                assert line.rejected >= 0, line
                assert line.released + line.rejected <= line.unpicked, line


def _set_qoh(stock: Any, sku: str, location: str, value: int) -> None:
    stock.apply_changes([_qoh_change(sku, location, max(value, 0) - stock.qoh(sku, location))])


def _set_atp(stock: Any, sku: str, value: int) -> None:
    stock.apply_changes([_atp_change(sku, max(value, 0) - stock.atp(sku))])


def _qoh_change(sku: str, location: str, n: int) -> StockChange:
    return StockChange(sku=sku, location=location, qoh=n)


def _atp_change(sku: str, n: int) -> StockChange:
    return StockChange(sku=sku, atp=n)


def step(world: World, data: st.DataObject) -> None:
    demo, stock, orders = world.demo, world.stock, world.orders
    action = data.draw(st.sampled_from(ACTIONS), label="action")
    # Half the draws aim at an order the action can apply to, so accepted actions are common.
    fitting = sorted(
        o.order_id
        for o in orders.values()
        if (o.status.is_live and action in ("reject", "cancel", "force_cancel", "bulk_reject"))
        or (o.status.is_exception and action.startswith("put_back") and o.picked_units)
        or (o.status.is_exception and action == "release")
    )
    everyone = st.sampled_from(sorted(orders))
    order = orders[
        data.draw(st.sampled_from(fitting) | everyone if fitting else everyone, label="order")
    ]
    line = data.draw(st.sampled_from(order.lines), label="line")
    quantity = data.draw(st.integers(0, 4), label="quantity")
    predicted = stock.copy()

    try:
        if action == "release":
            draft = release(order, stock)
            assert order.status.is_exception
            if draft is None:
                assert all(line.unpicked_open == 0 for line in order.lines)
            for ln in order.lines:
                _set_atp(predicted, ln.sku, predicted.atp(ln.sku) + ln.unpicked_open)

        elif action in ("put_back", "put_back_then_undo"):
            location = demo.locations[
                data.draw(
                    st.sampled_from(["EX-01", line.pick_location or "A-01-01"])
                    | st.sampled_from(sorted(demo.locations)),
                    label="location",
                )
            ]
            sku = data.draw(st.sampled_from([line.sku, line.sku, "MUG-WHT"]), label="sku")
            lot = data.draw(st.sampled_from([line.lot, line.lot, None, "ZZ-999"]), label="lot")
            quantity = data.draw(
                st.integers(1, max(line.to_put_back, 1)) | st.just(quantity), label="quantity"
            )
            before_stock, before_order = stock.copy(), order
            draft = put_back(
                order, line.line_no, demo.products[sku], location, quantity, stock, lot=lot
            )
            # Accepted: every condition of docs/rules.md section 1 held.
            assert order.status.is_exception
            assert location.facility == order.facility
            assert location.kind in (LocationKind.STORAGE, LocationKind.EXCEPTION)
            assert sku == line.sku
            assert 1 <= quantity <= line.to_put_back
            _set_qoh(predicted, sku, location.code, predicted.qoh(sku, location.code) + quantity)
            if location.kind is LocationKind.STORAGE:
                _set_atp(predicted, sku, predicted.atp(sku) + quantity)
            if action == "put_back_then_undo":
                entry = world.record(draft)
                assert entry is not None
                world.record(undo(entry, already_undone=False, stock=stock))
                event("applied put_back_then_undo")
                # Nothing happened in between: the undo restores stock and order exactly.
                assert stock.snapshot() == before_stock.snapshot()
                assert world.orders[order.order_id] == before_order
                return

        elif action == "reject":
            reason = data.draw(st.sampled_from(RejectReason), label="reason")
            draft = reject(order, line.line_no, reason, quantity, stock)
            assert order.status.is_live
            assert 1 <= quantity <= line.unpicked_open
            sku = line.sku
            released = predicted.atp(sku) + quantity
            if reason is RejectReason.NOT_IN_STOCK:
                for loc in list(predicted.qoh_by_location(sku)):
                    _set_qoh(predicted, sku, loc, 0)
                _set_atp(predicted, sku, 0)
            else:
                if reason is RejectReason.MISMATCH and line.pick_location:
                    where = line.pick_location
                    _set_qoh(predicted, sku, where, predicted.qoh(sku, where) - quantity)
                _set_atp(predicted, sku, released - quantity)

        elif action in ("cancel", "force_cancel", "bulk_reject"):
            rule = {"cancel": cancel, "force_cancel": force_cancel, "bulk_reject": bulk_reject}
            draft = rule[action](order, stock)
            assert order.status.is_live
            if action == "cancel":
                assert order.picked_units == 0
                assert not order.has_label
            for ln in order.lines:
                _set_atp(predicted, ln.sku, predicted.atp(ln.sku) + ln.unpicked_open)

        elif action == "move_out":
            parked = sorted(sku for sku in demo.products if stock.qoh(sku, "EX-01"))
            sku = data.draw(st.sampled_from(parked * 4 + sorted(demo.products)), label="sku")
            everywhere = st.sampled_from(sorted(demo.locations))
            source = demo.locations[
                data.draw(st.sampled_from(["EX-01"] * 8 + sorted(demo.locations)), label="from")
            ]
            target = demo.locations[
                data.draw(st.sampled_from(["A-01-01", "B-01-01"]) | everywhere, label="to")
            ]
            if parked and sku in parked and source.code == "EX-01":
                quantity = data.draw(
                    st.integers(1, stock.qoh(sku, "EX-01")) | st.just(quantity), label="n"
                )
            draft = move_out(demo.products[sku], source, target, quantity, demo.facility, stock)
            assert source.kind is LocationKind.EXCEPTION
            assert target.kind is LocationKind.STORAGE
            assert 1 <= quantity <= stock.qoh(sku, source.code)
            _set_qoh(predicted, sku, source.code, predicted.qoh(sku, source.code) - quantity)
            _set_qoh(predicted, sku, target.code, predicted.qoh(sku, target.code) + quantity)
            _set_atp(predicted, sku, predicted.atp(sku) + quantity)

        else:  # undo of any earlier entry, undone or not
            if not world.entries:
                return
            entry = data.draw(st.sampled_from(world.entries), label="entry to undo")
            draft = undo(entry, already_undone=entry.entry_id in world.undone, stock=stock)
            assert entry.kind in UNDOABLE_KINDS
            assert entry.entry_id not in world.undone
            for c in entry.changes:
                if c.location is not None:
                    _set_qoh(predicted, c.sku, c.location, predicted.qoh(c.sku, c.location) - c.qoh)
                else:
                    _set_atp(predicted, c.sku, predicted.atp(c.sku) - c.atp)
    except Refused as refused:
        world.refusals.append(refused)
        event(f"refused {action}: {type(refused).__name__}")
        return

    world.record(draft)
    event(f"applied {action}")
    # The entry records the change actually made: applying it gives what docs/rules.md 9 predicts.
    assert stock.snapshot() == predicted.snapshot(), action


@PROPERTY_SETTINGS
@given(data=st.data())
def test_random_actions_keep_the_stock_consistent(demo, to_entry, data):
    world = new_world(demo, to_entry)
    for _ in range(data.draw(st.integers(1, 25), label="steps")):
        step(world, data)
        world.check_invariants()

    # Stock can always be rebuilt from the ledger: initial figures plus every entry's changes.
    rebuilt = world.initial.copy()
    for entry in world.entries:
        rebuilt.apply(entry)
    assert rebuilt.snapshot() == world.stock.snapshot()


@PROPERTY_SETTINGS
@given(data=st.data())
def test_undo_of_a_put_back_restores_exactly(demo, to_entry, data):
    """Whatever came before, a put-back followed at once by its undo leaves no trace."""
    world = new_world(demo, to_entry)
    for _ in range(data.draw(st.integers(0, 10), label="steps before")):
        step(world, data)

    candidates = [
        (o, ln)
        for o in world.orders.values()
        if o.status.is_exception
        for ln in o.lines
        if ln.to_put_back
    ]
    if not candidates:
        return
    order, line = data.draw(st.sampled_from(candidates), label="put-back line")
    location = demo.locations[
        data.draw(st.sampled_from(["A-01-01", "B-01-01", "EX-01"]), label="location")
    ]
    quantity = data.draw(st.integers(1, line.to_put_back), label="quantity")
    before = world.stock.snapshot()
    entry = world.record(
        put_back(
            order,
            line.line_no,
            demo.products[line.sku],
            location,
            quantity,
            world.stock,
            lot=line.lot or ("LOT-1" if demo.products[line.sku].lot_tracked else None),
        )
    )
    assert entry is not None
    assert world.stock.snapshot() != before
    world.record(undo(entry, already_undone=False, stock=world.stock))
    assert world.stock.snapshot() == before
    assert world.orders[order.order_id] == order


@PROPERTY_SETTINGS
@given(data=st.data())
def test_put_backs_on_a_line_never_exceed_what_was_picked(demo, to_entry, data):
    """Put-backs and undos in any order: accepted exactly while units are left to put back."""
    world = new_world(demo, to_entry)
    order_id = data.draw(st.sampled_from(["D-1002", "D-1003", "D-2004"]), label="order")
    line_no = data.draw(st.sampled_from([ln.line_no for ln in world.orders[order_id].lines]))
    picked = world.orders[order_id].line(line_no).picked
    put_backs: list[Entry] = []
    for _ in range(data.draw(st.integers(1, 8), label="steps")):
        order = world.orders[order_id]
        line = order.line(line_no)
        if put_backs and data.draw(st.booleans(), label="undo?"):
            entry = put_backs.pop()
            world.record(undo(entry, already_undone=False, stock=world.stock))
        else:
            quantity = data.draw(st.integers(1, picked + 1), label="quantity")
            where = data.draw(st.sampled_from(["EX-01", "A-02-02", "B-01-01"]), label="where")
            product, location = demo.products[line.sku], demo.locations[where]
            if quantity > line.to_put_back:
                with pytest.raises(OverQuantity):
                    put_back(order, line_no, product, location, quantity, world.stock)
            else:
                draft = put_back(order, line_no, product, location, quantity, world.stock)
                entry = world.record(draft)
                assert entry is not None
                put_backs.append(entry)
        world.check_invariants()
        line = world.orders[order_id].line(line_no)
        assert line.put_back == sum(e.details.quantity or 0 for e in put_backs) <= picked
