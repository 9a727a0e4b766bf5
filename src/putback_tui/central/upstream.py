"""Upstream input: reference data, stock and roles as the OMS and WMS report them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from putback_tui.central.backlog import keep_sums
from putback_tui.central.engines import Engine
from putback_tui.central.releases import release_exceptions
from putback_tui.central.state import set_reasons
from putback_tui.domain.models import Location, Operator, Order, Permission, Product, iso_utc
from putback_tui.domain.reasons import SiteReasons


def import_data(
    engine: Engine,
    *,
    products: Iterable[Product] = (),
    locations: Iterable[Location] = (),
    operators: Iterable[Operator] = (),
    orders: Iterable[Order] = (),
    stock: Iterable[tuple[str, str, str, int]] = (),
    atp: Iterable[tuple[str, str, int]] = (),
    roles: Mapping[str, Iterable[Permission]] | None = None,
    reasons: SiteReasons | None = None,
) -> dict[str, int]:
    """Insert or replace reference data and set stock, in one transaction.

    Orders keep the central progress of lines they already had; stock rows are set to the
    given figures (facility, sku, location, qoh) and (facility, sku, atp).

    Returns:
        How many of each kind were loaded.
    """
    products, locations, operators = list(products), list(locations), list(operators)
    order_list, stock, atp = list(orders), list(stock), list(atp)
    role_list = sorted(roles.items()) if roles is not None else []
    # Reference data is the network's, and an import may touch any facility: a network-wide
    # write, which the facilities' writes in flight finish before (engines.py).
    with engine.write() as tx:
        taken = iter(tx.revisions(
            len(products) + len(locations) + len(operators) + len(order_list) + len(stock)
            + len(atp) + len(role_list) + (reasons is not None)
        ))

        def revs(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
            return [(*row, next(taken)) for row in rows]

        product_rows = revs(
            (
                p.sku,
                p.description,
                json.dumps(list(p.gtins)),
                int(p.lot_tracked),
                p.home_location,
            )
            for p in products
        )
        tx.many(
            "INSERT INTO products (sku, description, gtins, lot_tracked, home_location, rev) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sku) DO UPDATE SET "
            "description = excluded.description, gtins = excluded.gtins, "
            "lot_tracked = excluded.lot_tracked, home_location = excluded.home_location, "
            "rev = excluded.rev",
            product_rows,
        )
        location_rows = revs(
            (loc.code, loc.facility, loc.kind.value, loc.barcode) for loc in locations
        )
        tx.many(
            "INSERT INTO locations (code, facility, kind, barcode, rev) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (code) DO UPDATE SET facility = excluded.facility, "
            "kind = excluded.kind, barcode = excluded.barcode, rev = excluded.rev",
            location_rows,
        )
        operator_rows = revs(
            (o.badge, o.name, o.role, o.facility, int(o.active)) for o in operators
        )
        tx.many(
            "INSERT INTO operators (badge, name, role, facility, active, rev) "
            "VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (badge) DO UPDATE SET name = excluded.name, role = excluded.role, "
            "facility = excluded.facility, active = excluded.active, rev = excluded.rev",
            operator_rows,
        )
        # An order moved to another facility takes its row of progress along (migration 13:
        # keyed by facility): the old facility's row goes, the new one is made below.
        facility_of = {o.order_id: o.facility for o in order_list}
        moved = [
            (str(r[1]), str(r[0]))
            for r in tx.keyed(
                "SELECT order_id, facility FROM orders WHERE order_id IN ({keys})",
                list(facility_of),
            )
            if r[1] != facility_of[r[0]]
        ]
        tx.many("DELETE FROM order_progress WHERE facility = ? AND order_id = ?", moved)
        tx.many(
            "INSERT INTO orders (order_id, facility, status, has_label, status_changed_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET "
            "facility = excluded.facility, status = excluded.status, "
            "has_label = excluded.has_label, status_changed_at = excluded.status_changed_at",
            [
                (
                    o.order_id,
                    o.facility,
                    o.status.value,
                    int(o.has_label),
                    iso_utc(o.status_changed_at) if o.status_changed_at else None,
                )
                for o in order_list
            ],
        )
        # Each order's new revision (its sums are set with its lines below).
        tx.many(
            "INSERT INTO order_progress (facility, order_id, rev) VALUES (?, ?, ?) "
            "ON CONFLICT (facility, order_id) DO UPDATE SET rev = excluded.rev",
            revs((o.facility, o.order_id) for o in order_list),
        )
        tx.many(
            "INSERT INTO order_lines (order_id, line_no, sku, quantity, picked, "
            "pick_location, lot) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (order_id, line_no) DO UPDATE SET sku = excluded.sku, "
            "quantity = excluded.quantity, picked = excluded.picked, "
            "pick_location = excluded.pick_location, lot = excluded.lot",
            [
                (
                    o.order_id,
                    ln.line_no,
                    ln.sku,
                    ln.quantity,
                    ln.picked,
                    ln.pick_location,
                    ln.lot,
                )
                for o in order_list
                for ln in o.lines
            ],
        )
        # An order's lines may have changed, and kept their progress: their sums again.
        keep_sums(tx, [(o.facility, o.order_id) for o in order_list])
        qoh_rows = revs(stock)
        tx.many(
            "INSERT INTO stock_qoh (facility, sku, location, qoh, rev) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (facility, sku, location) DO UPDATE SET qoh = excluded.qoh, "
            "rev = excluded.rev",
            qoh_rows,
        )
        atp_rows = revs(atp)
        tx.many(
            "INSERT INTO stock_atp (facility, sku, atp, rev) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (facility, sku) DO UPDATE SET atp = excluded.atp, rev = excluded.rev",
            atp_rows,
        )
        role_rows: list[tuple[Any, ...]] = []
        if roles is not None:
            # The whole map is replaced: a role left out is dropped.
            tx.run("DELETE FROM roles")
            role_rows = revs(
                (role, json.dumps(sorted(p.value for p in perms))) for role, perms in role_list
            )
            tx.many("INSERT INTO roles (role, permissions, rev) VALUES (?, ?, ?)", role_rows)
        if reasons is not None:
            set_reasons(tx, reasons, next(taken))
        # Importing an exception counts as learning of it: its unpicked units are released
        # now, by entries of the central store's own (putback_tui.central.releases).
        released = release_exceptions(
            tx, [o.order_id for o in order_list if o.status.is_exception]
        )
    analyze_after_import(engine, {
        ("orders", "order_lines", "order_progress"): len(order_list),
        ("products",): len(products),
        ("locations",): len(locations),
        ("stock_qoh",): len(stock),
        ("stock_atp",): len(atp),
    })
    return {
        **({"roles": len(role_rows)} if roles is not None else {}),
        **({"reason lists": 1} if reasons is not None else {}),
        "products": len(product_rows),
        "locations": len(location_rows),
        "operators": len(operator_rows),
        "orders": len(order_list),
        "stock rows": len(qoh_rows) + len(atp_rows),
        "released orders": len(released),
    }


ANALYZE_AFTER = 1000
"""Rows an import writes to a table past which PostgreSQL's statistics of it are read anew."""


def analyze_after_import(engine: Engine, written: Mapping[tuple[str, ...], int]) -> None:
    """On PostgreSQL, ``ANALYZE`` the tables an import wrote :data:`ANALYZE_AFTER` rows or more.

    Until autovacuum gets round to a freshly loaded table, the planner plans on statistics of
    the table before the load (for a new database: none) and picks plans that read every order
    of a facility for a batch naming a few hundred (the first action's update of a batch
    naming new orders, 29 ms a batch of 1,000 against a few through the key;
    docs/performance-log.md, "Ingest, session 9"). A day's import followed by the terminals' first
    batches is exactly that moment. SQLite plans without statistics and needs nothing.
    """
    tables = sorted(t for group, n in written.items() if n >= ANALYZE_AFTER for t in group)
    if engine.name != "postgresql" or not tables:
        return
    # Maintenance, not a write of rows: outside the writers' locks (the terminals' batches go
    # on meanwhile), serialised only with migrations.
    with engine.migrating() as tx:
        tx.run(f"ANALYZE {', '.join(tables)}")
