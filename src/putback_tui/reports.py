"""Exception patterns for supervisors (SPEC section 8), computed from the local ledger.

Exceptions are counted by kind (cancelled, deleted, failed, rejected) and reason, per day; top
rejected products; ageing, from the moment an order became an exception to its last unit
reconciled (median and p90); and what is still open, for how long.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from datetime import date, datetime

from putback_tui.domain.entries import EntryKind
from putback_tui.domain.models import EXCEPTION_STATUSES, Frozen
from putback_tui.ledger import Transaction


class DayCount(Frozen):
    """Exceptions of one kind and reason on one day."""

    day: date
    kind: str
    """cancelled, deleted, failed or rejected."""
    reason: str | None
    """The reject reason (rejected items), BULK for a bulk reject, None for order exceptions."""
    orders: int
    units: int


class TopProduct(Frozen):
    """A product rejected often."""

    sku: str
    description: str
    units: int
    rejections: int


class Ageing(Frozen):
    """How long exceptions waited before their last unit was reconciled."""

    cleared: int
    median_minutes: float | None
    p90_minutes: float | None


class OpenException(Frozen):
    """An exception order not reconciled yet."""

    order_id: str
    kind: str
    since: datetime
    age_minutes: float
    units_left: int


class ExceptionReport(Frozen):
    """Everything the report screen and ``putback report`` show."""

    facility: str
    since: date | None
    generated_at: datetime
    per_day: list[DayCount]
    top_rejected: list[TopProduct]
    ageing: Ageing
    open: list[OpenException]


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(round(0.9 * (len(ordered) - 1)), len(ordered) - 1)]


def build_report(
    tx: Transaction, facility: str, *, now: datetime, since: date | None = None, top: int = 10
) -> ExceptionReport:
    """Compute the report inside one read transaction.

    Args:
        tx: an open ledger transaction (a stable snapshot).
        facility: the facility reported on.
        now: the moment "open for how long" is measured to (timezone-aware).
        since: only exceptions that arose on or after this day (UTC).
        top: how many rejected products to list.
    """
    statuses = [s.value for s in EXCEPTION_STATUSES]
    marks = ",".join("?" * len(statuses))
    # When an order became an exception: a local cancel/bulk reject entry, else the central
    # store's status change.
    rows = tx.conn.execute(
        "SELECT o.order_id, COALESCE(s.local_status, o.status), "
        "COALESCE((SELECT min(created_at) FROM entries e WHERE e.order_id = o.order_id "
        "  AND e.kind IN ('cancel', 'force_cancel', 'bulk_reject')), o.status_changed_at), "
        "s.reconciled_at "
        "FROM orders o LEFT JOIN order_state s USING (order_id) "
        f"WHERE o.facility = ? AND COALESCE(s.local_status, o.status) IN ({marks})",
        (facility, *statuses),
    ).fetchall()
    counts: dict[tuple[date, str, str | None], list[int]] = defaultdict(lambda: [0, 0])
    waits: list[float] = []
    still_open: list[OpenException] = []
    for order_id, kind, became, reconciled_at in rows:
        if became is None:
            continue
        start = datetime.fromisoformat(became)
        if since is not None and start.date() < since:
            continue
        order = tx.order(order_id)
        units = sum(line.quantity for line in order.lines) if order else 0
        bucket = counts[(start.date(), kind, "BULK" if kind == "rejected" else None)]
        bucket[0] += 1
        bucket[1] += units
        if reconciled_at:
            waits.append((datetime.fromisoformat(reconciled_at) - start).total_seconds() / 60)
        elif order is not None:
            left = sum(line.unpicked_open + line.to_put_back for line in order.lines)
            still_open.append(
                OpenException(
                    order_id=order_id,
                    kind=kind,
                    since=start,
                    age_minutes=round((now - start).total_seconds() / 60, 1),
                    units_left=left,
                )
            )
    rejected: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for created_at, details in tx.conn.execute(
        "SELECT created_at, details FROM entries e WHERE kind = ? AND facility = ? "
        "AND NOT EXISTS (SELECT 1 FROM entries u WHERE u.undoes = e.entry_id)",
        (EntryKind.REJECT.value, facility),
    ):
        at = datetime.fromisoformat(created_at)
        if since is not None and at.date() < since:
            continue
        d = json.loads(details)
        # A site's own reason is recorded as its code.
        bucket = counts[(at.date(), "rejected", d.get("reason") or d.get("reason_code"))]
        bucket[0] += 1
        bucket[1] += int(d.get("quantity", 0))
        tally = rejected[d["sku"]]
        tally[0] += int(d.get("quantity", 0))
        tally[1] += 1
    _count_line_edits(tx, facility, since, counts)
    top_rejected = []
    for sku, (units, times) in sorted(rejected.items(), key=lambda kv: (-kv[1][0], kv[0]))[:top]:
        product = tx.product(sku)
        top_rejected.append(
            TopProduct(
                sku=sku,
                description=product.description if product else "",
                units=units,
                rejections=times,
            )
        )
    return ExceptionReport(
        facility=facility,
        since=since,
        generated_at=now,
        per_day=[
            DayCount(day=day, kind=kind, reason=reason, orders=n[0], units=n[1])
            for (day, kind, reason), n in sorted(
                counts.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")
            )
        ],
        top_rejected=top_rejected,
        ageing=Ageing(
            cleared=len(waits),
            median_minutes=round(statistics.median(waits), 1) if waits else None,
            p90_minutes=round(_p90(waits), 1) if waits else None,
        ),
        open=sorted(still_open, key=lambda o: o.since),
    )


def daily_totals(report: ExceptionReport) -> dict[date, dict[str, int]]:
    """Orders (or rejections) per day and kind, for the chart."""
    totals: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in report.per_day:
        totals[row.day][row.kind] += row.orders
    return {day: dict(kinds) for day, kinds in sorted(totals.items())}


KIND_MARKS = {"cancelled": "C", "deleted": "D", "failed": "F", "rejected": "R"}
"""One letter per kind in the text chart."""


def chart_lines(report: ExceptionReport, width: int = 40) -> list[str]:
    """The per-day counts as a stacked bar chart of plain text, one line per day."""
    totals = daily_totals(report)
    if not totals:
        return ["(no exceptions in this period)"]
    peak = max(sum(kinds.values()) for kinds in totals.values())
    scale = max(peak / width, 1)
    lines = []
    for day, kinds in totals.items():
        bar = "".join(
            KIND_MARKS.get(kind, "?") * max(round(n / scale), 1)
            for kind, n in sorted(kinds.items())
        )
        lines.append(f"{day.isoformat()} {bar} {sum(kinds.values())}")
    lines.append("C cancelled  D deleted  F failed  R rejected")
    return lines


LINE_EDIT_ACTIONS = {EntryKind.CANCEL_LINE: "line cancelled", EntryKind.REDUCE_LINE: "line reduced"}
"""How order modifications show in the report's kind column."""


def _count_line_edits(
    tx: Transaction,
    facility: str,
    since: date | None,
    counts: dict[tuple[date, str, str | None], list[int]],
) -> None:
    """Add order modifications per day, action and reason code: orders, units taken off."""
    for kind, created_at, details in tx.conn.execute(
        "SELECT kind, created_at, details FROM entries WHERE kind IN (?, ?) AND facility = ?",
        (EntryKind.CANCEL_LINE.value, EntryKind.REDUCE_LINE.value, facility),
    ):
        at = datetime.fromisoformat(created_at)
        if since is not None and at.date() < since:
            continue
        d = json.loads(details)
        bucket = counts[(at.date(), LINE_EDIT_ACTIONS[EntryKind(kind)], d.get("reason_code"))]
        bucket[0] += 1
        bucket[1] += int(d.get("from_quantity", 0)) - int(d.get("quantity", 0))
