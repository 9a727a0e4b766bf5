"""Typed refusals: every rule that says no raises one of these, worded for the operator."""

from __future__ import annotations


class Refused(Exception):
    """Base of every refusal. ``str(error)`` is the sentence shown on screen."""

    code = "refused"
    """A stable, machine-readable name for the refusal (used in JSON and the sync protocol)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotSignedIn(Refused):
    """No operator is signed in at this terminal."""

    code = "not_signed_in"


class UnknownOperator(Refused):
    """A badge that matches no operator."""

    code = "unknown_operator"


class UnknownOrder(Refused):
    """No such order at this facility."""

    code = "unknown_order"


class OrderShipped(Refused):
    """The order left the building: a return, not a put-back."""

    code = "order_shipped"


class OrderNotException(Refused):
    """Release or put-back asked for an order that is still live."""

    code = "order_not_exception"


class OrderNotLive(Refused):
    """Reject, cancel or bulk reject asked for an order that is no longer being fulfilled."""

    code = "order_not_live"


class OrderReconciled(Refused):
    """Nothing of this order is left to put back."""

    code = "order_reconciled"


class UnknownLine(Refused):
    """A line number the order does not have."""

    code = "unknown_line"


class UnknownLocation(Refused):
    """A location code that is not in the local store."""

    code = "unknown_location"


class WrongFacility(Refused):
    """A location (or order) of another facility."""

    code = "wrong_facility"


class WrongLocationKind(Refused):
    """A location of the wrong kind for the action (a packing station as a shelf...)."""

    code = "wrong_location_kind"


class UnknownProduct(Refused):
    """A product code that matches no product."""

    code = "unknown_product"


class ProductNotOnOrder(Refused):
    """The product scanned is not on the order, or not on the line in hand."""

    code = "product_not_on_order"


class OverQuantity(Refused):
    """More units than the line has left."""

    code = "over_quantity"


class InvalidQuantity(Refused):
    """A quantity that is not a positive whole number."""

    code = "invalid_quantity"


class LotRequired(Refused):
    """A lot-tracked product scanned or typed without its lot."""

    code = "lot_required"


class WrongLot(Refused):
    """A lot that is not the lot picked for the line."""

    code = "wrong_lot"


class CancelNotAllowed(Refused):
    """Plain cancel once something is picked or labelled."""

    code = "cancel_not_allowed"


class LineEditNotAllowed(Refused):
    """A line edit the order or line does not allow (exception order, label, raising it)."""

    code = "line_edit_not_allowed"


class UnknownReason(Refused):
    """A reason code the site does not list for the action."""

    code = "unknown_reason"


class NotEnoughStock(Refused):
    """Moving more units out of a location than sit there."""

    code = "not_enough_stock"


class NothingToUndo(Refused):
    """No confirmed put-back left to undo, or the entry was undone already."""

    code = "nothing_to_undo"


class UndoNotExact(Refused):
    """The stock an entry changed has moved on since: its exact opposite is no longer possible."""

    code = "undo_not_exact"


class NothingToResolve(Refused):
    """A refused entry resolved already, or one that was never refused by the central store."""

    code = "nothing_to_resolve"


class PermissionDenied(Refused):
    """The signed-in operator's role lacks the permission for the action."""

    code = "permission_denied"

    def __init__(self, message: str, permission: str) -> None:
        super().__init__(message)
        self.permission = permission
