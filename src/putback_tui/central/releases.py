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

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from putback_tui.central.backlog import keep_sums, set_order_rev
from putback_tui.domain import rules
from putback_tui.domain.entries import CENTRAL_TERMINAL, SYSTEM_OPERATOR, Entry, new_entry_id
from putback_tui.domain.errors import Refused
from putback_tui.domain.models import (
    ORDER_LINE_FIELDS,
    Order,
    OrderLine,
    OrderStatus,
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


def _order(tx: Tx, order_id: str) -> Order | None:
    rows = tx.all(
        "SELECT order_id, facility, status, has_label FROM orders WHERE order_id = ?", (order_id,)
    )
    if not rows:
        return None
    r = rows[0]
    lines = tuple(
        OrderLine.from_row(row)
        for row in tx.all(
            f"SELECT {', '.join(ORDER_LINE_FIELDS)} FROM order_lines WHERE order_id = ? "
            "ORDER BY line_no",
            (order_id,),
        )
    )
    return Order(
        order_id=r[0], facility=r[1], status=OrderStatus(r[2]), has_label=bool(r[3]), lines=lines
    )


def release_exceptions(tx: Tx, order_ids: Iterable[str]) -> list[Entry]:
    """Release what is still reserved on these orders, if they are exceptions; one entry each.

    Runs inside the caller's write transaction, whose scope must hold the orders' facilities;
    takes revisions there, so the entries, the orders and the ATP rows they change appear on
    the feeds.

    Returns:
        The central store's entries, in the order made.
    """
    made: list[Entry] = []
    for order_id in order_ids:
        order = _order(tx, order_id)
        if order is None or not order.status.is_exception:
            continue
        view = _AtpView(tx, order.facility)
        try:
            draft = rules.release(order, view)
        except Refused:
            continue
        if draft is None:
            continue
        # One revision for the entry, one per ATP row, one for the order: in that order.
        revs = iter(tx.revisions(len(draft.changes) + 2))
        now = now_utc()
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
        tx.run(
            "INSERT INTO entries (position, entry_id, terminal, facility, seq, kind, order_id, "
            "outcome, reason, received_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, 'applied', NULL, "
            "?, ?)",
            (
                position,
                entry.entry_id,
                CENTRAL_TERMINAL,
                order.facility,
                position,
                entry.kind.value,
                order_id,
                iso_utc(now),
                entry.model_dump_json(),
            ),
        )
        for c in draft.line_changes:
            tx.run(
                "UPDATE order_lines SET released = released + ? WHERE order_id = ? AND line_no = ?",
                (c.released, c.order_id, c.line_no),
            )
        keep_sums(tx, [(order.facility, order_id)])
        for change in draft.changes:
            tx.run(
                "INSERT INTO stock_atp (facility, sku, atp, rev) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (facility, sku) DO UPDATE SET atp = stock_atp.atp + excluded.atp, "
                "rev = excluded.rev",
                (order.facility, change.sku, change.atp, next(revs)),
            )
        done = all(line.to_put_back == 0 for line in order.lines)
        if done:
            tx.run(
                "UPDATE orders SET reconciled_at = ?, reconciled_by = ?, "
                "reconciled_terminal = ? WHERE order_id = ?",
                (iso_utc(now), SYSTEM_OPERATOR, CENTRAL_TERMINAL, order_id),
            )
        set_order_rev(tx, order.facility, order_id, next(revs))
        made.append(entry)
    return made
