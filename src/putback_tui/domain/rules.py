"""The inventory rules (docs/rules.md sections 1-4, 9) as pure functions from state to a draft.

Every function reads current stock through a :class:`StockView`, refuses with a typed
:class:`~putback_tui.domain.errors.Refused`, or returns an :class:`EntryDraft` listing the exact
changes to make (after stopping at zero). Nothing here writes anything.

Over 600 lines as one unit: it is docs/rules.md as code, one function per rule, so each rule is
read next to the rules it shares the stock view and the refusals with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, TypeVar

from putback_tui.domain.bounds import MAX_FIGURE, MAX_QUANTITY, check_code_length, clip_text
from putback_tui.domain.entries import UNDOABLE_KINDS, Entry, EntryDetails, EntryDraft, EntryKind
from putback_tui.domain.errors import (
    CancelNotAllowed,
    InvalidQuantity,
    LineEditNotAllowed,
    LotRequired,
    NotEnoughStock,
    NothingToResolve,
    NothingToUndo,
    OrderNotException,
    OrderNotLive,
    OrderReconciled,
    OrderShipped,
    OverQuantity,
    ProductNotOnOrder,
    UndoNotExact,
    UnknownReason,
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
    Product,
    RejectReason,
    StockChange,
    constructed,
    replaced,
)
from putback_tui.domain.reasons import BUILT_IN_EFFECTS, ReasonEffect, reason_of
from putback_tui.domain.wording import agree
from putback_tui.domain.wording import units as _units


class StockView(Protocol):
    """Read access to current stock at this facility."""

    def qoh(self, sku: str, location: str) -> int:
        """Units of ``sku`` physically at ``location``."""
        ...

    def atp(self, sku: str) -> int:
        """Units of ``sku`` available to promise."""
        ...

    def qoh_by_location(self, sku: str) -> Mapping[str, int]:
        """Every location holding ``sku``, with its QOH."""
        ...


class StockDelta:
    """Accumulates changes against a stock view, stopping every figure at zero.

    Changes are applied in the order asked, so "release, then take the rejected units away"
    nets out exactly as docs/rules.md section 9 says; the result lists the net change actually made.

    A figure is read from the view only when stopping at zero could matter: stock is never
    below zero (both stores' schemas refuse it), so units only ever added change a figure by
    exactly what was added, whatever it held. A put-back or a release reads no stock at all.
    """

    def __init__(self, stock: StockView) -> None:
        self._stock = stock
        # (start, now) of each figure changed; start None: not read, and "now" is the units
        # added to it so far (every change to it was an addition).
        self._qoh: dict[tuple[str, str], tuple[int | None, int]] = {}
        self._atp: dict[str, tuple[int | None, int]] = {}

    def add_qoh(self, sku: str, location: str, delta: int) -> None:
        """Change QOH of (sku, location) by ``delta``, stopping at zero."""
        _add(self._qoh, (sku, location), delta, lambda: self._stock.qoh(sku, location))

    def set_qoh(self, sku: str, location: str, value: int) -> None:
        """Set QOH of (sku, location) to ``value``."""
        _set(self._qoh, (sku, location), value, lambda: self._stock.qoh(sku, location))

    def add_atp(self, sku: str, delta: int) -> None:
        """Change ATP of ``sku`` by ``delta``, stopping at zero."""
        _add(self._atp, sku, delta, lambda: self._stock.atp(sku))

    def set_atp(self, sku: str, value: int) -> None:
        """Set ATP of ``sku`` to ``value``."""
        _set(self._atp, sku, value, lambda: self._stock.atp(sku))

    def changes(self) -> tuple[StockChange, ...]:
        """The net changes, QOH first, leaving out those that net to nothing."""
        out = [
            _stock_change(sku, loc, end - (start or 0), 0)
            for (sku, loc), (start, end) in self._qoh.items()
            if end != (start or 0)
        ]
        out += [
            _stock_change(sku, None, 0, end - (start or 0))
            for sku, (start, end) in self._atp.items()
            if end != (start or 0)
        ]
        return tuple(out)


_K = TypeVar("_K", str, tuple[str, str])


def _read(
    figures: dict[_K, tuple[int | None, int]], key: _K, read: Callable[[], int]
) -> tuple[int, int]:
    """(start, now) of a figure of :class:`StockDelta`, its start read from the view if not yet."""
    start, now = figures.get(key) or (None, 0)
    if start is None:
        start = read()
        now += start
    return start, now


def _add(
    figures: dict[_K, tuple[int | None, int]], key: _K, delta: int, read: Callable[[], int]
) -> None:
    """Change a figure by ``delta``, stopping at zero; an addition to one never read reads none."""
    known = figures.get(key)
    if delta >= 0 and (known is None or known[0] is None):
        figures[key] = (None, delta + (known[1] if known else 0))
        return
    start, now = _read(figures, key, read)
    figures[key] = (start, max(now + delta, 0))


def _set(
    figures: dict[_K, tuple[int | None, int]], key: _K, value: int, read: Callable[[], int]
) -> None:
    """Set a figure to ``value`` (at least zero), keeping where it started."""
    start, _ = _read(figures, key, read)
    figures[key] = (start, max(value, 0))


def _stock_change(sku: str, location: str | None, qoh: int, atp: int) -> StockChange:
    """One change of :meth:`StockDelta.changes`: validated only when a figure could fail.

    The SKU and location are a validated model's codes (a product's, a line's, a location's,
    an entry's change) or a stock row's, and the shape is the one the model wants (QOH with a
    location, ATP without); what is left to check is each figure's bound. Built without
    validation, a change takes a fifth of the time.
    """
    if -MAX_FIGURE <= qoh <= MAX_FIGURE and -MAX_FIGURE <= atp <= MAX_FIGURE:
        return constructed(StockChange, {"sku": sku, "location": location, "qoh": qoh, "atp": atp})
    return StockChange(sku=sku, location=location, qoh=qoh, atp=atp)


def _a(noun: str) -> str:
    """``noun`` with its indefinite article: "a release", "an undo"."""
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


_KIND_NAMES = {kind: kind.value.replace("_", " ") for kind in EntryKind} | {
    EntryKind.PUT_BACK: "put-back"
}
"""Entry kinds as the operator reads them in a sentence."""


def check_quantity(quantity: int) -> None:
    """Refuse a quantity that is not a whole number from 1 to ``MAX_QUANTITY`` (10,000).

    Raises:
        InvalidQuantity: zero, negative, or over the maximum.
    """
    if quantity < 1:
        raise InvalidQuantity(f"Quantity must be at least 1, not {quantity}.")
    if quantity > MAX_QUANTITY:
        raise InvalidQuantity(f"Quantity must be at most {MAX_QUANTITY:,}, not {quantity:,}.")


def check_can_open(order: Order, facility: str) -> None:
    """Refuse orders that have nothing to do with this terminal.

    Raises:
        WrongFacility: the order belongs to another facility.
        OrderShipped: the order has shipped.
    """
    if order.facility != facility:
        raise WrongFacility(f"Order {order.order_id} belongs to {order.facility}, not {facility}.")
    _check_not_shipped(order)


def release(order: Order, stock: StockView) -> EntryDraft | None:
    """Release every unpicked reservation of an exception order (ATP + quantity).

    Returns:
        The draft, or None when nothing is left to release.

    Raises:
        OrderShipped: the order has shipped.
        OrderNotException: the order is live.
    """
    _check_not_shipped(order)
    if not order.status.is_exception:
        raise OrderNotException(
            f"Order {order.order_id} is {order.status.value.replace('_', ' ')}, "
            "not an exception: nothing is released."
        )
    delta = StockDelta(stock)
    line_changes = []
    for line in order.lines:
        if line.unpicked_open:
            delta.add_atp(line.sku, line.unpicked_open)
            line_changes.append(
                LineChange(
                    order_id=order.order_id, line_no=line.line_no, released=line.unpicked_open
                )
            )
    if not line_changes:
        return None
    return EntryDraft(
        kind=EntryKind.RELEASE,
        order_id=order.order_id,
        details=EntryDetails(quantity=sum(c.released for c in line_changes)),
        changes=delta.changes(),
        line_changes=tuple(line_changes),
    )


def suggest_location(
    line: OrderLine, product: Product | None, exception_locations: Iterable[str]
) -> str | None:
    """Where a put-back should go: where it was picked, else home, else the exception area."""
    if line.pick_location:
        return line.pick_location
    if product is not None and product.home_location:
        return product.home_location
    return next(iter(exception_locations), None)


def line_for_product(order: Order, sku: str) -> OrderLine:
    """The line of ``order`` that a scan of ``sku`` selects for put-back.

    Raises:
        ProductNotOnOrder: the product is not on the order.
        OrderReconciled: the product's lines are all put back.
    """
    lines = [line for line in order.lines if line.sku == sku]
    if not lines:
        raise ProductNotOnOrder(f"{sku} is not on order {order.order_id}.")
    for line in lines:
        if order.owed(line):
            return line
    raise OrderReconciled(f"{sku} of order {order.order_id} is already all put back.")


def check_location(location: Location, facility: str, *, allowed: Iterable[LocationKind]) -> None:
    """Refuse a location of another facility or of the wrong kind.

    Raises:
        WrongFacility: the location belongs to another facility.
        WrongLocationKind: the location is not of an allowed kind.
    """
    if location.facility != facility:
        raise WrongFacility(
            f"Location {location.code} belongs to {location.facility}, not {facility}."
        )
    kinds = tuple(allowed)
    if location.kind not in kinds:
        wanted = " or ".join(f"{k.value}" for k in kinds)
        raise WrongLocationKind(
            f"{location.code} is {_a(location.kind.value)} location: scan {_a(wanted)} location."
        )


def put_back(
    order: Order,
    line_no: int,
    product: Product,
    location: Location,
    quantity: int,
    stock: StockView,
    *,
    lot: str | None = None,
) -> EntryDraft:
    """Put ``quantity`` picked units of a line back into ``location``.

    Storage: QOH(L) + q and ATP + q. Exception location: QOH(X) + q, ATP unchanged. A live
    order is put back only for the picked units a line edit withdrew from it.

    Raises:
        OrderShipped, OrderNotException, ProductNotOnOrder, OverQuantity, LotRequired, WrongLot,
        WrongFacility, WrongLocationKind, InvalidQuantity.
    """
    _check_not_shipped(order)
    line = order.line(line_no)
    if not order.status.is_exception and not (order.status.is_live and line.withdrawn):
        raise OrderNotException(
            f"Order {order.order_id} is {order.status.value.replace('_', ' ')}: "
            "only exception orders are put back."
        )
    check_quantity(quantity)
    if line.sku != product.sku:
        raise ProductNotOnOrder(
            f"{product.sku} is not on line {line_no} of order {order.order_id} ({line.sku})."
        )
    check_location(location, order.facility, allowed=(LocationKind.STORAGE, LocationKind.EXCEPTION))
    owed = order.owed(line)
    if product.lot_tracked:
        if not lot:
            raise LotRequired(f"{product.sku} is lot-tracked: scan the GS1 label or type the lot.")
        try:
            check_code_length(lot)
        except ValueError as exc:
            raise WrongLot(f"That lot cannot be recorded: {exc}.") from None
        if line.lot and lot != line.lot:
            raise WrongLot(f"Lot {lot} is not the lot picked for this line ({line.lot}).")
    if not owed:
        raise OverQuantity(
            f"Nothing of {product.sku} is left to put back on order {order.order_id}."
        )
    if quantity > owed:
        raise OverQuantity(
            f"Only {_units(owed)} of {product.sku} "
            f"{agree(owed, 'is', 'are')} left to put back "
            f"on order {order.order_id}, not {quantity}."
        )
    delta = StockDelta(stock)
    delta.add_qoh(product.sku, location.code, quantity)
    if location.kind is LocationKind.STORAGE:
        delta.add_atp(product.sku, quantity)
    if type(quantity) is int and (lot is None or product.lot_tracked):
        # Every value is a validated model's or checked above (the quantity's range, the
        # lot's length and characters): the draft is built as validation would build it, in
        # a fraction of the time (the put-back is the terminal's one frequent action).
        return constructed(
            EntryDraft,
            {
                "kind": EntryKind.PUT_BACK,
                "order_id": order.order_id,
                "details": replaced(
                    _NO_DETAILS, sku=product.sku, quantity=quantity, location=location.code,
                    lot=lot,
                ),
                "changes": delta.changes(),
                "line_changes": (
                    replaced(
                        _A_LINE_CHANGE, order_id=order.order_id, line_no=line.line_no,
                        put_back=quantity,
                    ),
                ),
            },
        )
    return EntryDraft(
        kind=EntryKind.PUT_BACK,
        order_id=order.order_id,
        details=EntryDetails(sku=product.sku, quantity=quantity, location=location.code, lot=lot),
        changes=delta.changes(),
        line_changes=(LineChange(order_id=order.order_id, line_no=line_no, put_back=quantity),),
    )


_NO_DETAILS = EntryDetails()
"""Details with every field unset: what :func:`put_back` fills in (see :func:`replaced`)."""
_A_LINE_CHANGE = LineChange(order_id="-", line_no=1)
"""A line change that changes nothing: what :func:`put_back` fills in."""


def _check_not_shipped(order: Order) -> None:
    if order.status is OrderStatus.SHIPPED:
        raise OrderShipped(f"Order {order.order_id} has shipped: handle it as a return.")


def _check_live(order: Order, action: str) -> None:
    _check_not_shipped(order)
    if not order.status.is_live:
        raise OrderNotLive(
            f"Order {order.order_id} is already {order.status.value}: it cannot be {action}."
        )


def reject(
    order: Order,
    line_no: int,
    reason: RejectReason | str,
    quantity: int,
    stock: StockView,
    *,
    home_location: str | None = None,
    effect: ReasonEffect | None = None,
) -> EntryDraft:
    """Reject unpicked units of a live order's line for ``reason`` (docs/rules.md sections 3 and 9).

    The units' reservation is released first (ATP + q); then the reason's ``effect`` applies:
    ``zero_stock`` (NOT IN STOCK) sets ATP and every location's QOH to 0, ``remove_from_stock``
    (MISMATCH) takes q from QOH at the pick location and from ATP, ``unsellable`` (DAMAGE, WORN
    DISPLAY) takes q from ATP, ``no_variance`` changes nothing more. ``effect`` None: the
    built-in reason's own. The line is marked for re-routing.

    Raises:
        OrderShipped, OrderNotLive, InvalidQuantity, OverQuantity, UnknownReason (a site's
        code without an effect).
    """
    built_in = reason_of(reason)
    if effect is None:
        if built_in is None:
            raise UnknownReason(f"Reason {reason} is not a reject reason at this site.")
        effect = BUILT_IN_EFFECTS[built_in]
    _check_live(order, "rejected")
    check_quantity(quantity)
    line = order.line(line_no)
    if quantity > line.unpicked_open:
        raise OverQuantity(
            f"Line {line_no} has only {_units(line.unpicked_open)} of {line.sku} unpicked "
            f"and open, not {quantity}."
        )
    delta = StockDelta(stock)
    delta.add_atp(line.sku, quantity)
    if effect is ReasonEffect.ZERO_STOCK:
        for location in sorted(stock.qoh_by_location(line.sku)):  # the same order everywhere
            delta.set_qoh(line.sku, location, 0)
        delta.set_atp(line.sku, 0)
    elif effect is not ReasonEffect.NO_VARIANCE:
        if effect is ReasonEffect.REMOVE_FROM_STOCK:
            where = line.pick_location or home_location
            if where:
                delta.add_qoh(line.sku, where, -quantity)
        delta.add_atp(line.sku, -quantity)
    return EntryDraft(
        kind=EntryKind.REJECT,
        order_id=order.order_id,
        details=EntryDetails(
            sku=line.sku,
            quantity=quantity,
            reason=built_in,
            # A site's own code is recorded as written (a built-in one as the reason itself).
            reason_code=None if built_in is not None else str(reason),
            reroute=True,
            location=line.pick_location or home_location,
        ),
        changes=delta.changes(),
        line_changes=(LineChange(order_id=order.order_id, line_no=line_no, rejected=quantity),),
    )


def cancel(order: Order, stock: StockView, *, reason_code: str | None = None) -> EntryDraft:
    """Cancel an order: only while nothing is picked and no label exists. Releases everything.

    ``reason_code``: the site's reason, recorded as given (the site's list is checked by the
    caller, see :class:`putback_tui.domain.reasons.SiteReasons`).

    Raises:
        OrderShipped, OrderNotLive, CancelNotAllowed.
    """
    check_cancel(order)
    return _release_all(
        order, stock, EntryKind.CANCEL, OrderStatus.CANCELLED, reject=False,
        reason_code=reason_code,
    )


def check_cancel(order: Order) -> None:
    """Refuse a plain cancel of an order with anything picked or labelled (docs/rules.md section 4).

    Raises:
        OrderShipped, OrderNotLive, CancelNotAllowed.
    """
    _check_live(order, "cancelled")
    if order.picked_units:
        raise CancelNotAllowed(
            f"Order {order.order_id} has {_units(order.picked_units)} picked: "
            "use force cancel, then put them back."
        )
    if order.has_label:
        raise CancelNotAllowed(f"Order {order.order_id} has a shipping label: use force cancel.")


def force_cancel(
    order: Order, stock: StockView, *, reason_code: str | None = None
) -> EntryDraft:
    """Cancel whatever the state: release the unpicked now; the picked become a put-back.

    Raises:
        OrderShipped, OrderNotLive.
    """
    _check_live(order, "cancelled")
    return _release_all(
        order, stock, EntryKind.FORCE_CANCEL, OrderStatus.CANCELLED, reject=False,
        reason_code=reason_code,
    )


def bulk_reject(
    order: Order, stock: StockView, *, reason_code: str | None = None
) -> EntryDraft:
    """Reject a whole live order with no inventory fault (docs/rules.md section 9, bulk reject).

    ATP + the unpicked quantity (reservations released), QOH unchanged; the lines are marked for
    re-routing and the picked units go to put-back.

    Raises:
        OrderShipped, OrderNotLive.
    """
    _check_live(order, "rejected")
    return _release_all(
        order, stock, EntryKind.BULK_REJECT, OrderStatus.REJECTED, reject=True,
        reason_code=reason_code,
    )


def _release_all(
    order: Order,
    stock: StockView,
    kind: EntryKind,
    status: OrderStatus,
    *,
    reject: bool,
    reason_code: str | None,
) -> EntryDraft:
    delta = StockDelta(stock)
    line_changes = []
    for line in order.lines:
        if line.unpicked_open:
            delta.add_atp(line.sku, line.unpicked_open)
            line_changes.append(
                LineChange(
                    order_id=order.order_id,
                    line_no=line.line_no,
                    rejected=line.unpicked_open if reject else 0,
                    released=0 if reject else line.unpicked_open,
                )
            )
    moved = sum(c.rejected + c.released for c in line_changes)
    return EntryDraft(
        kind=kind,
        order_id=order.order_id,
        details=EntryDetails(
            quantity=moved, order_status=status, reroute=reject, reason_code=reason_code
        ),
        changes=delta.changes(),
        line_changes=tuple(line_changes),
    )


def check_line_edit(order: Order, line_no: int, action: str) -> OrderLine:
    """Refuse a line edit the order does not allow; the line to edit otherwise.

    Raises:
        OrderShipped, OrderNotLive (an exception order is handled by release and put-back),
        UnknownLine, LineEditNotAllowed (a shipping label, or nothing left on the line here).
    """
    _check_not_shipped(order)
    if not order.status.is_live:
        raise OrderNotLive(
            f"Order {order.order_id} is {order.status.value}: its lines are not {action}, "
            "it is handled by release and put-back."
        )
    line = order.line(line_no)
    if order.has_label:
        raise LineEditNotAllowed(
            f"Order {order.order_id} has a shipping label: its lines cannot be {action}. "
            "Force cancel it, or change it in the OMS."
        )
    if not line.held:
        raise LineEditNotAllowed(
            f"Line {line_no} of order {order.order_id} has nothing left here to take off."
        )
    return line


def cancel_line(
    order: Order, line_no: int, reason_code: str, stock: StockView
) -> EntryDraft:
    """Cancel one line of a live order (docs/rules.md section 9, cancel a line).

    The line's open unpicked units are released (ATP + unpicked, QOH unchanged); its picked
    units are withdrawn and owed a put-back, which then follows the put-back rows.

    Raises:
        OrderShipped, OrderNotLive, UnknownLine, LineEditNotAllowed.
    """
    line = check_line_edit(order, line_no, "cancelled")
    return _take_off(order, line, line.held, EntryKind.CANCEL_LINE, reason_code, stock)


def reduce_line(
    order: Order, line_no: int, new_quantity: int, reason_code: str, stock: StockView
) -> EntryDraft:
    """Lower a live line's ordered quantity from q to q' (docs/rules.md section 9, reduce a line).

    The q - q' units taken off come from the open unpicked units first (released: ATP +), the
    rest from the picked units (withdrawn: owed a put-back). Raising is refused: it needs a new
    reservation, made upstream.

    Raises:
        OrderShipped, OrderNotLive, UnknownLine, LineEditNotAllowed, InvalidQuantity.
    """
    line = check_line_edit(order, line_no, "reduced")
    if new_quantity < 0:
        raise InvalidQuantity(f"The new quantity must be 0 or more, not {new_quantity}.")
    if new_quantity >= line.ordered:
        if new_quantity > line.ordered:
            raise LineEditNotAllowed(
                f"Raising line {line_no} from {line.ordered} to {new_quantity} needs a new "
                "reservation: change it in the OMS."
            )
        raise LineEditNotAllowed(
            f"Line {line_no} already orders {line.ordered}: type a smaller quantity."
        )
    taken = line.ordered - new_quantity
    if taken > line.held:
        raise LineEditNotAllowed(
            f"Line {line_no} can go down to {line.ordered - line.held} here, not {new_quantity}: "
            "the rest was rejected and is re-routed."
        )
    return _take_off(order, line, taken, EntryKind.REDUCE_LINE, reason_code, stock)


def _take_off(
    order: Order,
    line: OrderLine,
    taken: int,
    kind: EntryKind,
    reason_code: str,
    stock: StockView,
) -> EntryDraft:
    if not reason_code.strip() or len(reason_code) > 64:
        raise LineEditNotAllowed("A line edit names a reason code of 1 to 64 characters.")
    released, withdrawn = line_edit_effect(line, taken)
    delta = StockDelta(stock)
    if released:
        delta.add_atp(line.sku, released)
    return EntryDraft(
        kind=kind,
        order_id=order.order_id,
        details=EntryDetails(
            sku=line.sku,
            line_no=line.line_no,
            from_quantity=line.ordered,
            quantity=line.ordered - taken,
            reason_code=reason_code,
        ),
        changes=delta.changes(),
        line_changes=(
            LineChange(
                order_id=order.order_id,
                line_no=line.line_no,
                released=released,
                withdrawn=withdrawn,
            ),
        ),
    )


def line_edit_effect(line: OrderLine, taken: int) -> tuple[int, int]:
    """How ``taken`` units off ``line`` split: (released to available stock, to put back)."""
    released = min(line.unpicked_open, taken)
    return released, taken - released


def move_out(
    product: Product,
    source: Location,
    target: Location,
    quantity: int,
    facility: str,
    stock: StockView,
) -> EntryDraft:
    """Move units out of an exception location into storage: QOH(X) - n, QOH(L) + n, ATP + n.

    Raises:
        WrongFacility, WrongLocationKind, InvalidQuantity, NotEnoughStock.
    """
    check_quantity(quantity)
    check_location(source, facility, allowed=(LocationKind.EXCEPTION,))
    check_location(target, facility, allowed=(LocationKind.STORAGE,))
    there = stock.qoh(product.sku, source.code)
    if quantity > there:
        raise NotEnoughStock(
            f"Only {_units(there)} of {product.sku} sit in {source.code}, not {quantity}."
        )
    delta = StockDelta(stock)
    delta.add_qoh(product.sku, source.code, -quantity)
    delta.add_qoh(product.sku, target.code, quantity)
    delta.add_atp(product.sku, quantity)
    return EntryDraft(
        kind=EntryKind.MOVE_OUT,
        details=EntryDetails(
            sku=product.sku, quantity=quantity, from_location=source.code, location=target.code
        ),
        changes=delta.changes(),
    )


def undo(entry: Entry, *, already_undone: bool, stock: StockView) -> EntryDraft:
    """The compensating entry for ``entry``: the exact opposite of its changes.

    Raises:
        NothingToUndo: the entry was undone already or is not of an undoable kind.
    """
    if entry.kind not in UNDOABLE_KINDS:
        raise NothingToUndo(f"{_a(_KIND_NAMES[entry.kind]).capitalize()} entry cannot be undone.")
    if already_undone:
        raise NothingToUndo(f"That {_KIND_NAMES[entry.kind]} was undone already.")
    delta = StockDelta(stock)
    for change in entry.changes:
        if change.location is not None:
            delta.add_qoh(change.sku, change.location, -change.qoh)
        else:
            delta.add_atp(change.sku, -change.atp)
    # Units must still be where the entry put them: a QOH reversal stopped at zero would leave
    # the line counting units as "to put back" that sit somewhere else. ATP may stop at zero
    # (docs/rules.md section 9): it is a promise figure; new orders may have taken the units since.
    made = {(c.sku, c.location): c.qoh for c in delta.changes() if c.location is not None}
    for change in entry.changes:
        if change.location is not None and made.get((change.sku, change.location)) != -change.qoh:
            where = change.location
            raise UndoNotExact(
                f"Cannot undo: the {change.sku} of that {_KIND_NAMES[entry.kind]} has moved on "
                f"from {where} since. Correct it with a new entry instead."
            )
    return EntryDraft(
        kind=EntryKind.UNDO,
        order_id=entry.order_id,
        details=entry.details.model_copy(update={"undoes": entry.entry_id}),
        changes=delta.changes(),
        line_changes=tuple(
            LineChange(
                order_id=c.order_id,
                line_no=c.line_no,
                released=-c.released,
                rejected=-c.rejected,
                put_back=-c.put_back,
                withdrawn=-c.withdrawn,
            )
            for c in entry.line_changes
        ),
    )


def refusal(kind_of_action: str, permission: str, message: str, order_id: str | None) -> EntryDraft:
    """The audit entry for an action refused for want of permission. Changes nothing."""
    return EntryDraft(
        kind=EntryKind.REFUSAL,
        order_id=order_id,
        # The message names the operator, whose name may be long: the entry stays in bounds.
        details=EntryDetails(
            permission=permission, message=clip_text(f"{kind_of_action}: {message}")
        ),
    )


def units_claimed(entry: Entry) -> dict[str, int]:
    """Units an entry says it placed somewhere, by SKU, read from its meaning.

    A put-back or a move-out places its quantity of its product; an undo of a move-out puts the
    units back where they came from. Nothing else places units anywhere. This is what a
    resolution of the entry, once refused, may at most count as found.
    """
    details = entry.details
    placing = entry.kind in (EntryKind.PUT_BACK, EntryKind.MOVE_OUT) or (
        entry.kind is EntryKind.UNDO and details.from_location is not None
    )
    if not placing or details.sku is None or not details.quantity or details.quantity < 0:
        return {}
    return {details.sku: details.quantity}


def resolve_refused(
    refused: Entry,
    *,
    already_resolved: bool,
    found_in: Location | None,
    facility: str,
    stock: StockView,
) -> EntryDraft:
    """A supervisor's resolution of an entry the central store refused: a new entry, never an edit.

    The refused entry's stock changes were dropped from the projections once the central
    store's figures arrived (its figures are the truth), so there is nothing to reverse. Two
    outcomes are possible:

    * ``found_in`` None: acknowledged. The entry records that a supervisor looked at the
      refusal and that the central store's figures stand; it changes no stock.
    * ``found_in`` an exception location: the units the refused entry put somewhere do exist
      (someone found them); they are counted into that exception location, QOH(X) + n and ATP
      unchanged, so they are in stock but not sellable until moved out with a scan.

    Raises:
        NothingToResolve: resolved already, or units found for an entry that added none.
        WrongFacility, WrongLocationKind: ``found_in`` is not an exception location here.
    """
    name = _KIND_NAMES[refused.kind]
    if already_resolved:
        raise NothingToResolve(f"That refused {name} (#{refused.seq}) was resolved already.")
    if found_in is None:
        return EntryDraft(
            kind=EntryKind.RESOLVE,
            order_id=refused.order_id,
            details=EntryDetails(
                resolves=refused.entry_id,
                sku=refused.details.sku,
                note="acknowledged: the central store's figures stand, no stock changed",
            ),
        )
    check_location(found_in, facility, allowed=(LocationKind.EXCEPTION,))
    added = units_claimed(refused)
    if not added:
        raise NothingToResolve(
            f"That refused {name} (#{refused.seq}) added no units anywhere: acknowledge it."
        )
    delta = StockDelta(stock)
    for sku, units in added.items():
        delta.add_qoh(sku, found_in.code, units)
    total = sum(added.values())
    return EntryDraft(
        kind=EntryKind.RESOLVE,
        order_id=refused.order_id,
        details=EntryDetails(
            resolves=refused.entry_id,
            sku=next(iter(added)) if len(added) == 1 else None,
            quantity=total,
            location=found_in.code,
            note=f"units found: {_units(total)} counted into {found_in.code}, not sellable "
            "until moved out",
        ),
        changes=delta.changes(),
    )
