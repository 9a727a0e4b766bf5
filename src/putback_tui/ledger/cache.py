"""What actions read again and again, kept between transactions while the file says it is current.

A put-back reads the order, the location, the product and the role map; between two scans of
one operator none of them changes unless something wrote them. :class:`ReadCache` keeps them
(as the frozen models the reads return) on one connection, and drops them the moment they may
be stale:

* **Another connection committed** (the sync worker records answers after every batch; a pull;
  another process): SQLite's ``PRAGMA data_version`` changes. It is read once per transaction,
  inside it, before the first cached value is used. Then the orders' progress and local status
  may have changed: the next read of an order reads only those again, on top of its central
  facts, and keeps the order as it was when they are what it holds (see
  :attr:`ReadCache.unverified`). The reference data (products, barcodes, locations, the role
  map and reason lists, the orders' central facts) is dropped if ``reference_revision`` moved
  (and every order with it): triggers
  on those tables and keys move it (ledger migrations m006 and m007), and no action writes
  them, so a commit that only recorded sync answers leaves them kept.
* **This connection wrote anything but an entry** (a load, a pull on this connection, a test's
  raw SQL): ``total_changes`` moved past the value the cache was last known current at, and
  everything is dropped. Only :meth:`~putback_tui.ledger.transaction.Transaction.append` moves
  that value along, and it updates (or drops) the orders its entry changed, since it knows
  exactly what it wrote.
* **A transaction rolled back after writing**: what an append brought up to date never
  happened (:meth:`~putback_tui.ledger.Ledger.write` drops everything).

So a cached value is always what a read in the same transaction would return; tests/ledger
check it against reads on a connection without a cache after random action sequences.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TypeVar

from putback_tui.domain.models import Location, Order, Permission, Product
from putback_tui.domain.reasons import SiteReasons

MAX_ITEMS = 4096
"""Most values kept per kind; past it the kind starts again empty (a terminal works a few
orders at a time: the bound is only there so that a long list never grows without end)."""

_UNSET = object()

OrderFacts = tuple[
    tuple[str, bool, datetime | None, str],
    tuple[tuple[int, str, int, int, str | None, str | None], ...],
]
"""An order's central facts, as kept: (facility, has_label, status_changed_at, the central
store's status) and each line's (line_no, sku, quantity, picked, pick_location, lot), the
values of a validated :class:`Order`."""

K = TypeVar("K")
V = TypeVar("V")


def _keep(kept: dict[K, V], key: K, value: V) -> None:
    """Keep ``value`` under ``key``; a kind that reached :data:`MAX_ITEMS` starts again empty."""
    if len(kept) >= MAX_ITEMS:
        kept.clear()
    kept[key] = value


class ReadCache:
    """Reference data and orders as last read or written on one connection."""

    __slots__ = (
        "_reasons",
        "_roles",
        "clean_at",
        "locations",
        "order_facts",
        "orders",
        "products",
        "revision",
        "skus_by_barcode",
        "unreconciled",
        "unverified",
        "version",
    )

    def __init__(self) -> None:
        self.version: int | None = None
        """``PRAGMA data_version`` when the cache was last checked."""
        self.clean_at = -1
        """``total_changes`` of the connection up to which the cache is known current."""
        self.revision: int | None = None
        """``reference_revision`` the reference data kept was read at."""
        self.products: dict[str, Product | None] = {}
        self.skus_by_barcode: dict[str, str | None] = {}
        self.locations: dict[str, Location | None] = {}
        self.orders: dict[str, Order] = {}
        self.unverified: dict[str, Order] = {}
        """Orders kept before another connection committed: their central facts are still
        current (``reference_revision`` did not move), their progress and local status may not
        be. An order read again is checked against them and, when they still hold, is the kept
        model itself rather than one built anew (see :meth:`suspect_all_orders`)."""
        self.order_facts: dict[str, OrderFacts] = {}
        """The central store's facts of the orders read (what a pull writes: status, label,
        lines, picked), kept with the reference data; their progress and local status are read
        again after another connection's commit. Plain tuples of strings and numbers, which the
        garbage collector stops tracking: kept models would make its full collections come
        sooner (a 24 ms one every few hundred put-backs in bench-ledger's small process)."""
        self.unreconciled: set[str] = set()
        """Orders known to have no "reconciled by" record."""
        self._roles: object = _UNSET
        self._reasons: object = _UNSET

    def reset(self, version: int | None, changes: int, revision: int | None) -> None:
        """Forget everything: the cache is current (and empty) at these three marks."""
        self.version = version
        self.clean_at = changes
        self.revision = revision
        self.forget_all_orders()
        self.order_facts.clear()
        self.products.clear()
        self.skus_by_barcode.clear()
        self.locations.clear()
        self._roles = _UNSET
        self._reasons = _UNSET

    def invalidate(self) -> None:
        """Forget everything, and check the file again before the next use (a rollback)."""
        self.reset(None, -1, None)

    def forget_all_orders(self) -> None:
        """Drop every order kept, and what is known of their "reconciled by" records."""
        self.orders.clear()
        self.unverified.clear()
        self.unreconciled.clear()

    def suspect_all_orders(self) -> None:
        """Another connection committed: every order kept becomes unverified.

        See :attr:`unverified`. What is known of "reconciled by" records is dropped.
        """
        if self.orders:
            if len(self.unverified) + len(self.orders) > MAX_ITEMS:
                self.unverified.clear()
            self.unverified.update(self.orders)
            self.orders = {}
        self.unreconciled.clear()

    def forget_orders(self, order_ids: set[str]) -> None:
        """Drop these orders as kept (an entry changed their lines or status).

        Whether they have a "reconciled by" record stays known: only the entry's own order's
        record changes, and :meth:`~putback_tui.ledger.transaction.Transaction.append` keeps
        that up to date itself.
        """
        for order_id in order_ids:
            self.orders.pop(order_id, None)
            self.unverified.pop(order_id, None)

    def keep_order(self, order: Order) -> None:
        """Keep ``order`` as it now stands in the file."""
        _keep(self.orders, order.order_id, order)

    def keep_facts(self, order: Order, central_status: str) -> None:
        """Keep ``order``'s central facts, with the status the central store gave it."""
        head = (order.facility, order.has_label, order.status_changed_at, central_status)
        lines = tuple(
            (x.line_no, x.sku, x.quantity, x.picked, x.pick_location, x.lot) for x in order.lines
        )
        _keep(self.order_facts, order.order_id, (head, lines))

    def keep_product(self, sku: str, product: Product | None) -> None:
        """Keep the product read for ``sku`` (None: no such product)."""
        _keep(self.products, sku, product)

    def keep_barcode(self, code: str, sku: str | None) -> None:
        """Keep which SKU a barcode belongs to (None: none)."""
        _keep(self.skus_by_barcode, code, sku)

    def keep_location(self, code: str, location: Location | None) -> None:
        """Keep the location read for ``code`` (None: no such location)."""
        _keep(self.locations, code, location)

    def keep_unreconciled(self, order_id: str, unreconciled: bool = True) -> None:
        """Remember whether the order has no "reconciled by" record (False: it has one)."""
        if not unreconciled:
            self.unreconciled.discard(order_id)
            return
        if len(self.unreconciled) >= MAX_ITEMS:
            self.unreconciled.clear()
        self.unreconciled.add(order_id)

    @property
    def has_roles(self) -> bool:
        """True when the central role map (or its absence) is kept."""
        return self._roles is not _UNSET

    @property
    def roles(self) -> Mapping[str, frozenset[Permission]] | None:
        """The central store's role map as kept (see :attr:`has_roles`)."""
        assert self._roles is not _UNSET
        return self._roles  # type: ignore[return-value]

    @roles.setter
    def roles(self, value: Mapping[str, frozenset[Permission]] | None) -> None:
        self._roles = value

    @property
    def has_reasons(self) -> bool:
        """True when the central reason lists (or their absence) are kept."""
        return self._reasons is not _UNSET

    @property
    def reasons(self) -> SiteReasons | None:
        """The central store's reason lists as kept (see :attr:`has_reasons`)."""
        assert self._reasons is not _UNSET
        return self._reasons  # type: ignore[return-value]

    @reasons.setter
    def reasons(self, value: SiteReasons | None) -> None:
        self._reasons = value
