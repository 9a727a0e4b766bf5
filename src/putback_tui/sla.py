"""SLA clocks (SPEC section 6) read from the terminal's ledger; the rules are in ``domain.sla``.

Each exception kind has two clocks that start when the order became an exception: time to
first action (the first operator entry on the order; an automatic release is nobody's action)
and time to cleared (its last unit reconciled). A clock stops when what it waits for happens;
the first-action clock also stops when the order is cleared without anyone (nothing picked,
released automatically). An order is *overdue* once a running clock has run out, *due soon*
once a running clock has used ``due_soon_share`` of its time, else *on time*.
"""

from __future__ import annotations

from datetime import datetime

from putback_tui.domain.entries import SYSTEM_OPERATOR
from putback_tui.domain.models import iso_utc
from putback_tui.domain.sla import (
    EXCEPTION_KINDS,
    Clock,
    SlaState,
    breached,
    clock,
    duration,
    median_p90,
    minutes_between,
)
from putback_tui.ledger import Transaction

__all__ = [
    "BECAME_EXCEPTION_SQL",
    "EXCEPTION_KINDS",
    "Clock",
    "SlaState",
    "breached",
    "clock",
    "duration",
    "first_response",
    "median_p90",
    "minutes_between",
]


BECAME_EXCEPTION_SQL = (
    "COALESCE((SELECT min(e.created_at) FROM entries e WHERE e.order_id = o.order_id "
    "AND e.kind IN ('cancel', 'force_cancel', 'bulk_reject')), o.status_changed_at)"
)
"""When an order (``o``) became an exception: a local cancel or bulk reject entry, else the
central store's status change. Used by the report and the worklist alike."""


def first_response(tx: Transaction, order_id: str, since: datetime) -> datetime | None:
    """The first operator entry on the order at or after ``since`` (automatic ones excluded).

    A refused action (a refusal entry) counts: the operator did act on the order.
    """
    row = tx.conn.execute(
        "SELECT min(created_at) FROM entries WHERE order_id = ? AND created_at >= ? "
        "AND operator != ?",
        (order_id, iso_utc(since), SYSTEM_OPERATOR),
    ).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None


