"""Automatic releases: an exception order's unpicked units go back to ATP once it is known.

A terminal learns of an exception from a pulled page or from a loaded data set (a local cancel
or force cancel releases in its own entry). Whatever the source, the unpicked units still
reserved on each line are released by one automatic entry per order, made by
:data:`~putback_tui.domain.entries.SYSTEM_OPERATOR`; the line's counters decide what is left, so
units released already (here, or by the central store and pulled) are never released again.
"""

from __future__ import annotations

from collections.abc import Iterable

from putback_tui.domain import rules
from putback_tui.domain.entries import SYSTEM_OPERATOR, Entry
from putback_tui.domain.errors import Refused
from putback_tui.domain.models import EXCEPTION_STATUSES
from putback_tui.ledger.transaction import Transaction

_EXCEPTIONS = tuple(sorted(s.value for s in EXCEPTION_STATUSES))


def orders_to_release(tx: Transaction, facility: str, among: str | None = None) -> list[str]:
    """The facility's exception orders with unpicked units still reserved, by order ID.

    Args:
        tx: an open transaction.
        facility: the facility.
        among: the name of a one-column (``order_id``) table to limit the search to; None
            looks at every exception order of the facility (found through the status index).
    """
    marks = ",".join("?" * len(_EXCEPTIONS))
    params: tuple[str, ...] = ()
    if among:
        candidates = f"SELECT order_id FROM {among}"
    else:  # the facility's exception orders, through the status indexes
        candidates = (
            f"SELECT order_id FROM orders WHERE facility = ? AND status IN ({marks}) "
            f"UNION SELECT order_id FROM order_state WHERE local_status IN ({marks})"
        )
        params = (facility, *_EXCEPTIONS, *_EXCEPTIONS)
    return [
        r[0]
        for r in tx.conn.execute(
            # CROSS JOIN keeps the candidates as the outer loop (see worklist.WAITING_SQL).
            f"SELECT DISTINCT o.order_id FROM ({candidates}) AS w "
            "CROSS JOIN orders o ON o.order_id = w.order_id "
            "LEFT JOIN order_state s ON s.order_id = o.order_id "
            "JOIN order_lines l ON l.order_id = o.order_id "
            "LEFT JOIN line_progress p ON p.order_id = l.order_id AND p.line_no = l.line_no "
            f"WHERE o.facility = ? AND COALESCE(s.local_status, o.status) IN ({marks}) "
            "AND l.quantity - l.picked - COALESCE(p.released, 0) - COALESCE(p.rejected, 0) > 0 "
            "ORDER BY o.order_id",
            (*params, facility, *_EXCEPTIONS),
        )
    ]


def release_known(
    tx: Transaction, *, terminal: str, facility: str, order_ids: Iterable[str]
) -> list[Entry]:
    """Release the unpicked units of these exception orders, one automatic entry each.

    Orders that are live, of another facility, or have nothing left to release are skipped.
    Must run inside :meth:`~putback_tui.ledger.Ledger.write`.

    Returns:
        The entries made, in order.
    """
    made = []
    for order_id in order_ids:
        order = tx.order(order_id)
        if order is None or order.facility != facility or not order.status.is_exception:
            continue
        if not any(line.unpicked_open for line in order.lines):
            continue
        try:
            draft = rules.release(order, tx)
        except Refused:  # shipped meanwhile: nothing of it is released
            continue
        if draft is not None:
            made.append(
                tx.append(draft, terminal=terminal, facility=facility, operator=SYSTEM_OPERATOR)
            )
    return made


def release_all_known(tx: Transaction, *, terminal: str, facility: str) -> list[Entry]:
    """Release every exception order of the facility that still holds unpicked reservations."""
    return release_known(
        tx, terminal=terminal, facility=facility, order_ids=orders_to_release(tx, facility)
    )
