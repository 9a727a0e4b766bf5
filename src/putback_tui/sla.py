"""SLA clocks (SPEC section 6): when an exception order is due, and whether it is late.

Each exception kind has two clocks that start when the order became an exception: time to
first action (the first operator entry on the order; an automatic release is nobody's action)
and time to cleared (its last unit reconciled). A clock stops when what it waits for happens;
the first-action clock also stops when the order is cleared without anyone (nothing picked,
released automatically). An order is *overdue* once a running clock has run out, *due soon*
once a running clock has used ``due_soon_share`` of its time, else *on time*.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from putback_tui.config import SlaSettings
from putback_tui.domain.entries import SYSTEM_OPERATOR
from putback_tui.domain.models import EXCEPTION_STATUSES, iso_utc
from putback_tui.ledger import Transaction

EXCEPTION_KINDS = tuple(s.value for s in sorted(EXCEPTION_STATUSES, key=lambda s: s.value))
"""cancelled, deleted, failed, rejected."""

BECAME_EXCEPTION_SQL = (
    "COALESCE((SELECT min(e.created_at) FROM entries e WHERE e.order_id = o.order_id "
    "AND e.kind IN ('cancel', 'force_cancel', 'bulk_reject')), o.status_changed_at)"
)
"""When an order (``o``) became an exception: a local cancel or bulk reject entry, else the
central store's status change. Used by the report and the worklist alike."""


class SlaState(StrEnum):
    """Where an order stands against its clocks."""

    ON_TIME = "on_time"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class Clock:
    """An order's SLA state at a moment, with the deadline that decides it."""

    state: SlaState
    due_at: datetime
    """The running deadline that decides the state (the earliest, among equals)."""
    minutes: int
    """Whole minutes past ``due_at`` (overdue) or left until it (otherwise)."""

    @property
    def text(self) -> str:
        """The state in words: "overdue 12 min", "due in 8 min", "on time"."""
        if self.state is SlaState.OVERDUE:
            return f"overdue {duration(self.minutes)}"
        if self.state is SlaState.DUE_SOON:
            return f"due in {duration(self.minutes)}"
        return "on time"


def duration(minutes: float) -> str:
    """Minutes in words for a narrow column: "8 min", "2 h 05", "3 d 4 h"."""
    m = max(int(minutes), 0)
    if m < 120:
        return f"{m} min"
    if m < 48 * 60:
        return f"{m // 60} h {m % 60:02d}"
    return f"{m // 1440} d {m % 1440 // 60} h"


def minutes_between(start: datetime, end: datetime) -> float:
    """Minutes from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    return (end - start).total_seconds() / 60


def clock(
    settings: SlaSettings,
    kind: str,
    since: datetime,
    now: datetime,
    *,
    first_response: datetime | None = None,
    cleared: datetime | None = None,
) -> Clock:
    """The SLA state of an order of ``kind`` that became an exception at ``since``.

    A cleared order's clocks have stopped: it is on time, due at its cleared deadline.
    """
    sla = settings.clock(kind)
    running: list[tuple[datetime, timedelta]] = []
    if first_response is None and cleared is None:
        running.append(
            (since + timedelta(minutes=sla.first_action_min), _span(sla.first_action_min))
        )
    if cleared is None:
        running.append((since + timedelta(minutes=sla.cleared_min), _span(sla.cleared_min)))
    if not running:
        due = since + timedelta(minutes=sla.cleared_min)
        return Clock(SlaState.ON_TIME, due, 0)
    overdue = [due for due, _ in running if now > due]
    if overdue:
        due = min(overdue)
        return Clock(SlaState.OVERDUE, due, math.floor(minutes_between(due, now)))
    soon = [due for due, span in running if now >= due - span * (1 - settings.due_soon_share)]
    due = min(soon) if soon else min(due for due, _ in running)
    left = math.ceil(minutes_between(now, due))
    return Clock(SlaState.DUE_SOON if soon else SlaState.ON_TIME, due, left)


def _span(minutes: int) -> timedelta:
    return timedelta(minutes=minutes)


def breached(
    settings: SlaSettings,
    kind: str,
    since: datetime,
    now: datetime,
    *,
    first_response: datetime | None,
    cleared: datetime | None,
) -> bool:
    """True when either clock ran out before what it waited for (or before ``now``)."""
    sla = settings.clock(kind)
    first_at = min((t for t in (first_response, cleared) if t is not None), default=now)
    if minutes_between(since, first_at) > sla.first_action_min:
        return True
    return minutes_between(since, cleared or now) > sla.cleared_min


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


def median_p90(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Median and 90th percentile of minutes, rounded to 0.1; None, None for none.

    The 90th percentile is the value at index round(0.9 (n - 1)) of the sorted list.
    """
    if not values:
        return None, None
    ordered = sorted(values)
    p90 = ordered[min(round(0.9 * (len(ordered) - 1)), len(ordered) - 1)]
    return round(statistics.median(ordered), 1), round(p90, 1)
