"""The central store's own releases: unpicked units go back to ATP once an exception is known.

When the OMS sets an order's status, or an import loads orders, to cancelled, deleted, failed
or rejected, the units of each line that are neither picked nor already released or rejected
are released at once by an entry of the central store's own (terminal
:data:`~putback_tui.domain.entries.CENTRAL_TERMINAL`, operator
:data:`~putback_tui.domain.entries.SYSTEM_OPERATOR`), recorded like a terminal's entry: on the
event feed, and through the order's and ATP's new revisions on the changes feed. The line's
counters decide what is left, so units a terminal released first are not released again, and a
terminal that pulls the order finds nothing left to release.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from putback_tui.central.backlog import keep_sums, set_order_revs
from putback_tui.central.ingest import ENTRY_COLUMNS
from putback_tui.central.state import order_lines
from putback_tui.domain import rules
from putback_tui.domain.entries import (
    CENTRAL_TERMINAL,
    SYSTEM_OPERATOR,
    Entry,
    EntryDraft,
    new_entry_id,
)
from putback_tui.domain.errors import Refused
from putback_tui.domain.models import (
    Order,
    OrderStatus,
    apply_line_changes,
    iso_utc,
    now_utc,
)

if TYPE_CHECKING:
    from putback_tui.central.engines import Tx


class _AtpView:
    """The facility's ATP as the central store holds it (a domain StockView; no QOH needed)."""

    def __init__(self, tx: Tx, facility: str) -> None:
        self.tx = tx
        self.facility = facility

    def atp(self, sku: str) -> int:
        rows = self.tx.all(
            "SELECT atp FROM stock_atp WHERE facility = ? AND sku = ?", (self.facility, sku)
        )
        return int(rows[0][0]) if rows else 0

    def qoh(self, sku: str, location: str) -> int:
        rows = self.tx.all(
            "SELECT qoh FROM stock_qoh WHERE facility = ? AND sku = ? AND location = ?",
            (self.facility, sku, location),
        )
        return int(rows[0][0]) if rows else 0

    def qoh_by_location(self, sku: str) -> Mapping[str, int]:
        return {
            r[0]: int(r[1])
            for r in self.tx.all(
                "SELECT location, qoh FROM stock_qoh WHERE facility = ? AND sku = ?",
                (self.facility, sku),
            )
        }


def _orders(tx: Tx, order_ids: Sequence[str]) -> dict[str, Order]:
    """These orders with their lines and central progress, by ID (those that exist)."""
    lines = order_lines(tx, order_ids)
    return {
        r[0]: Order(
            order_id=r[0],
            facility=r[1],
            status=OrderStatus(r[2]),
            has_label=bool(r[3]),
            lines=tuple(lines.get(r[0], ())),
        )
        for r in tx.keyed(
            "SELECT order_id, facility, status, has_label FROM orders WHERE order_id IN ({keys})",
            order_ids,
        )
    }


def release_exceptions(tx: Tx, order_ids: Iterable[str]) -> list[Entry]:
    """Release what is still reserved on these orders, if they are exceptions; one entry each.

    Runs inside the caller's write transaction, whose scope must hold the orders' facilities;
    takes revisions there, so the entries, the orders and the ATP rows they change appear on
    the feeds.

    Every order is read first and every table written once, for all of them: an import
    releases thousands of orders, and on PostgreSQL each statement is a round trip (an import
    of 40,000 orders, 11,823 of them exceptions, took some 100,000 statements one order at a
    time). Each order's release is :func:`rules.release` of it as read; no release reads
    another order, nor the stock a release only adds to.

    Returns:
        The central store's entries, in the order made.
    """
    ids = list(dict.fromkeys(order_ids))  # an order named twice is released once
    orders = _orders(tx, ids) if ids else {}
    drafts: list[tuple[Order, EntryDraft]] = []
    for order_id in ids:
        order = orders.get(order_id)
        if order is None or not order.status.is_exception:
            continue
        try:
            draft = rules.release(order, _AtpView(tx, order.facility))
        except Refused:
            continue
        if draft is not None:
            drafts.append((order, draft))
    if not drafts:
        return []
    # For each order in turn: a revision for the entry, one per ATP row, one for the order.
    revs = iter(tx.revisions(sum(len(d.changes) + 2 for _, d in drafts)))
    now = now_utc()
    at = iso_utc(now)
    made: list[Entry] = []
    entry_rows: list[tuple[Any, ...]] = []
    atp_rows: list[tuple[Any, ...]] = []
    order_revs: list[tuple[str, str, int]] = []
    for order, draft in drafts:
        position = next(revs)
        entry = Entry(
            **draft.model_dump(),
            entry_id=new_entry_id(),
            seq=position,
            terminal=CENTRAL_TERMINAL,
            facility=order.facility,
            operator=SYSTEM_OPERATOR,
            created_at=now,
        )
        made.append(entry)
        entry_rows.append((
            position, entry.entry_id, CENTRAL_TERMINAL, order.facility, position,
            entry.kind.value, order.order_id, "applied", None, at, entry.model_dump_json(),
            None, None,  # no effects claimed, no entry referred to
        ))
        atp_rows += [(order.facility, c.sku, c.atp, next(revs)) for c in draft.changes]
        order_revs.append((order.facility, order.order_id, next(revs)))
    tx.insert_rows("entries", ENTRY_COLUMNS, entry_rows)
    tx.many(
        "UPDATE order_lines SET released = released + ? WHERE order_id = ? AND line_no = ?",
        [(c.released, c.order_id, c.line_no) for _, d in drafts for c in d.line_changes],
    )
    keep_sums(tx, [(order.facility, order.order_id) for order, _ in drafts])
    # An SKU released by several orders: each adds its units; the last revision stays.
    tx.many(
        "INSERT INTO stock_atp (facility, sku, atp, rev) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (facility, sku) DO UPDATE SET atp = stock_atp.atp + excluded.atp, "
        "rev = excluded.rev",
        atp_rows,
    )
    tx.many(
        "UPDATE orders SET reconciled_at = ?, reconciled_by = ?, reconciled_terminal = ? "
        "WHERE order_id = ?",
        [
            (at, SYSTEM_OPERATOR, CENTRAL_TERMINAL, order.order_id)
            for order, draft in drafts
            if apply_line_changes(order, draft.line_changes).reconciled
        ],
    )
    set_order_revs(tx, order_revs)
    return made
