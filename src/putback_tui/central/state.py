"""Reading what a batch is judged against: the database half of ingest.

:func:`load_state` reads, in one query per table, every row a batch of entries may look at;
:func:`putback_tui.central.ingest.plan_batch` then judges the batch against that state with no
database at all, and :meth:`CentralStore.ingest` writes what it planned.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime

from putback_tui.central.engines import Row, Tx
from putback_tui.central.hot import HotBatch, HotOrder, HotState, holds_reserved
from putback_tui.central.ingest import BatchState, Stock, state_entries
from putback_tui.domain.entries import Entry, EntryKind
from putback_tui.domain.models import (
    Location,
    LocationKind,
    Operator,
    Order,
    OrderLine,
    OrderStatus,
    Permission,
    Product,
)
from putback_tui.domain.permissions import DEFAULT_ROLES
from putback_tui.domain.reasons import DEFAULT_REASONS, SiteReasons

_STATUSES = {s.value: s for s in OrderStatus}
_RELEASE = EntryKind.RELEASE


def facility_orders(tx: Tx, columns: str, facility: str, order_ids: Sequence[str]) -> list[Row]:
    """The rows (``columns`` of ``orders``) of those of ``order_ids`` that are ``facility``'s.

    See :func:`ask_facility_rows`. Asked for ``facility = ? AND order_id IN (...)``,
    PostgreSQL may read every order of the facility through an index that leads with it and
    compare each with every key of the batch (a plan it takes while the table's statistics are
    young, as right after an import: 26 ms for a batch naming 1,000 of a facility's 2,000
    orders, against 1.8 through the key; docs/performance-log.md, "Ingest, session 9").
    """
    return ask_facility_rows(tx, "orders", columns, "order_id", facility, order_ids)()


def ask_facility_rows(
    tx: Tx, table: str, columns: str, key: str, facility: str, keys: Sequence[str]
) -> Callable[[], list[Row]]:
    """Ask for ``columns`` of the rows of ``table`` keyed by ``keys`` that are ``facility``'s.

    The rows come when the answer is called (:meth:`Tx.ask_keyed`). Read by ``key`` alone,
    the table's primary key, and kept when the row is the facility's. Asked with the facility
    in the query, both databases may choose the index that leads with the facility and read
    all of its rows for each batch: SQLite does so for locations, having no statistics
    (docs/performance-log.md, "Session 13: a batch's locations by their key").
    """
    asked = tx.ask_keyed(
        f"SELECT {columns}, facility FROM {table} WHERE {key} IN ({{keys}})", keys
    )
    return lambda: [r[:-1] for r in asked() if r[-1] == facility]


def load_state(tx: Tx, facility: str, entries: Sequence[Entry]) -> BatchState:
    """Everything a batch of ``facility``'s entries may read: one query per table.

    Orders, locations and stock are read for the facility alone, so an entry naming another
    facility's order finds nothing, exactly as for a made-up one.
    """
    refs = sorted({r for e in entries for r in (e.details.undoes, e.details.resolves) if r})
    applied_refs: dict[str, Entry] = {}
    refused_refs: dict[str, Entry] = {}
    undone: set[str] = set()
    resolved: set[str] = set()
    if refs:
        applied_refs, refused_refs = state_entries(
            (
                (r[0], r[1], r[2], r[3])
                for r in tx.keyed(
                    "SELECT facility, outcome, body, effects FROM entries "
                    "WHERE entry_id IN ({keys})",
                    refs,
                )
            ),
            facility,
        )
        for ref, kind in tx.keyed(
            "SELECT ref, kind FROM entries "
            "WHERE outcome = 'applied' AND ref IS NOT NULL AND ref IN ({keys})",
            refs,
        ):
            (undone if kind == EntryKind.UNDO.value else resolved).add(ref)
    order_ids = {e.order_id for e in entries if e.order_id}
    order_ids |= {e.order_id for e in applied_refs.values() if e.order_id}
    orders: dict[str, Order] = {}
    reconciled: dict[str, tuple[str, str, str] | None] = {}
    first_response: dict[str, tuple[str, str | None, str | None]] = {}
    lines: dict[str, list[OrderLine]] = {}
    order_rows = facility_orders(
        tx,
        "order_id, facility, status, has_label, status_changed_at, reconciled_at, "
        "reconciled_by, reconciled_terminal, first_action_at",
        facility,
        sorted(order_ids),
    )
    if order_rows:
        lines = order_lines(tx, [r[0] for r in order_rows])
    for r in order_rows:
        orders[r[0]] = Order(
            order_id=r[0],
            facility=r[1],
            status=_STATUSES[r[2]],
            has_label=bool(r[3]),
            status_changed_at=datetime.fromisoformat(r[4]) if r[4] else None,
            lines=tuple(lines.get(r[0], ())),
        )
        reconciled[r[0]] = (r[5], r[6], r[7]) if r[5] else None
        first_response[r[0]] = (r[2], r[4], r[8])
    skus = {e.details.sku for e in entries if e.details.sku}
    codes = {c for e in entries for c in (e.details.location, e.details.from_location) if c}
    for order in orders.values():
        for line in order.lines:
            skus.add(line.sku)
            if line.pick_location:
                codes.add(line.pick_location)
    for e in applied_refs.values():
        skus.update(c.sku for c in e.changes)
    products = {
        r[0]: Product(
            sku=r[0],
            description=r[1],
            gtins=tuple(json.loads(r[2])),
            lot_tracked=bool(r[3]),
            home_location=r[4],
        )
        for r in tx.keyed(
            "SELECT sku, description, gtins, lot_tracked, home_location FROM products "
            "WHERE sku IN ({keys})",
            sorted(skus),
        )
    }
    codes.update(p.home_location for p in products.values() if p.home_location)
    locations = {
        r[0]: Location(code=r[0], facility=r[1], kind=LocationKind(r[2]), barcode=r[3])
        for r in ask_facility_rows(
            tx, "locations", "code, facility, kind, barcode", "code", facility, sorted(codes)
        )()
    }
    operators = {
        r[0]: Operator(badge=r[0], name=r[1], role=r[2], facility=r[3], active=bool(r[4]))
        for r in tx.keyed(
            "SELECT badge, name, role, facility, active FROM operators WHERE badge IN ({keys})",
            sorted({e.operator for e in entries}),
        )
    }
    qoh, atp = _load_stock(tx, facility, skus)
    return BatchState(
        facility=facility,
        stock=Stock(qoh, atp),
        orders=orders,
        reconciled=reconciled,
        first_response=first_response,
        products=products,
        locations=locations,
        operators=operators,
        role_map=load_roles(tx),
        site_reasons=load_reasons(tx),
        applied_refs=applied_refs,
        refused_refs=refused_refs,
        undone_ids=undone,
        resolved_ids=resolved,
    )


def load_hot_state(tx: Tx, facility: str, batch: HotBatch) -> HotState:
    """What a hot batch reads (:mod:`putback_tui.central.hot`), as plain rows.

    The same rows :func:`load_state` reads for such a batch, scoped the same way (orders,
    locations and stock of ``facility`` alone), without building the domain's models. Every
    query is asked before any answer is read (:meth:`Tx.ask`): on PostgreSQL one round trip
    for all of them.
    """
    entries = batch.entries
    # Each order with its lines, in one query: an order without lines is left out, which
    # judges its entries as an unknown order's (neither has the line an entry names). Read by
    # order ID alone and kept when the order is the facility's (see facility_orders).
    asked_orders = tx.ask_keyed(
        "SELECT o.order_id, o.facility, o.status, o.reconciled_at, o.reconciled_by, "
        "o.reconciled_terminal, o.status_changed_at, o.first_action_at, l.line_no, l.sku, "
        "l.quantity, l.picked, l.lot, l.released, l.rejected, l.put_back, l.withdrawn "
        "FROM orders o JOIN order_lines l ON l.order_id = o.order_id "
        "WHERE o.order_id IN ({keys})",
        # In any order: about as many as the batch has entries.
        list({e.order_id for e in entries if e.order_id}),
    )
    # A put-back's SKU: its product, QOH and ATP (a release's are read below).
    skus = sorted({e.details.sku for e in entries if e.details.sku})
    asked_stock = _ask_stock(tx, facility, skus)
    asked_products = tx.ask_keyed(
        "SELECT sku, lot_tracked FROM products WHERE sku IN ({keys})", skus
    )
    asked_locations = ask_facility_rows(
        tx, "locations", "code, kind", "code", facility,
        sorted({e.details.location for e in entries if e.details.location}),
    )
    asked_operators = tx.ask_keyed(
        "SELECT badge, name, role, facility, active FROM operators WHERE badge IN ({keys})",
        sorted({e.operator for e in entries}),
    )
    asked_roles = _ask_roles(tx)
    orders: dict[str, HotOrder] = {}
    for r in asked_orders():
        if r[1] != facility:
            continue
        order = orders.get(r[0])
        if order is None:
            order = orders[r[0]] = HotOrder(
                r[2], {}, (r[3], r[4], r[5]) if r[3] else None, (r[6], r[7])
            )
        # [sku, quantity, picked, lot, released, rejected, put_back, withdrawn]
        order.lines[r[8]] = list(r[9:])
    qoh, atp = asked_stock()
    # A release frees units only of an order still holding some reserved (on a terminal's
    # drain, most were released by the central store already): the ATP of its claimed SKUs,
    # read now (hot.plan reads no other figure of a release, and that one only when claimed).
    freeing = {
        c.sku
        for e in entries
        if e.kind is _RELEASE and (o := orders.get(e.order_id)) is not None and holds_reserved(o)
        for c in e.changes
    }.difference(skus)
    if freeing:
        atp.update(_ask_atp(tx, facility, sorted(freeing))())
    return HotState(
        facility=facility,
        orders=orders,
        lot_tracked={r[0]: bool(r[1]) for r in asked_products()},
        location_kinds={r[0]: str(r[1]) for r in asked_locations()},
        operators={
            r[0]: Operator(badge=r[0], name=r[1], role=r[2], facility=r[3], active=bool(r[4]))
            for r in asked_operators()
        },
        roles=asked_roles(),
        qoh=qoh,
        atp=atp,
    )


def load_roles(tx: Tx) -> dict[str, frozenset[Permission]]:
    """The role -> permissions map held here; the built-in defaults while none is imported."""
    return _ask_roles(tx)()


def _ask_roles(tx: Tx) -> Callable[[], dict[str, frozenset[Permission]]]:
    """:func:`load_roles`, asked now and read when called (:meth:`Tx.ask`)."""
    asked = tx.ask("SELECT role, permissions FROM roles")

    def roles() -> dict[str, frozenset[Permission]]:
        rows = asked()
        if not rows:
            return dict(DEFAULT_ROLES)
        return {
            r[0]: frozenset(Permission(p) for p in json.loads(r[1]) if p in _PERMISSIONS)
            for r in rows
        }

    return roles


_PERMISSIONS = {p.value for p in Permission}


def load_reasons(tx: Tx) -> SiteReasons:
    """The site's reason lists held here; the built-in defaults while none is imported."""
    rows = tx.all("SELECT body FROM site_reasons WHERE name = 'reasons'")
    return SiteReasons.model_validate_json(rows[0][0]) if rows else DEFAULT_REASONS


def set_reasons(tx: Tx, reasons: SiteReasons, rev: int) -> None:
    """Replace the reason lists (whole) at revision ``rev``."""
    tx.run("DELETE FROM site_reasons")
    tx.run(
        "INSERT INTO site_reasons (name, body, rev) VALUES ('reasons', ?, ?)",
        (reasons.model_dump_json(), rev),
    )


def _load_stock(
    tx: Tx, facility: str, skus: set[str]
) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    return _ask_stock(tx, facility, sorted(skus))()


def _ask_stock(
    tx: Tx, facility: str, keys: Sequence[str]
) -> Callable[[], tuple[dict[tuple[str, str], int], dict[str, int]]]:
    """The facility's QOH and ATP of the ``keys`` SKUs, asked now, read when called."""
    asked_qoh = tx.ask_keyed(
        "SELECT sku, location, qoh FROM stock_qoh WHERE facility = ? AND sku IN ({keys})",
        keys, facility,
    )
    asked_atp = _ask_atp(tx, facility, keys)

    def stock() -> tuple[dict[tuple[str, str], int], dict[str, int]]:
        return {(r[0], r[1]): int(r[2]) for r in asked_qoh()}, asked_atp()

    return stock


def _ask_atp(tx: Tx, facility: str, keys: Sequence[str]) -> Callable[[], dict[str, int]]:
    """The facility's ATP of the ``keys`` SKUs, asked now, read when called."""
    asked = tx.ask_keyed(
        "SELECT sku, atp FROM stock_atp WHERE facility = ? AND sku IN ({keys})", keys, facility
    )
    return lambda: {r[0]: int(r[1]) for r in asked()}


def order_lines(tx: Tx, order_ids: Sequence[str]) -> dict[str, list[OrderLine]]:
    """The lines of each of ``order_ids`` with their central progress, by order ID."""
    out: dict[str, list[OrderLine]] = {}
    for r in tx.keyed(
        "SELECT order_id, line_no, sku, quantity, picked, pick_location, lot, released, "
        "rejected, put_back, withdrawn FROM order_lines WHERE order_id IN ({keys}) "
        "ORDER BY order_id, line_no",
        list(order_ids),
    ):
        out.setdefault(r[0], []).append(OrderLine.from_row(r[1:]))
    return out
