"""The central store's feeds, read a page at a time: changes for a terminal, applied entries.

A page holds at most ``limit`` items and stops before their JSON passes about ``max_bytes``
(always at least one item), since each side holds a page whole in memory.

The changes feed is one facility's (with the network's reference data): its cursor is a
revision, and a facility's revisions become visible in the order they were handed out
(engines.py). The event feed spans facilities, whose writes commit in any order; its positions
are therefore given after commit, by :func:`publish` (docs/design.md, "The event feed across
facilities").
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from putback_tui.central.claims import current as current_claims
from putback_tui.central.engines import Engine, Row
from putback_tui.central.ingest import with_effects
from putback_tui.central.state import load_reasons, load_roles, order_lines
from putback_tui.domain.entries import Entry
from putback_tui.domain.models import (
    Location,
    LocationKind,
    Operator,
    Order,
    OrderStatus,
    Product,
)
from putback_tui.wire import (
    AppliedEntry,
    ChangesPage,
    EventsPage,
    OrderReconciled,
    RoleGrant,
    StockLevel,
)

PAGE_BYTES = 1_000_000
"""A feed page stops once its items come to about this many bytes of JSON (always at least
one item): a page is held whole in memory on both sides."""
_ITEM_OVERHEAD = 64
"""Bytes of JSON an item takes beyond its values (field names, quotes, commas)."""


def _size(row: Iterable[Any]) -> int:
    """About how many bytes of JSON a row's values take in a page."""
    return _ITEM_OVERHEAD + sum(len(str(v)) for v in row)


def changes(
    engine: Engine,
    client: str,
    facility: str,
    cursor: int,
    limit: int,
    *,
    max_bytes: int = PAGE_BYTES,
    now: datetime | None = None,
) -> ChangesPage:
    """What changed for the client's facility after ``cursor``, at most ``limit`` items.

    Orders, locations and stock of the facility; every product and operator. The page
    also stops before its items pass about ``max_bytes`` of JSON (an order counts with its
    lines), but always holds at least one item. With ``now`` (the central store's clock),
    the page also carries the facility's claims running then, whole, on every page: they
    are not revisions, and a terminal learns of them with its next pull.
    """
    want = limit + 1
    with engine.read() as tx:
        through = tx.all("SELECT last_seq FROM clients WHERE name = ?", (client,))
        items: list[tuple[int, str, Row]] = []
        sources = (
            # An order's revision is kept in order_progress (migration 13).
            ("order", "SELECT p.rev, o.order_id, o.facility, o.status, o.has_label, "
                      "o.status_changed_at, o.reconciled_at, o.reconciled_by, "
                      "o.reconciled_terminal FROM order_progress p "
                      "JOIN orders o ON o.order_id = p.order_id "
                      "WHERE p.facility = ? AND p.rev > ? ORDER BY p.rev LIMIT ?", True),
            ("product", "SELECT rev, sku, description, gtins, lot_tracked, home_location "
                        "FROM products WHERE rev > ? ORDER BY rev LIMIT ?", False),
            ("location", "SELECT rev, code, facility, kind, barcode FROM locations "
                         "WHERE facility = ? AND rev > ? ORDER BY rev LIMIT ?", True),
            ("operator", "SELECT rev, badge, name, role, facility, active FROM operators "
                         "WHERE rev > ? ORDER BY rev LIMIT ?", False),
            ("qoh", "SELECT rev, sku, location, qoh FROM stock_qoh "
                    "WHERE facility = ? AND rev > ? ORDER BY rev LIMIT ?", True),
            ("atp", "SELECT rev, sku, atp FROM stock_atp "
                    "WHERE facility = ? AND rev > ? ORDER BY rev LIMIT ?", True),
        )
        for kind, sql, by_facility in sources:
            params = (facility, cursor, want) if by_facility else (cursor, want)
            items.extend((int(r[0]), kind, r) for r in tx.all(sql, params))
        # The role map travels whole, as one item at the newest revision of any role.
        [(roles_rev,)] = tx.all("SELECT MAX(rev) FROM roles")
        if roles_rev is not None and int(roles_rev) > cursor:
            items.append((int(roles_rev), "roles", ()))
        # The reason lists travel whole too (one row).
        for (reasons_rev,) in tx.all("SELECT rev FROM site_reasons"):
            if int(reasons_rev) > cursor:
                items.append((int(reasons_rev), "reasons", ()))
        # The first `limit` items over all sources, by revision: each source gave its own
        # first limit+1, so more than `limit` in total means there is more to read.
        items.sort(key=lambda item: item[0])
        has_more = len(items) > limit
        page = items[:limit]
        lines = order_lines(tx, [r[1] for _, kind, r in page if kind == "order"])
        size = 0
        for n, (_, kind, r) in enumerate(page):
            size += _size(r)
            if kind == "order":
                size += sum(_size(vars(line).values()) for line in lines.get(r[1], ()))
            if n and size > max_bytes:
                page, has_more = page[:n], True
                break
        order_rows = [r for _, kind, r in page if kind == "order"]
        roles = (
            tuple(
                RoleGrant(role=role, permissions=tuple(sorted(perms)))
                for role, perms in sorted(load_roles(tx).items())
            )
            if any(kind == "roles" for _, kind, _ in page)
            else None
        )
        reasons = load_reasons(tx) if any(kind == "reasons" for _, kind, _ in page) else None
        claims = None if now is None else current_claims(tx, facility, now)
    return ChangesPage(
        cursor=cursor,
        next_cursor=page[-1][0] if page else cursor,
        has_more=has_more,
        applied_through_seq=int(through[0][0]) if through else 0,
        orders=tuple(
            Order(
                order_id=r[1],
                facility=r[2],
                status=OrderStatus(r[3]),
                has_label=bool(r[4]),
                status_changed_at=datetime.fromisoformat(r[5]) if r[5] else None,
                lines=tuple(lines.get(r[1], ())),
            )
            for r in order_rows
        ),
        reconciled=tuple(
            OrderReconciled(
                order_id=r[1], at=datetime.fromisoformat(r[6]), operator=r[7], terminal=r[8]
            )
            for r in order_rows
            if r[6]
        ),
        products=tuple(
            Product(
                sku=r[1],
                description=r[2],
                gtins=tuple(json.loads(r[3])),
                lot_tracked=bool(r[4]),
                home_location=r[5],
            )
            for _, kind, r in page
            if kind == "product"
        ),
        locations=tuple(
            Location(code=r[1], facility=r[2], kind=LocationKind(r[3]), barcode=r[4])
            for _, kind, r in page
            if kind == "location"
        ),
        operators=tuple(
            Operator(badge=r[1], name=r[2], role=r[3], facility=r[4], active=bool(r[5]))
            for _, kind, r in page
            if kind == "operator"
        ),
        stock=tuple(
            StockLevel(sku=r[1], location=r[2], quantity=r[3])
            if kind == "qoh"
            else StockLevel(sku=r[1], quantity=r[2])
            for _, kind, r in page
            if kind in ("qoh", "atp")
        ),
        roles=roles,
        reasons=reasons,
        claims=claims,
    )


PUBLISH_CHUNK = 5000
"""Entries given their event positions per publishing transaction."""


def publish(engine: Engine) -> int:
    """Give every committed applied entry still without an event position the next positions.

    One publisher at a time (:meth:`Engine.publishing`), in the order of the entries' own
    positions, which within a facility is the order they were applied. An entry whose
    transaction commits after a publisher looked gets a position after every one given so
    far: a reader that has read up to a position can never find a smaller one appear later.

    Returns:
        How many entries were given positions.
    """
    with engine.read() as tx:
        if not tx.all(
            "SELECT 1 FROM entries WHERE event_pos IS NULL AND outcome = 'applied' LIMIT 1"
        ):
            return 0
    given = 0
    while True:
        with engine.publishing() as tx:
            last = int(tx.all("SELECT value FROM counters WHERE name = 'events'")[0][0])
            rows = tx.all(
                "SELECT position FROM entries WHERE event_pos IS NULL AND outcome = 'applied' "
                "ORDER BY position LIMIT ?",
                (PUBLISH_CHUNK,),
            )
            tx.update_rows(
                "entries",
                ("event_pos bigint",),
                ("position bigint",),
                [(last + n, r[0]) for n, r in enumerate(rows, 1)],
            )
            tx.run("UPDATE counters SET value = ? WHERE name = 'events'", (last + len(rows),))
        given += len(rows)
        if len(rows) < PUBLISH_CHUNK:
            return given


def events(
    engine: Engine,
    cursor: int,
    limit: int,
    facility: str | None = None,
    *,
    max_bytes: int = PAGE_BYTES,
) -> EventsPage:
    """Applied entries after position ``cursor``, in the order published (see :func:`publish`).

    Whatever has committed is published first. At most ``limit`` entries, and the page stops
    before their bodies pass about ``max_bytes`` (always at least one entry).
    """
    publish(engine)
    sql = "SELECT event_pos, received_at, body, effects FROM entries WHERE "
    params: list[Any] = []
    if facility is not None:
        sql += "facility = ? AND "
        params.append(facility)
    sql += "event_pos IS NOT NULL AND event_pos > ? ORDER BY event_pos LIMIT ?"
    params += [cursor, limit + 1]
    with engine.read() as tx:
        rows = tx.all(sql, params)
    page = rows[:limit]
    has_more = len(rows) > limit
    size = 0
    for n, row in enumerate(page):
        size += _size(row)
        if n and size > max_bytes:
            page, has_more = page[:n], True
            break
    return EventsPage(
        cursor=cursor,
        next_cursor=int(page[-1][0]) if page else cursor,
        has_more=has_more,
        events=tuple(
            AppliedEntry(
                position=int(r[0]),
                received_at=datetime.fromisoformat(r[1]),
                # What was applied, which the central store derived (see ingest).
                entry=with_effects(Entry.model_validate_json(r[2]), r[3]),
            )
            for r in page
        ),
    )
