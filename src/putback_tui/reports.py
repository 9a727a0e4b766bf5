"""Exception patterns for supervisors (SPEC section 8), computed from the local ledger.

Exceptions are counted by kind (cancelled, deleted, failed, rejected) and reason, per day; top
rejected products; ageing, from the moment an order became an exception to its last unit
reconciled (median and p90); per kind, first response and cycle time against the SLA
(:mod:`putback_tui.sla`); and what is still open, for how long.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime

from putback_tui.domain.entries import EntryKind
from putback_tui.domain.models import EXCEPTION_STATUSES, Frozen
from putback_tui.domain.sla import SlaSettings
from putback_tui.ledger import Transaction
from putback_tui.ledger.rows import KIND_INDEXED
from putback_tui.sla import (
    BECAME_EXCEPTION_SQL,
    EXCEPTION_KINDS,
    SlaState,
    breached,
    clock,
    first_response,
    median_p90,
    minutes_between,
)


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


class SlaFigures(Frozen):
    """One exception kind against its SLA (SPEC section 6), over the report's period."""

    kind: str
    orders: int
    """Exceptions of this kind that arose in the period."""
    first_response_median_minutes: float | None
    first_response_p90_minutes: float | None
    cycle_median_minutes: float | None
    """Became an exception to last unit reconciled, over the orders cleared."""
    cycle_p90_minutes: float | None
    breached: int
    """Orders of the period that missed a clock (first action or cleared)."""
    overdue_now: int
    """Orders not cleared whose clock has run out now."""


class ExceptionReport(Frozen):
    """Everything the report screen and ``putback report`` show."""

    facility: str
    since: date | None
    generated_at: datetime
    per_day: list[DayCount]
    top_rejected: list[TopProduct]
    ageing: Ageing
    open: list[OpenException]
    sla: list[SlaFigures] = []
    """Per kind, first response and cycle time against the SLA."""


def build_report(
    tx: Transaction,
    facility: str,
    *,
    now: datetime,
    since: date | None = None,
    top: int = 10,
    sla: SlaSettings | None = None,
) -> ExceptionReport:
    """Compute the report inside one read transaction.

    Args:
        tx: an open ledger transaction (a stable snapshot).
        facility: the facility reported on.
        now: the moment "open for how long" is measured to (timezone-aware).
        since: only exceptions that arose on or after this day (UTC).
        top: how many rejected products to list.
        sla: the SLA clocks (default: every default).
    """
    clocks = sla or SlaSettings()
    statuses = [s.value for s in EXCEPTION_STATUSES]
    marks = ",".join("?" * len(statuses))
    # When an order became an exception: a local cancel/bulk reject entry, else the central
    # store's status change.
    rows = tx.conn.execute(
        "SELECT o.order_id, COALESCE(s.local_status, o.status), "
        f"{BECAME_EXCEPTION_SQL}, s.reconciled_at "
        "FROM orders o LEFT JOIN order_state s USING (order_id) "
        f"WHERE o.facility = ? AND COALESCE(s.local_status, o.status) IN ({marks})",
        (facility, *statuses),
    ).fetchall()
    counts: dict[tuple[date, str, str | None], list[int]] = defaultdict(lambda: [0, 0])
    waits: list[float] = []
    still_open: list[OpenException] = []
    firsts: dict[str, list[float]] = defaultdict(list)
    cycles: dict[str, list[float]] = defaultdict(list)
    per_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    """orders, breached, overdue now"""
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
        cleared = datetime.fromisoformat(reconciled_at) if reconciled_at else None
        first = first_response(tx, order_id, start)
        tally = per_kind[kind]
        tally[0] += 1
        if first is not None:
            firsts[kind].append(minutes_between(start, first))
        if cleared is not None:
            cycles[kind].append(minutes_between(start, cleared))
        if breached(clocks, kind, start, now, first_response=first, cleared=cleared):
            tally[1] += 1
        if cleared is None:
            state = clock(clocks, kind, start, now, first_response=first).state
            tally[2] += state is SlaState.OVERDUE
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
        f"SELECT created_at, details FROM entries e WHERE kind = ? AND {KIND_INDEXED} "
        "AND facility = ? AND NOT EXISTS (SELECT 1 FROM entries u WHERE u.undoes = e.entry_id)",
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
    median, p90 = median_p90(waits)
    sla_rows = []
    for kind in EXCEPTION_KINDS:
        first_median, first_p90 = median_p90(firsts[kind])
        cycle_median, cycle_p90 = median_p90(cycles[kind])
        orders, late, overdue = per_kind[kind]
        sla_rows.append(
            SlaFigures(
                kind=kind,
                orders=orders,
                first_response_median_minutes=first_median,
                first_response_p90_minutes=first_p90,
                cycle_median_minutes=cycle_median,
                cycle_p90_minutes=cycle_p90,
                breached=late,
                overdue_now=overdue,
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
        ageing=Ageing(cleared=len(waits), median_minutes=median, p90_minutes=p90),
        open=sorted(still_open, key=lambda o: o.since),
        sla=sla_rows,
    )


def daily_totals(report: ExceptionReport) -> dict[date, dict[str, int]]:
    """Orders (or rejections) per day and kind, for the chart."""
    totals: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in report.per_day:
        totals[row.day][row.kind] += row.orders
    return {day: dict(kinds) for day, kinds in sorted(totals.items())}


LINE_EDIT_ACTIONS = {EntryKind.CANCEL_LINE: "line cancelled", EntryKind.REDUCE_LINE: "line reduced"}
"""How order modifications show in the report's kind column."""

KIND_MARKS = {
    "cancelled": "C",
    "deleted": "D",
    "failed": "F",
    "rejected": "R",
    LINE_EDIT_ACTIONS[EntryKind.CANCEL_LINE]: "L",
    LINE_EDIT_ACTIONS[EntryKind.REDUCE_LINE]: "Q",
}
"""One letter per kind in the text chart, and its legend (Q: the ordered quantity reduced)."""


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
            mark * max(round(kinds[kind] / scale), 1)
            for kind, mark in KIND_MARKS.items()
            if kind in kinds
        )
        lines.append(f"{day.isoformat()} {bar} {sum(kinds.values())}")
    # The legend names the letters the bars use (all six do not fit an 80-column screen).
    shown = {kind for kinds in totals.values() for kind in kinds}
    lines.append("  ".join(f"{mark} {kind}" for kind, mark in KIND_MARKS.items() if kind in shown))
    return lines


def _count_line_edits(
    tx: Transaction,
    facility: str,
    since: date | None,
    counts: dict[tuple[date, str, str | None], list[int]],
) -> None:
    """Add order modifications per day, action and reason code: orders, units taken off."""
    for kind, created_at, details in tx.conn.execute(
        "SELECT kind, created_at, details FROM entries WHERE kind IN (?, ?) "
        f"AND {KIND_INDEXED} AND facility = ?",
        (EntryKind.CANCEL_LINE.value, EntryKind.REDUCE_LINE.value, facility),
    ):
        at = datetime.fromisoformat(created_at)
        if since is not None and at.date() < since:
            continue
        d = json.loads(details)
        bucket = counts[(at.date(), LINE_EDIT_ACTIONS[EntryKind(kind)], d.get("reason_code"))]
        bucket[0] += 1
        bucket[1] += int(d.get("from_quantity", 0)) - int(d.get("quantity", 0))
