"""The station: the one service the screens (and the command line) call to act on stock.

Each call checks the signed-in operator's permission, reads what it needs and records its entry
in one ledger transaction, so a call that returns has made its change durable, and a call that
raises (a :class:`~putback_tui.domain.errors.Refused` or a ledger error) changed nothing. The
only exception is a permission refusal, which is itself recorded (docs/rules.md section 5).

Over 600 lines as one unit: it is the one facade every operator action goes through, each method
a short transaction around a rule of :mod:`putback_tui.domain.rules`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import partial
from types import TracebackType

from putback_tui import logs
from putback_tui.barcodes import LocationCode, ProductCode
from putback_tui.config import Settings
from putback_tui.domain import rules
from putback_tui.domain.entries import (
    CENTRAL_TERMINAL,
    SYSTEM_OPERATOR,
    Entry,
    EntryDraft,
    EntryKind,
)
from putback_tui.domain.errors import (
    NothingToResolve,
    NothingToUndo,
    NotSignedIn,
    PermissionDenied,
    Refused,
    UnknownLocation,
    UnknownOperator,
    UnknownOrder,
    UnknownProduct,
)
from putback_tui.domain.models import (
    Location,
    LocationKind,
    Operator,
    Order,
    OrderLine,
    OrderStatus,
    Permission,
    Product,
    RejectReason,
)
from putback_tui.domain.permissions import check_permission
from putback_tui.domain.reasons import SiteReasons
from putback_tui.domain.wording import lines as _lines
from putback_tui.domain.wording import units as _units
from putback_tui.ledger import Ledger, Reconciled, Transaction

# Every station call may raise it: the screens catch it from here, never importing the ledger.
from putback_tui.ledger import LedgerError as LedgerError
from putback_tui.ledger.sync import PULL_CURSOR, RefusedEntry, refused_entries
from putback_tui.reports import ExceptionReport, build_report
from putback_tui.worklist import (
    PAUSE_EVERY_STEPS,
    Pause,
    Worklist,
    build_worklist,
    progress_handler,
)

log = logging.getLogger("putback.station")


class Outcome(StrEnum):
    """What opening an order found."""

    PUT_BACK = "put_back"
    """An exception order with picked units to put back (anything unpicked was released)."""
    RELEASED = "released"
    """An exception order with nothing picked: released at once, and so done."""
    RECONCILED = "reconciled"
    """Already reconciled earlier: shown, nothing changed."""
    LIVE = "live"
    """A live order: shown with the actions that apply."""


@dataclass(frozen=True)
class OrderView:
    """An order as a screen shows it, with what opening it did."""

    order: Order
    outcome: Outcome
    message: str
    """One sentence for the result line."""
    released: Entry | None = None
    reconciled: Reconciled | None = None
    products: dict[str, Product] = field(default_factory=dict)
    """The products on the order, by SKU (descriptions, lot tracking, home)."""
    suggestions: dict[int, str | None] = field(default_factory=dict)
    """Suggested put-back location per line number."""


@dataclass(frozen=True)
class RefusedItem:
    """An entry the central store refused, and the supervisor's resolution if there is one."""

    refused: RefusedEntry
    resolution: Entry | None = None


@dataclass(frozen=True)
class ExceptionStock:
    """Units sitting in an exception location: counted in QOH, not in ATP."""

    location: str
    sku: str
    description: str
    qoh: int
    since: datetime | None
    """When units last arrived in the (then empty) location."""


def who_did(operator: str, terminal: str) -> str:
    """Who made an entry, in words: an operator at a terminal, or an automatic release."""
    if operator == SYSTEM_OPERATOR:
        if terminal == CENTRAL_TERMINAL:
            return "the central store (automatic release)"
        return f"{terminal} (automatic release)"
    return f"{operator} at {terminal}"


class Station:
    """The actions of one terminal, for whoever is signed in."""

    def __init__(self, ledger: Ledger, settings: Settings) -> None:
        self.ledger = ledger
        self.settings = settings
        self.terminal = settings.terminal.id
        self.facility = settings.terminal.facility
        self._local_roles = settings.permissions()
        self._local_reasons = settings.site_reasons()
        self._roles_seen: Mapping[str, frozenset[Permission]] = self._local_roles
        """The role map as last read (sign-in, a pull, a checked action): what ``may`` uses."""
        self._operator: Operator | None = None
        self._lock = threading.Lock()

    # -- operators ---------------------------------------------------------------------------

    @property
    def operator(self) -> Operator | None:
        """The signed-in operator, if any."""
        return self._operator

    def sign_in(self, badge: str) -> Operator:
        """Sign in with a badge.

        Raises:
            UnknownOperator: no operator has that badge.
        """
        with self.ledger.read() as tx:
            operator = tx.operator(badge)
        # The central store refuses the entries of an inactive operator or of one from another
        # facility: such a badge is as unknown here.
        if operator is None or not operator.works_at(self.facility):
            raise UnknownOperator(f"Badge {badge} is not known here. Ask a supervisor.")
        self.refresh_roles()
        self._operator = operator
        return operator

    def sign_out(self) -> None:
        """Sign the operator out."""
        self._operator = None

    def require(self, permission: Permission, action: str, order_id: str | None = None) -> None:
        """Check the signed-in operator may take ``action`` before asking anything of them.

        A screen calls this before a dialog, so an operator without the permission is refused
        (and the refusal recorded) at once rather than after answering questions.

        Raises:
            NotSignedIn, PermissionDenied (recorded in the ledger).
        """
        self._require(permission, action, order_id)

    def _in_force(
        self, central: Mapping[str, frozenset[Permission]] | None
    ) -> Mapping[str, frozenset[Permission]]:
        """The role map in force: the central store's, once received; else the configuration's.

        The central store judges every entry by its own map, so a terminal that has received
        it judges alike; a terminal with no central store keeps its local configuration.
        ``central`` is read from the ledger by each action's check (kept by the ledger between
        actions while the file is unchanged): :meth:`may` uses the last one read.
        """
        self._roles_seen = roles = self._local_roles if central is None else central
        return roles

    def refresh_roles(self) -> None:
        """Read the role map in force again, for :meth:`may` (at sign-in, and after a pull).

        Reads the ledger: call it off the UI thread (the App does, after each pull).
        """
        self._in_force(self.ledger.central_roles())

    @property
    def site_reasons(self) -> SiteReasons:
        """The reason lists in force: the central store's, once received; else the configuration's.

        Offline, the terminal keeps offering the last lists it received.
        """
        central = self.ledger.central_reasons()
        return self._local_reasons if central is None else central

    def may(self, permission: Permission) -> bool:
        """True when the signed-in operator's role grants ``permission`` (nothing recorded).

        For the screens, which dim what an operator may not do: it reads nothing from the
        ledger (the UI thread never waits on it), only the role map read at sign-in and
        refreshed after each pull (:meth:`refresh_roles`). An action itself is checked against
        the ledger's map of the moment.
        """
        operator = self._operator
        return operator is not None and permission in self._roles_seen.get(operator.role, ())

    def _signed_in(self) -> Operator:
        """The signed-in operator.

        Raises:
            NotSignedIn: nobody is.
        """
        operator = self._operator
        if operator is None:
            raise NotSignedIn("Scan your badge to sign in first.")
        return operator

    def _record_refusal(
        self, tx: Transaction, refused: PermissionDenied, action: str, order_id: str | None
    ) -> None:
        """Record in ``tx`` that ``action`` was refused; log it once ``tx`` has committed."""
        tx.after_commit(partial(log.warning, "refused %s: %s", action, refused.message))
        self._append(tx, rules.refusal(action, refused.permission, refused.message, order_id))

    def _require(
        self, permission: Permission | None, action: str, order_id: str | None
    ) -> Operator:
        operator = self._signed_in()
        if permission is not None:
            try:
                check_permission(operator, permission, self._in_force(self.ledger.central_roles()))
            except PermissionDenied as refused:
                with self.ledger.write() as tx:
                    self._record_refusal(tx, refused, action, order_id)
                raise
        return operator

    def _action(self, permission: Permission, action: str, order_id: str | None) -> _Action:
        """The write transaction of an action, with its permission checked inside it.

        One transaction where :meth:`_require` and the action took two (three with the role
        map's read): the check reads the role map of the moment, in the same snapshot as the
        action. A refusal is recorded and committed, and then raised.

        Raises:
            NotSignedIn, PermissionDenied (recorded); LedgerError.
        """
        return _Action(self, permission, action, order_id)

    def _append(self, tx: Transaction, draft: EntryDraft) -> Entry:
        operator = self._operator
        assert operator is not None
        entry = tx.append(
            draft, terminal=self.terminal, facility=self.facility, operator=operator.badge
        )
        if log.isEnabledFor(logging.INFO):  # the extra fields only when they are written
            # Once the action has committed (never for one rolled back), out of its
            # transaction: the ledger row is the durable record, the log line is not.
            # Its record is made and written by the log's own thread (logs.later).
            tx.after_commit(
                partial(
                    logs.later,
                    log,
                    logging.INFO,
                    "entry %s",
                    str(entry.kind),  # its value (a StrEnum), as a plain str
                    extra={
                        "seq": entry.seq,
                        "entry_id": entry.entry_id,
                        "order_id": entry.order_id,
                        "operator": entry.operator,
                    },
                )
            )
        return entry

    # -- lookups -----------------------------------------------------------------------------

    def product_by_gtin(self, gtin14: str) -> Product:
        """The product a GTIN-14 belongs to.

        Raises:
            UnknownProduct: no product has that barcode.
        """
        with self.ledger.read() as tx:
            product = tx.product_by_barcode(gtin14)
        if product is None:
            raise UnknownProduct(f"No product has barcode {gtin14.lstrip('0') or gtin14} here.")
        return product

    def typed_code(self, text: str) -> LocationCode | ProductCode | None:
        """What a code typed as shown on screen names, when it is no barcode of its own.

        Labels and screens show a location as ``A-01-01`` and a product by its SKU, while the
        barcodes carry ``LOC:A-01-01`` and a GTIN. Typed by an operator (a damaged label, a
        keyboard), the shown form means the same: a location known here (of any facility, so
        that a foreign one is refused as such) or a product's SKU with a barcode. Upper case is
        tried too. Nothing else is guessed: an unknown text stays unknown.

        Args:
            text: The typed text, as the scan arrived.

        Returns:
            The location or product it names, or None.
        """
        body = text.strip()
        candidates = dict.fromkeys((body, body.upper()))
        with self.ledger.read() as tx:
            for code in candidates:
                location = tx.location(code)
                if location is not None:
                    return LocationCode(raw=text, code=location.code)
            for code in candidates:
                product = tx.product(code)
                if product is not None and product.gtins:
                    return ProductCode(raw=text, gtin14=product.gtins[0], source="gtin")
        return None

    def location(self, code: str) -> Location:
        """The location with this code.

        Raises:
            UnknownLocation: no such location in the local store.
        """
        with self.ledger.read() as tx:
            location = tx.location(code)
        if location is None:
            raise UnknownLocation(f"Location {code} is not known here. Scan another location.")
        return location

    # -- checks a screen makes before it asks for more (nothing is read or written) ----------

    def check_cancel(self, order: Order) -> None:
        """Refuse a plain cancel now, before the operator is asked to confirm it.

        Raises:
            OrderShipped, OrderNotLive, CancelNotAllowed (see :func:`rules.check_cancel`).
        """
        rules.check_cancel(order)

    def line_edit_effect(self, line: OrderLine, new_quantity: int) -> tuple[int, int]:
        """How taking ``line`` down to ``new_quantity`` splits (see :func:`rules.line_edit_effect`).

        Returns:
            (units released to available stock, picked units to put back).
        """
        return rules.line_edit_effect(line, line.ordered - new_quantity)

    def check_line_edit(self, order: Order, line_no: int, action: str) -> None:
        """Refuse a line edit now, before the operator is asked for its reason and quantity.

        Raises:
            OrderShipped, OrderNotLive, UnknownLine, LineEditNotAllowed (see
            :func:`rules.check_line_edit`).
        """
        rules.check_line_edit(order, line_no, action)

    def check_location(self, location: Location, *, allowed: Iterable[LocationKind]) -> None:
        """Refuse a scanned location of another facility or of a kind not ``allowed`` here.

        Raises:
            WrongFacility, WrongLocationKind (see :func:`rules.check_location`).
        """
        rules.check_location(location, self.facility, allowed=allowed)

    def line_for_product(self, order: Order, sku: str) -> OrderLine:
        """The line of ``order`` a scan of the product ``sku`` selects for put-back.

        Raises:
            ProductNotOnOrder, OrderReconciled (see :func:`rules.line_for_product`).
        """
        return rules.line_for_product(order, sku)

    def _order(self, tx: Transaction, order_id: str) -> Order:
        order = tx.order(order_id)
        if order is None:
            raise UnknownOrder(
                f"Order {order_id} is not known here. Check the ID, or wait for the next sync."
            )
        rules.check_can_open(order, self.facility)
        return order

    def _view(
        self,
        tx: Transaction,
        order: Order,
        outcome: Outcome,
        message: str,
        released: Entry | None = None,
    ) -> OrderView:
        products = {sku: p for sku in {line.sku for line in order.lines} if (p := tx.product(sku))}
        exception_area = tx.exception_locations(self.facility)
        return OrderView(
            order=order,
            outcome=outcome,
            message=message,
            released=released,
            reconciled=tx.reconciled(order.order_id),
            products=products,
            suggestions={
                line.line_no: rules.suggest_location(line, products.get(line.sku), exception_area)
                for line in order.lines
            },
        )

    # -- the core flow -----------------------------------------------------------------------

    def open_order(self, order_id: str) -> OrderView:
        """Open an order: an exception order's unpicked units are released at once.

        Raises:
            NotSignedIn, UnknownOrder, OrderShipped, WrongFacility; LedgerError.
        """
        self._require(None, "open order", order_id)
        with self._lock, self.ledger.write() as tx:
            order = self._order(tx, order_id)
            if order.status.is_live and order.units_owed:
                return self._view(
                    tx,
                    order,
                    Outcome.PUT_BACK,
                    f"Order {order_id} is live: {_units(order.units_owed)} taken off by a line "
                    "edit to put back.",
                )
            if order.status.is_live:
                return self._view(
                    tx,
                    order,
                    Outcome.LIVE,
                    f"Order {order_id} is live ({order.status.value.replace('_', ' ')}): "
                    "nothing changes by itself.",
                )
            done = tx.reconciled(order_id)
            if done is not None:
                when = done.at.astimezone().strftime("%Y-%m-%d %H:%M")
                if not order.picked_units:
                    # A rejected order's unpicked units were rejected (re-routed), not released.
                    what = (
                        "was rejected"
                        if order.status is OrderStatus.REJECTED
                        else "was already released"
                    )
                    message = (
                        f"Order {order_id} {what}, {when}, by "
                        f"{who_did(done.operator, done.terminal)}: nothing was picked, "
                        "nothing to do."
                    )
                else:
                    message = (
                        f"Order {order_id} was reconciled by "
                        f"{who_did(done.operator, done.terminal)}, {when}. Nothing to do."
                    )
                return self._view(tx, order, Outcome.RECONCILED, message)
            draft = rules.release(order, tx)
            released = self._append(tx, draft) if draft else None
            order = self._order(tx, order_id)
            if released is not None:
                lines = len(released.line_changes)
                units = sum(c.released for c in released.line_changes)
                returned = f"{_lines(lines)}, {_units(units)} returned to available stock"
            else:
                returned = ""
            if order.reconciled:
                return self._view(
                    tx,
                    order,
                    Outcome.RELEASED,
                    f"Order {order_id} done: {returned or 'nothing to return'}.",
                    released,
                )
            waiting = sum(line.to_put_back for line in order.lines)
            message = f"Order {order_id}: {_units(waiting)} to put back."
            if returned:
                message = f"Order {order_id}: {returned}; {_units(waiting)} to put back."
            return self._view(tx, order, Outcome.PUT_BACK, message, released)

    def view(self, order_id: str) -> OrderView:
        """The order as it stands, without changing anything (for refreshing a screen).

        Raises:
            UnknownOrder, OrderShipped, WrongFacility.
        """
        with self.ledger.read() as tx:
            order = self._order(tx, order_id)
            outcome = (
                Outcome.LIVE
                if order.status.is_live
                else Outcome.RECONCILED
                if order.reconciled
                else Outcome.PUT_BACK
            )
            return self._view(tx, order, outcome, "")

    def put_back(
        self,
        order_id: str,
        line_no: int,
        sku: str,
        location_code: str,
        quantity: int = 1,
        *,
        lot: str | None = None,
    ) -> Entry:
        """Put picked units of a line back into a location; durable on return.

        Raises:
            NotSignedIn, PermissionDenied, UnknownOrder, UnknownLocation, UnknownProduct and
            every refusal of :func:`putback_tui.domain.rules.put_back`; LedgerError.
        """
        with self._action(Permission.PUT_BACK, "put back", order_id) as tx:
            order = self._order(tx, order_id)
            location = tx.location(location_code)
            if location is None:
                raise UnknownLocation(
                    f"Location {location_code} is not known here. Scan another location."
                )
            product = tx.product(sku)
            if product is None:
                raise UnknownProduct(f"Product {sku} is not known here.")
            draft = rules.put_back(order, line_no, product, location, quantity, tx, lot=lot)
            return self._append(tx, draft)

    def undo_last_put_back(self, order_id: str) -> Entry:
        """Undo the newest put-back of the order with a compensating entry.

        Raises:
            NotSignedIn, PermissionDenied, NothingToUndo; LedgerError.
        """
        with self._action(Permission.PUT_BACK, "undo put-back", order_id) as tx:
            entry = tx.last_undoable(order_id, (EntryKind.PUT_BACK,))
            if entry is None:
                raise NothingToUndo(f"No put-back of order {order_id} is left to undo.")
            return self._append(tx, rules.undo(entry, already_undone=False, stock=tx))

    # -- supervisor and exception-area actions -------------------------------------------------

    def reject(
        self, order_id: str, line_no: int, reason: RejectReason | str, quantity: int
    ) -> Entry:
        """Reject unpicked units of a live order's line; the line is marked for re-routing.

        ``reason`` is a reason code of the site's reject list; the stock effect it names
        decides the arithmetic.

        Raises:
            NotSignedIn, PermissionDenied, UnknownOrder, UnknownReason (not offered here),
            Refused (order not live, over quantity); LedgerError.
        """
        self._require(Permission.REJECT_ITEM, "reject item", order_id)
        effect = self.site_reasons.reject_effect(str(reason))
        with self._lock, self.ledger.write() as tx:
            order = self._order(tx, order_id)
            product = tx.product(order.line(line_no).sku)
            draft = rules.reject(
                order,
                line_no,
                reason,
                quantity,
                tx,
                home_location=product.home_location if product else None,
                effect=effect,
            )
            return self._append(tx, draft)

    def other_open_lines(self, sku: str, except_order: str) -> list[tuple[str, int, int]]:
        """Lines of the facility's other live orders with ``sku`` unpicked and still reserved.

        Returns:
            (order ID, line number, open unpicked units), by order ID: what a NOT IN STOCK
            reject offers to reject too.
        """
        with self.ledger.read() as tx:
            return self._other_open_lines(tx, sku, except_order)

    def _other_open_lines(
        self, tx: Transaction, sku: str, except_order: str
    ) -> list[tuple[str, int, int]]:
        found = []
        live = (OrderStatus.OPEN, OrderStatus.IN_PROGRESS)
        for order_id in sorted(tx.order_ids(self.facility, live)):
            order = tx.order(order_id)
            if order is None or order_id == except_order:
                continue
            found += [
                (order_id, line.line_no, line.unpicked_open)
                for line in order.lines
                if line.sku == sku and line.unpicked_open
            ]
        return found

    def reject_on_other_orders(
        self, sku: str, reason: RejectReason | str, except_order: str
    ) -> list[Entry]:
        """Reject ``sku``'s open unpicked units on every other live order, in one transaction.

        What a NOT IN STOCK reject offers: the product is not there for those orders either.

        Raises:
            NotSignedIn, PermissionDenied (recorded), UnknownReason; LedgerError.
        """
        self._require(Permission.REJECT_ITEM, "reject item on other orders", None)
        effect = self.site_reasons.reject_effect(str(reason))
        with self._lock, self.ledger.write() as tx:
            entries = []
            for order_id, line_no, units in self._other_open_lines(tx, sku, except_order):
                product = tx.product(sku)
                draft = rules.reject(
                    self._order(tx, order_id),
                    line_no,
                    reason,
                    units,
                    tx,
                    home_location=product.home_location if product else None,
                    effect=effect,
                )
                entries.append(self._append(tx, draft))
            return entries

    def cancel(self, order_id: str, reason_code: str | None = None) -> Entry:
        """Cancel a live order with nothing picked and no label; releases everything.

        Raises:
            NotSignedIn, PermissionDenied, UnknownOrder, CancelNotAllowed, OrderNotLive,
            UnknownReason (a mandatory reason missing, or one not listed).
        """
        self._require(Permission.CANCEL_ORDER, "cancel order", order_id)
        self.site_reasons.check_order_reason("cancel", reason_code)
        with self._lock, self.ledger.write() as tx:
            draft = rules.cancel(self._order(tx, order_id), tx, reason_code=reason_code)
            return self._append(tx, draft)

    def force_cancel(self, order_id: str, reason_code: str | None = None) -> OrderView:
        """Cancel whatever the state; the picked units then wait for put-back.

        Returns:
            The order as a put-back (or done, when nothing was picked).

        Raises:
            NotSignedIn, PermissionDenied, UnknownOrder, OrderNotLive.
        """
        self._require(Permission.FORCE_CANCEL, "force cancel", order_id)
        self.site_reasons.check_order_reason("force_cancel", reason_code)
        with self._lock, self.ledger.write() as tx:
            draft = rules.force_cancel(self._order(tx, order_id), tx, reason_code=reason_code)
            entry = self._append(tx, draft)
            order = self._order(tx, order_id)
            units = sum(c.released for c in entry.line_changes)
            waiting = sum(line.to_put_back for line in order.lines)
            outcome = Outcome.RELEASED if order.reconciled else Outcome.PUT_BACK
            return self._view(
                tx,
                order,
                outcome,
                f"Order {order_id} cancelled: {_units(units)} returned to available stock, "
                f"{_units(waiting)} to put back.",
                entry,
            )

    def cancel_line(self, order_id: str, line_no: int, reason_code: str) -> OrderView:
        """Cancel one line of a live order: unpicked released, picked owed a put-back.

        Returns:
            The order as it now stands (live), the entry in ``released``.

        Raises:
            NotSignedIn, PermissionDenied (recorded), UnknownOrder, Refused (reason not
            offered here) and the refusals of :func:`putback_tui.domain.rules.cancel_line`.
        """
        self._require(Permission.EDIT_LINES, "cancel line", order_id)
        self.site_reasons.check_line_edit(reason_code, cancel=True)
        with self._lock, self.ledger.write() as tx:
            draft = rules.cancel_line(self._order(tx, order_id), line_no, reason_code, tx)
            return self._edited(tx, self._append(tx, draft))

    def reduce_line(
        self, order_id: str, line_no: int, new_quantity: int, reason_code: str
    ) -> OrderView:
        """Lower a live line's quantity: unpicked released first, then picked owed a put-back.

        Returns:
            The order as it now stands (live), the entry in ``released``.

        Raises:
            NotSignedIn, PermissionDenied (recorded), UnknownOrder, Refused (reason not
            offered here) and the refusals of :func:`putback_tui.domain.rules.reduce_line`.
        """
        self._require(Permission.EDIT_LINES, "reduce line", order_id)
        self.site_reasons.check_line_edit(reason_code, cancel=False)
        with self._lock, self.ledger.write() as tx:
            order = self._order(tx, order_id)
            draft = rules.reduce_line(order, line_no, new_quantity, reason_code, tx)
            return self._edited(tx, self._append(tx, draft))

    def _edited(self, tx: Transaction, entry: Entry) -> OrderView:
        """The order after a line edit, with a sentence saying what it did to stock."""
        assert entry.order_id is not None
        order = self._order(tx, entry.order_id)
        details = entry.details
        released = sum(c.released for c in entry.line_changes)
        withdrawn = sum(c.withdrawn for c in entry.line_changes)
        what = (
            f"line {details.line_no} ({details.sku}) cancelled"
            if entry.kind is EntryKind.CANCEL_LINE
            else f"line {details.line_no} ({details.sku}) reduced from {details.from_quantity} "
            f"to {details.quantity}"
        )
        message = (
            f"Order {order.order_id}: {what} ({details.reason_code}); "
            f"{_units(released)} returned to available stock"
        )
        message += f", {_units(withdrawn)} to put back." if withdrawn else "."
        return self._view(tx, order, Outcome.LIVE, message, entry)

    def bulk_reject_preview(self, status: OrderStatus) -> tuple[int, int]:
        """How many orders and open unpicked units a bulk reject of ``status`` would touch."""
        with self.ledger.read() as tx:
            ids = tx.order_ids(self.facility, (status,))
            units = 0
            for order_id in ids:
                order = tx.order(order_id)
                if order is not None:
                    units += sum(line.unpicked_open for line in order.lines)
            return len(ids), units

    def bulk_reject(self, status: OrderStatus, reason_code: str | None = None) -> list[Entry]:
        """Reject every live order of the facility with ``status``, in one transaction.

        Raises:
            NotSignedIn, PermissionDenied, Refused (status is not a live status); LedgerError.
        """
        self._require(Permission.BULK_REJECT, "bulk reject", None)
        if not status.is_live:
            raise Refused(f"Bulk reject applies to open or in-progress orders, not {status.value}.")
        self.site_reasons.check_order_reason("bulk_reject", reason_code)
        with self._lock, self.ledger.write() as tx:
            return [
                self._append(
                    tx, rules.bulk_reject(self._order(tx, order_id), tx, reason_code=reason_code)
                )
                for order_id in tx.order_ids(self.facility, (status,))
            ]

    def move_out(self, sku: str, from_code: str, to_code: str, quantity: int = 1) -> Entry:
        """Move units out of an exception location into storage.

        Raises:
            NotSignedIn, PermissionDenied, UnknownLocation, UnknownProduct, and the refusals
            of :func:`putback_tui.domain.rules.move_out`; LedgerError.
        """
        self._require(Permission.MOVE_OUT, "move out of exception area", None)
        with self._lock, self.ledger.write() as tx:
            source, target = tx.location(from_code), tx.location(to_code)
            for code, loc in ((from_code, source), (to_code, target)):
                if loc is None:
                    raise UnknownLocation(f"Location {code} is not known here.")
            product = tx.product(sku)
            if product is None:
                raise UnknownProduct(f"Product {sku} is not known here.")
            assert source is not None
            assert target is not None
            draft = rules.move_out(product, source, target, quantity, self.facility, tx)
            return self._append(tx, draft)

    def exception_locations(self) -> list[str]:
        """Codes of this facility's exception locations, sorted."""
        with self.ledger.read() as tx:
            return tx.exception_locations(self.facility)

    def exception_stock(self) -> list[ExceptionStock]:
        """What sits in this facility's exception locations, oldest arrival first."""
        with self.ledger.read() as tx:
            out = []
            for location, sku, qoh, since in tx.exception_stock(self.facility):
                product = tx.product(sku)
                out.append(
                    ExceptionStock(
                        location=location,
                        sku=sku,
                        description=product.description if product else "",
                        qoh=qoh,
                        since=since,
                    )
                )
            return out

    # -- refused sync entries ----------------------------------------------------------------

    def refused_entries(self) -> list[RefusedItem]:
        """Entries the central store refused, oldest first, each with its resolution if any.

        Raises:
            NotSignedIn, PermissionDenied (recorded): resolving refusals is a supervisor's job.
        """
        self._require(Permission.RESOLVE_REFUSED, "view refused entries", None)
        with self.ledger.read() as tx:
            return [
                RefusedItem(refused=r, resolution=tx.resolution_of(r.entry.entry_id))
                for r in refused_entries(tx)
            ]

    def resolve_refused(self, entry_id: str, *, found_in: str | None = None) -> Entry:
        """Resolve an entry the central store refused with a new ``resolve`` entry.

        Nothing is deleted or edited: the refused entry stays in the ledger, with the central
        store's answer, and the resolve entry references it (``details.resolves``). When the
        central store's figures arrived, the refused entry's stock changes dropped out of the
        local projections (see :mod:`putback_tui.ledger.sync`): the central store's figures are
        the truth, so there is nothing to reverse. The supervisor says what is physically so:

        * ``found_in`` None, *acknowledge*: nothing to count (a double put-back, a unit that
          went elsewhere). The entry changes no stock; it records who looked, and when.
        * ``found_in`` an exception location, *units found*: the units the refused entry put
          somewhere do exist; the supervisor brings them to the exception area and they are
          counted there (QOH + n, ATP unchanged), to be moved out with a scan like any other.
          Counting them where the refused entry said would repeat the claim the central store
          refused; the exception area makes a person look at them again before they are sold.

        Each refused entry can be resolved once.

        Raises:
            NotSignedIn, PermissionDenied, NothingToResolve (unknown, not refused, resolved
            already, or no units to find), UnknownLocation, WrongLocationKind; LedgerError.
        """
        self._require(Permission.RESOLVE_REFUSED, "resolve refused entry", None)
        with self._lock, self.ledger.write() as tx:
            refused = next((r for r in refused_entries(tx) if r.entry.entry_id == entry_id), None)
            if refused is None:
                raise NothingToResolve(f"Entry {entry_id} was not refused by the central store.")
            location = None
            if found_in is not None:
                location = tx.location(found_in)
                if location is None:
                    raise UnknownLocation(f"Location {found_in} is not known here.")
            draft = rules.resolve_refused(
                refused.entry,
                already_resolved=tx.resolution_of(entry_id) is not None,
                found_in=location,
                facility=self.facility,
                stock=tx,
            )
            return self._append(tx, draft)

    # -- the worklist --------------------------------------------------------------------------

    def worklist(
        self, *, now: datetime, limit: int | None = None, pause: Pause | None = None
    ) -> Worklist:
        """The facility's orders waiting for a put-back, most urgent first.

        Reads the local ledger only (works offline); needs no permission and records nothing.
        Reads on a connection of the calling thread's own (:meth:`Ledger.snapshot`), so a
        long list read in the background never holds up an action.

        Args:
            now: The moment ages and SLA clocks are measured at.
            limit: Most rows to return (None: all).
            pause: Called before each order is read (a background reader waits in it while
                the screen has a scan to show).
        """
        with self.ledger.snapshot() as tx:
            if pause is not None:
                # Inside a long query too: its own connection, so only this read waits.
                tx.conn.set_progress_handler(progress_handler(pause), PAUSE_EVERY_STEPS)
            return build_worklist(
                tx,
                self.facility,
                sla=self.settings.sla,
                priority=self.settings.priority,
                now=now,
                limit=limit,
                pause=pause,
            )

    def worklist_version(self) -> tuple[str | None, int]:
        """What the worklist depends on besides the clock: the pull cursor and the last entry.

        Cheap (two indexed reads, on a connection of the caller's own): the background reader
        asks it before reading the list again.
        """
        with self.ledger.snapshot() as tx:
            return tx.get_meta(PULL_CURSOR), tx.last_seq()

    # -- patterns ----------------------------------------------------------------------------

    def report(self, *, now: datetime, since: date | None = None) -> ExceptionReport:
        """The exception-patterns report (docs/rules.md section 8) for this facility.

        Raises:
            NotSignedIn, PermissionDenied (recorded).
        """
        self._require(Permission.VIEW_REPORTS, "view reports", None)
        with self.ledger.read() as tx:
            return build_report(tx, self.facility, now=now, since=since, sla=self.settings.sla)


class _Action:
    """What :meth:`Station._action` hands out, as a plain class: lock, transaction, check.

    The station's lock, the ledger's write transaction and the permission's check in it. Every
    put-back goes through it: a class's ``__enter__`` and ``__exit__`` cost a fraction of a
    generator's (``contextlib.contextmanager``). A refusal is recorded and committed, the lock
    released, and then raised from ``__enter__``: the action's body never runs.
    """

    __slots__ = ("_action", "_order_id", "_permission", "_station", "_write")

    def __init__(
        self, station: Station, permission: Permission, action: str, order_id: str | None
    ) -> None:
        self._station = station
        self._permission = permission
        self._action = action
        self._order_id = order_id
        self._write: AbstractContextManager[Transaction] | None = None

    def __enter__(self) -> Transaction:
        station = self._station
        operator = station._signed_in()
        station._lock.acquire()
        try:
            write = station.ledger.write()
            tx = write.__enter__()
        except BaseException:
            station._lock.release()
            raise
        # From here on __exit__ ends the transaction and releases the lock, whatever happens.
        self._write = write
        try:
            check_permission(operator, self._permission, station._in_force(tx.central_roles()))
            return tx
        except PermissionDenied as refused:
            try:
                station._record_refusal(tx, refused, self._action, self._order_id)
            except BaseException as failed:
                self.__exit__(type(failed), failed, failed.__traceback__)
                raise
            self.__exit__(None, None, None)  # the refusal's record commits
            raise
        except BaseException as failed:
            self.__exit__(type(failed), failed, failed.__traceback__)
            raise

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        write = self._write
        assert write is not None
        try:
            write.__exit__(kind, exc, tb)
        finally:
            self._station._lock.release()
