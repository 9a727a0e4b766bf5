"""SLA clocks (SPEC section 6) read from the terminal's ledger.

What the clocks are and when an order is overdue, due soon or on time is said once, with the
rules, in :mod:`putback_tui.domain.sla`; this module only finds each order's moments (became an
exception, first action, cleared) in the ledger and hands them to those rules.
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


