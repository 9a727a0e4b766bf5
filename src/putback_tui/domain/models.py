"""The nouns of the product: products, locations, operators, orders and their lines, stock."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator

from putback_tui.domain.bounds import Code, Delta, Figure, FreeText, LineNo, Timestamp
from putback_tui.domain.errors import UnknownLine


def now_utc() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def iso_utc(value: datetime) -> str:
    """``value`` in UTC as ISO 8601 with microseconds: how timestamps are stored and sorted."""
    if value.tzinfo is not UTC:  # now_utc()'s are UTC already: no conversion to make
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


AwareDatetime = Timestamp
"""A datetime that must carry its timezone (and lie between 2000 and 2200): naive timestamps
are refused at the boundary."""


class Frozen(BaseModel):
    """Base of every value model: immutable, and unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


_F = TypeVar("_F", bound=Frozen)
_SLOTS = BaseModel.__dict__
_set_dict = _SLOTS["__dict__"].__set__
_set_fields_set = _SLOTS["__pydantic_fields_set__"].__set__
_set_extra = _SLOTS["__pydantic_extra__"].__set__
_set_private = _SLOTS["__pydantic_private__"].__set__


def replaced(model: _F, **update: Any) -> _F:
    """``model.model_copy(update=update)``, for a hot path: the same model, a fifth of the time.

    Like ``model_copy`` it does not validate ``update`` (the caller's values must be what
    validation would give). It fills the four slots ``model_copy`` fills, straight through
    their descriptors, skipping its deep-copy machinery: a frozen, extra="forbid" model has no
    extra fields and no private attributes to copy.
    """
    new = object.__new__(type(model))
    _set_dict(new, {**model.__dict__, **update})
    _set_fields_set(new, model.__pydantic_fields_set__ | update.keys())
    _set_extra(new, None)
    _set_private(new, None)
    return new


def constructed(cls: type[_F], values: dict[str, Any]) -> _F:
    """``cls.model_construct(**values)`` for a hot path: every field given, nothing validated.

    For values that were a valid ``cls`` a moment ago (another process's rows, pickled as
    tuples): a few microseconds, where validating would take tens. ``values`` must hold every
    field, as validation would give it.
    """
    new = object.__new__(cls)
    _set_dict(new, values)
    _set_fields_set(new, set(values))
    _set_extra(new, None)
    _set_private(new, None)
    return new


class LocationKind(StrEnum):
    """What a location is for."""

    STORAGE = "storage"
    EXCEPTION = "exception"
    PACKING = "packing"


class Location(Frozen):
    """A place stock can sit in, at one facility."""

    code: Code
    """Short code printed on the label, e.g. ``A-01-01``."""
    facility: Code
    kind: LocationKind
    barcode: Code
    """What the location's label scans as, e.g. ``LOC:A-01-01``."""


class Product(Frozen):
    """A product (SKU) with every barcode it may be scanned by."""

    sku: Code
    description: FreeText
    gtins: tuple[Code, ...] = ()
    """GTINs normalised to 14 digits."""
    lot_tracked: bool = False
    """A lot-tracked product must be put back with its lot (GS1 scan or typed)."""
    home_location: Code | None = None


class Role(StrEnum):
    """Roles shipped by default; sites may map more in the configuration."""

    OPERATOR = "operator"
    SUPERVISOR = "supervisor"


class Permission(StrEnum):
    """Actions an operator may or may not take (docs/rules.md section 5)."""

    PUT_BACK = "put_back"
    REJECT_ITEM = "reject_item"
    CANCEL_ORDER = "cancel_order"
    FORCE_CANCEL = "force_cancel"
    BULK_REJECT = "bulk_reject"
    MOVE_OUT = "move_out"
    VIEW_REPORTS = "view_reports"
    RESOLVE_REFUSED = "resolve_refused"
    """Resolve an entry the central store refused (with a compensating entry)."""
    EDIT_LINES = "edit_lines"
    """Cancel a line of a live order, or reduce its quantity (order modification)."""

    @property
    def label(self) -> str:
        """The permission as an operator reads it ("force cancel")."""
        return self.value.replace("_", " ")


class Operator(Frozen):
    """A person who signs in with a badge."""

    badge: Code
    name: FreeText
    role: Code
    facility: Code | None = None
    """The facility the operator works at; None: every facility."""
    active: bool = True
    """An inactive operator (left, suspended) can no longer sign in or make entries."""

    def works_at(self, facility: str) -> bool:
        """True when the operator is active and allowed at ``facility``."""
        return self.active and self.facility in (None, facility)


class OrderStatus(StrEnum):
    """Order status as the central store (or a local action) sets it."""

    OPEN = "open"
    """Allocated: stock reserved, nothing picked yet."""
    IN_PROGRESS = "in_progress"
    """Picking or packing under way."""
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    DELETED = "deleted"
    FAILED = "failed"
    REJECTED = "rejected"
    """Bulk-rejected at this facility: its lines are marked for re-routing."""

    @property
    def is_exception(self) -> bool:
        """True for the statuses whose stock must be released or put back."""
        return self in EXCEPTION_STATUSES

    @property
    def is_live(self) -> bool:
        """True while the order is being fulfilled."""
        return self in (OrderStatus.OPEN, OrderStatus.IN_PROGRESS)


EXCEPTION_STATUSES = frozenset(
    {OrderStatus.CANCELLED, OrderStatus.DELETED, OrderStatus.FAILED, OrderStatus.REJECTED}
)


class RejectReason(StrEnum):
    """Why an item is rejected; each changes stock differently (docs/rules.md section 3)."""

    NOT_IN_STOCK = "NOT IN STOCK"
    MISMATCH = "MISMATCH"
    DAMAGE = "DAMAGE"
    WORN_DISPLAY = "WORN DISPLAY"


ORDER_LINE_FIELDS = (
    "line_no", "sku", "quantity", "picked", "pick_location", "lot", "released", "rejected",
    "put_back", "withdrawn",
)
"""The columns a stored order line is read back in, in this order (ledger and central store)."""


LINE_COUNTERS = ("released", "rejected", "put_back", "withdrawn")
"""The progress counters of a line, in the order they are stored (after the central facts)."""


class OrderLine(Frozen):
    """One line of an order: the central store's facts plus this terminal's progress."""

    line_no: LineNo
    sku: Code
    quantity: Figure
    picked: Figure
    pick_location: Code | None = None
    """Where the picked units were taken from (or would be picked from)."""
    lot: Code | None = None
    released: Delta = 0
    """Unpicked units whose reservation was dropped."""
    rejected: Delta = 0
    """Unpicked units rejected from the line."""
    put_back: Delta = 0
    """Picked units put back into a location."""
    withdrawn: Delta = 0
    """Picked units a line edit took off a live line: they are owed a put-back while the order
    stays live. (The unpicked units a line edit takes off are counted in ``released``.)"""

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> OrderLine:
        """An order line from its stored columns, in ``ORDER_LINE_FIELDS`` order."""
        return cls(**dict(zip(ORDER_LINE_FIELDS, row, strict=True)))

    @property
    def unpicked(self) -> int:
        """Units ordered but not picked."""
        return max(self.quantity - self.picked, 0)

    @property
    def unpicked_open(self) -> int:
        """Unpicked units still reserved: neither released nor rejected."""
        return max(self.unpicked - self.released - self.rejected, 0)

    @property
    def to_put_back(self) -> int:
        """Picked units still waiting at the packing station for a put-back."""
        return max(self.picked - self.put_back, 0)

    @property
    def reconciled(self) -> bool:
        """True when every unit of the line is accounted for."""
        return self.unpicked_open == 0 and self.to_put_back == 0

    @property
    def ordered(self) -> int:
        """What a live line still orders: its quantity less what line edits took off.

        On a live order only line edits release units (a release, cancel or force cancel makes
        the order an exception first), so released plus withdrawn is what the edits took off.
        """
        return max(self.quantity - self.released - self.withdrawn, 0)

    @property
    def withdrawn_open(self) -> int:
        """Withdrawn units still waiting for their put-back (a live order's put-back)."""
        return max(self.withdrawn - self.put_back, 0)

    @property
    def held(self) -> int:
        """Units a line edit can still take off here: the open unpicked, then the picked.

        Never more than the line still orders: they are the same on a line whose counts add up,
        and a line the OMS sent again with units picked after they were released (released +
        picked over the quantity) has less to take off than its picked units.
        """
        return min(self.unpicked_open + max(self.picked - self.withdrawn, 0), self.ordered)


class Order(Frozen):
    """An order as this terminal knows it."""

    order_id: Code
    facility: Code
    status: OrderStatus
    lines: tuple[OrderLine, ...]
    has_label: bool = False
    """A shipping label exists: plain cancel is no longer allowed."""
    status_changed_at: AwareDatetime | None = None
    """When the order took its current status (for exceptions: when it became one)."""

    @property
    def picked_units(self) -> int:
        """Units picked over all lines."""
        return sum(line.picked for line in self.lines)

    @property
    def reconciled(self) -> bool:
        """True when every line is reconciled."""
        # A loop, not all() over a generator: asked after every put-back (Order.cleared).
        for line in self.lines:  # noqa: SIM110
            if not line.reconciled:
                return False
        return True

    @property
    def cleared(self) -> bool:
        """True for an exception order with every unit accounted for: the order is done.

        The one "reconciled order" rule: the terminal's ledger and the central store both
        record who reconciled an order when this turns true.
        """
        return self.status.is_exception and bool(self.lines) and self.reconciled

    def owed(self, line: OrderLine) -> int:
        """Picked units of ``line`` waiting for a put-back on this order.

        An exception order owes every picked unit not yet put back; a live order owes only the
        units a line edit withdrew (the rest are still to ship).
        """
        if self.status.is_exception:
            return line.to_put_back
        if self.status.is_live:
            return line.withdrawn_open
        return 0

    @property
    def units_owed(self) -> int:
        """Picked units of the order waiting for a put-back (see :meth:`owed`)."""
        return sum(self.owed(line) for line in self.lines)

    def line(self, line_no: int) -> OrderLine:
        """The line with this number.

        Raises:
            UnknownLine: no such line.
        """
        for line in self.lines:
            if line.line_no == line_no:
                return line
        raise UnknownLine(f"Order {self.order_id} has no line {line_no}.")


class StockChange(Frozen):
    """One exact change a ledger entry made to stock.

    ``location`` set: QOH of (sku, location) changed by ``qoh``; ``location`` None: ATP of the
    sku changed by ``atp``. An entry lists the changes actually made, after stopping at zero.
    """

    model_config = ConfigDict(
        # The one shape, in the published schema too: QOH at a location, or ATP.
        json_schema_extra={
            "anyOf": [
                {
                    "required": ["location"],
                    "properties": {"location": {"type": "string"}, "atp": {"const": 0}},
                },
                {"properties": {"location": {"type": "null"}, "qoh": {"const": 0}}},
            ]
        }
    )

    sku: Code
    location: Code | None = None
    qoh: Delta = 0
    atp: Delta = 0

    @model_validator(mode="after")
    def _one_figure(self) -> StockChange:
        # One shape, one reading: a change moves QOH at a location, or ATP, never both.
        if self.location is not None and self.atp:
            raise ValueError("a change with a location moves QOH only: its atp must be 0")
        if self.location is None and self.qoh:
            raise ValueError("a change without a location moves ATP only: its qoh must be 0")
        return self


class LineChange(Frozen):
    """How an entry changed the progress counters of one order line."""

    order_id: Code
    line_no: LineNo
    released: Delta = 0
    rejected: Delta = 0
    put_back: Delta = 0
    withdrawn: Delta = 0


def apply_line_changes(order: Order, changes: Iterable[LineChange]) -> Order:
    """The order as it stands after an entry's line changes: counters added, nothing else.

    Pure: returns a new ``Order`` (models are frozen) and leaves ``order`` as it was. Changes
    may be negative (an undo). The rules keep the line invariants (put back never above
    picked...); this function does not check them, so a test can see a rule that breaks them.

    Raises:
        ValueError: a change is for another order.
        KeyError: a change names a line the order does not have.
    """
    lines = list(order.lines)
    index = {line.line_no: i for i, line in enumerate(lines)}
    for change in changes:
        if change.order_id != order.order_id:
            raise ValueError(f"line change for {change.order_id} applied to {order.order_id}")
        i = index.get(change.line_no)
        if i is None:
            raise KeyError(change.line_no)
        line = lines[i]
        lines[i] = replaced(
            line,
            released=line.released + change.released,
            rejected=line.rejected + change.rejected,
            put_back=line.put_back + change.put_back,
            withdrawn=line.withdrawn + change.withdrawn,
        )
    return replaced(order, lines=tuple(lines))
