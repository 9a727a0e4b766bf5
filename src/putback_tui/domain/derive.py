"""What an entry does, worked out from its meaning: the central store's judgement of an entry.

A terminal records an entry with the stock and line changes its rules worked out against its
own state. The central store believes none of those numbers: :func:`derive` reads what the
entry *means* (kind, order, line, product, quantity, location, reason, lot, the entry it undoes
or resolves, the operator) and calls the same rule of :mod:`putback_tui.domain.rules` that the
terminal's station called, against the central store's own state. The draft it returns is what
is applied; a :class:`~putback_tui.domain.errors.Refused` says why the action is not allowed.

Everything here is pure: the state is read through :class:`DerivationState`, which the central
store implements over what it loaded for a batch (and a test can implement over dicts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Set
from dataclasses import dataclass
from typing import Protocol

from putback_tui.domain import rules
from putback_tui.domain.entries import (
    SYSTEM_OPERATOR,
    Entry,
    EntryDetails,
    EntryDraft,
    EntryKind,
)
from putback_tui.domain.errors import (
    NothingToResolve,
    NothingToUndo,
    OverQuantity,
    ProductNotOnOrder,
    Refused,
    UnknownLocation,
    UnknownOperator,
    UnknownOrder,
    UnknownProduct,
)
from putback_tui.domain.models import Location, Operator, Order, Permission, Product, StockChange
from putback_tui.domain.permissions import check_permission
from putback_tui.domain.reasons import SiteReasons

PERMISSION_FOR_KIND: Mapping[EntryKind, Permission | None] = {
    EntryKind.RELEASE: None,
    EntryKind.PUT_BACK: Permission.PUT_BACK,
    EntryKind.REJECT: Permission.REJECT_ITEM,
    EntryKind.BULK_REJECT: Permission.BULK_REJECT,
    EntryKind.CANCEL: Permission.CANCEL_ORDER,
    EntryKind.FORCE_CANCEL: Permission.FORCE_CANCEL,
    EntryKind.MOVE_OUT: Permission.MOVE_OUT,
    EntryKind.UNDO: None,
    EntryKind.REFUSAL: None,
    EntryKind.RESOLVE: Permission.RESOLVE_REFUSED,
    EntryKind.CANCEL_LINE: Permission.EDIT_LINES,
    EntryKind.REDUCE_LINE: Permission.EDIT_LINES,
}
"""The permission each kind of entry needs. A release is automatic (opening an exception order
makes it), an undo needs the permission of what it undoes, and a refusal records an action that
was *not* taken: anyone known may have one recorded."""


@dataclass(frozen=True)
class Limits:
    """Bounds the central store holds every entry to, beyond the rules themselves."""

    max_stock: int = 10_000_000
    """No QOH or ATP figure may go above this: an entry that would cross it is refused."""


DEFAULT_LIMITS = Limits()


class DerivationState(Protocol):
    """What :func:`derive` reads: the deriving side's state, scoped to one facility.

    Every lookup answers None for what is not known *at this facility*: an order, location or
    operator of another facility is as unknown as a made-up one, so a refusal never tells a
    terminal what exists elsewhere.
    """

    facility: str
    stock: rules.StockView

    def order(self, order_id: str) -> Order | None:
        """The order as this side knows it now (after the entries applied before this one)."""
        ...

    def product(self, sku: str) -> Product | None:
        """The product."""
        ...

    def location(self, code: str) -> Location | None:
        """The location, if it is one of this facility's."""
        ...

    def operator(self, badge: str) -> Operator | None:
        """The operator, if known, active and allowed at this facility."""
        ...

    def roles(self) -> Mapping[str, Set[Permission]]:
        """The role -> permissions map in force."""
        ...

    def reasons(self) -> SiteReasons:
        """The site's reason lists in force (a reject reason's effect comes from here)."""
        ...

    def applied(self, entry_id: str) -> Entry | None:
        """An applied entry with the effects that *were applied* for it, or None."""
        ...

    def undone(self, entry_id: str) -> bool:
        """True when an applied undo already compensates ``entry_id``."""
        ...

    def refused(self, entry_id: str) -> Entry | None:
        """An entry this side refused (as it was sent), or None."""
        ...

    def resolved(self, entry_id: str) -> bool:
        """True when an applied resolve already resolves the refused ``entry_id``."""
        ...


def _unknown_order(order_id: str | None) -> UnknownOrder:
    return UnknownOrder(f"Order {order_id} is not known here.")


def _order(state: DerivationState, order_id: str | None) -> Order:
    order = state.order(order_id) if order_id is not None else None
    if order is None:
        raise _unknown_order(order_id)
    return order


def _product(state: DerivationState, sku: str | None) -> Product:
    product = state.product(sku) if sku is not None else None
    if product is None:
        raise UnknownProduct(f"Product {sku} is not known here.")
    return product


def _location(state: DerivationState, code: str | None) -> Location:
    location = state.location(code) if code is not None else None
    if location is None:
        raise UnknownLocation(f"Location {code} is not known here.")
    return location


def _quantity(entry: Entry) -> int:
    quantity = entry.details.quantity
    if quantity is None:
        raise OverQuantity(f"A {entry.kind.value.replace('_', ' ')} entry must name a quantity.")
    return quantity


def _line_no(entry: Entry) -> int:
    """The one line an entry about a line names (its first line change, of its own order)."""
    changes = entry.line_changes
    if len(changes) != 1 or changes[0].order_id != entry.order_id:
        raise ProductNotOnOrder(
            f"A {entry.kind.value.replace('_', ' ')} entry names exactly one line of its order."
        )
    return changes[0].line_no


def check_operator(entry: Entry, state: DerivationState, kind: EntryKind | None = None) -> None:
    """Refuse an entry made by an unknown operator, or one whose role lacks the permission.

    ``kind``: whose permission counts (an undo is judged as the kind it undoes).

    Raises:
        UnknownOperator, PermissionDenied.
    """
    if entry.kind is EntryKind.RELEASE and entry.operator == SYSTEM_OPERATOR:
        return  # a release made the moment an exception became known: nobody's action
    operator = state.operator(entry.operator)
    if operator is None:
        raise UnknownOperator(f"Operator {entry.operator} is not known at {state.facility}.")
    permission = PERMISSION_FOR_KIND[kind or entry.kind]
    if permission is not None:
        check_permission(operator, permission, state.roles())


def derive(
    entry: Entry, state: DerivationState, limits: Limits = DEFAULT_LIMITS
) -> EntryDraft | None:
    """What ``entry`` does against ``state``, by the rules; None for a release with nothing left.

    The entry's own ``changes``, ``line_changes`` and ``details.order_status`` are never read:
    they are what the terminal worked out, and the rules work them out again here.

    Raises:
        Refused: the action is not allowed (unknown or foreign reference, no permission, a
            rule's refusal, or a figure that would cross ``limits``).
    """
    check_operator(entry, state, _judged_as(entry, state))
    draft = _derive(entry, state)
    if draft is not None:
        check_limits(draft.changes, state.stock, limits)
    return draft


def _judged_as(entry: Entry, state: DerivationState) -> EntryKind:
    if entry.kind is EntryKind.UNDO and entry.details.undoes is not None:
        target = state.applied(entry.details.undoes)
        if target is not None:
            return target.kind
    return entry.kind


def _derive(entry: Entry, state: DerivationState) -> EntryDraft | None:
    details = entry.details
    kind = entry.kind
    stock = state.stock
    if kind is EntryKind.RELEASE:
        return rules.release(_order(state, entry.order_id), stock)
    if kind is EntryKind.PUT_BACK:
        order = _order(state, entry.order_id)
        return rules.put_back(
            order,
            _line_no(entry),
            _product(state, details.sku),
            _location(state, details.location),
            _quantity(entry),
            stock,
            lot=details.lot,
        )
    if kind is EntryKind.REJECT:
        order = _order(state, entry.order_id)
        line_no = _line_no(entry)
        line = order.line(line_no)
        if details.sku is not None and details.sku != line.sku:
            raise ProductNotOnOrder(
                f"{details.sku} is not on line {line_no} of order {order.order_id} ({line.sku})."
            )
        code = details.reason_code or (details.reason.value if details.reason else None)
        if code is None:
            raise OverQuantity("A reject entry must name its reason.")
        # The effect is the site's, as the central store holds it: never the terminal's say.
        effect = state.reasons().reject_effect(code)
        product = state.product(line.sku)
        return rules.reject(
            order,
            line_no,
            code,
            _quantity(entry),
            stock,
            home_location=product.home_location if product else None,
            effect=effect,
        )
    if kind is EntryKind.BULK_REJECT:
        state.reasons().check_order_reason("bulk_reject", details.reason_code)
        return rules.bulk_reject(
            _order(state, entry.order_id), stock, reason_code=details.reason_code
        )
    if kind is EntryKind.CANCEL:
        state.reasons().check_order_reason("cancel", details.reason_code)
        return rules.cancel(_order(state, entry.order_id), stock, reason_code=details.reason_code)
    if kind is EntryKind.FORCE_CANCEL:
        state.reasons().check_order_reason("force_cancel", details.reason_code)
        return rules.force_cancel(
            _order(state, entry.order_id), stock, reason_code=details.reason_code
        )
    if kind is EntryKind.MOVE_OUT:
        return rules.move_out(
            _product(state, details.sku),
            _location(state, details.from_location),
            _location(state, details.location),
            _quantity(entry),
            state.facility,
            stock,
        )
    if kind is EntryKind.UNDO:
        target = state.applied(details.undoes) if details.undoes is not None else None
        if target is None or target.terminal != entry.terminal:
            raise NothingToUndo(
                f"Entry {details.undoes} is not an applied entry of {entry.terminal}: "
                "nothing to undo."
            )
        return rules.undo(target, already_undone=state.undone(target.entry_id), stock=stock)
    if kind is EntryKind.REFUSAL:
        if entry.order_id is not None:
            _order(state, entry.order_id)
        # A record of an action not taken: what was missing and what the operator saw, and
        # nothing else (no status, no stock).
        return EntryDraft(
            kind=kind,
            order_id=entry.order_id,
            details=EntryDetails(permission=details.permission, message=details.message),
        )
    if kind is EntryKind.RESOLVE:
        refused = state.refused(details.resolves) if details.resolves is not None else None
        if refused is None or refused.terminal != entry.terminal:
            raise NothingToResolve(
                f"Entry {details.resolves} is not a refused entry of {entry.terminal}: "
                "nothing to resolve."
            )
        found_in = _location(state, details.location) if details.location is not None else None
        return rules.resolve_refused(
            refused,
            already_resolved=state.resolved(refused.entry_id),
            found_in=found_in,
            facility=state.facility,
            stock=stock,
        )
    if kind in (EntryKind.CANCEL_LINE, EntryKind.REDUCE_LINE):
        return _derive_line_edit(entry, state)
    raise Refused(f"Entries of kind {kind.value} are not known here.")  # pragma: no cover


def _derive_line_edit(entry: Entry, state: DerivationState) -> EntryDraft:
    """A cancel-line or reduce-line entry, judged by the line named in its details."""
    details = entry.details
    order = _order(state, entry.order_id)
    if details.line_no is None:
        raise ProductNotOnOrder("A line edit entry must name its line.")
    line = order.line(details.line_no)
    if details.sku is not None and details.sku != line.sku:
        raise ProductNotOnOrder(
            f"{details.sku} is not on line {line.line_no} of order {order.order_id} ({line.sku})."
        )
    reason = details.reason_code or ""
    cancel = entry.kind is EntryKind.CANCEL_LINE
    if reason:
        state.reasons().check_line_edit(reason, cancel=cancel)
    if cancel:
        return rules.cancel_line(order, line.line_no, reason, state.stock)
    return rules.reduce_line(order, line.line_no, _quantity(entry), reason, state.stock)


def check_limits(
    changes: Iterable[StockChange], stock: rules.StockView, limits: Limits
) -> None:
    """Refuse changes that would take a stock figure above ``limits.max_stock``.

    Raises:
        OverQuantity: a figure would cross the cap.
    """
    for change in changes:
        if change.location is not None and change.qoh > 0:
            after = stock.qoh(change.sku, change.location) + change.qoh
            where = f"QOH of {change.sku} at {change.location}"
        elif change.location is None and change.atp > 0:
            after = stock.atp(change.sku) + change.atp
            where = f"ATP of {change.sku}"
        else:
            continue
        if after > limits.max_stock:
            raise OverQuantity(
                f"{where} would become {after}, above the cap of {limits.max_stock}."
            )


def apply_stock_changes(
    qoh: MutableMapping[tuple[str, str], int],
    atp: MutableMapping[str, int],
    changes: Iterable[StockChange],
) -> None:
    """Add recorded stock changes to QOH by (sku, location) and ATP by sku, stopping at zero.

    The one way a recorded change is read: a change with a location moves that location's
    QOH, one without moves the product's ATP (:class:`StockChange` refuses any other shape).
    The terminal's rebuild and the central store both call this.
    """
    for change in changes:
        if change.location is not None:
            key = (change.sku, change.location)
            qoh[key] = max(0, qoh.get(key, 0) + change.qoh)
        else:
            atp[change.sku] = max(0, atp.get(change.sku, 0) + change.atp)
