"""The worklist: the facility's orders still holding picked units to put back, most urgent first.

Two kinds of order wait: exception orders (cancelled, deleted, failed, rejected) with picked
units not yet put back, and live orders a line edit at this terminal took picked units off
(``line_cancelled``, ``line_reduced``: SPEC section 4, "put back, as after a force cancel"),
waiting from the edit on, with SLA clocks of their own (``[sla.line_cancelled]``...).

Read from the local ledger alone, so it works offline. Each order gets a score that is the sum
of readable terms a supervisor tunes in ``[priority]`` (SPEC section 1.6):

* **SLA**: ``overdue_per_min`` points per minute past its SLA, or ``due_soon`` points once it
  is due soon (see :mod:`putback_tui.sla`);
* **units**: ``per_unit`` points per unit waiting to be put back;
* **ghost stock**: ``per_ghost_unit`` points per waiting unit of a product whose ATP at this
  facility is 0: sales of it are blocked right now;
* **predicted breach**: ``predicted_breach`` points when the facility's recent orders of the
  same kind usually took longer, from first action to cleared, than this order has left.

``why`` lists the terms that scored, largest first, in words with their points: every ranking
can be re-worked by hand from the list and the ledger. There is no other input.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from putback_tui.domain.models import Frozen, iso_utc
from putback_tui.domain.sla import PrioritySettings, SlaSettings, score_order
from putback_tui.ledger import Transaction
from putback_tui.ledger.rows import KIND_INDEXED
from putback_tui.sla import (
    BECAME_EXCEPTION_SQL,
    EXCEPTION_KINDS,
    SlaState,
    first_response,
    median_p90,
    minutes_between,
)

HISTORY_LIMIT = 200
"""At most this many recently cleared orders per kind feed the prediction."""

LINE_EDIT_KINDS = {"cancel_line": "line_cancelled", "reduce_line": "line_reduced"}
"""The worklist's kind of a live order owing a put-back, by the line edit that withdrew units."""

WORKLIST_KINDS = (*EXCEPTION_KINDS, *LINE_EDIT_KINDS.values())
"""Every kind on the worklist, each with its SLA clocks."""

Pause = Callable[[], None]
"""Called between orders while the list is built: a reader in the background waits in it
while the screen has a scan to show (see ``putback_tui.tui.worklist_feed``)."""


def _no_pause() -> None:
    pass


PAUSE_EVERY_STEPS = 10_000
"""SQLite virtual-machine steps between two calls of a reader's pause inside one query (a
fraction of a millisecond): a long query stops at the next of them when a scan arrives."""


def progress_handler(pause: Pause) -> Callable[[], int]:
    """A SQLite progress handler that pauses the query in ``pause`` (0: go on).

    When ``pause`` raises (the reader is cancelled), the handler answers 1: SQLite interrupts
    the query, which raises ``sqlite3.OperationalError`` in the reader.
    """

    def handler() -> int:
        try:
            pause()
        except Exception:
            return 1
        return 0

    return handler


class WorklistRow(Frozen):
    """One waiting order, as the order screen and ``putback worklist --json`` show it."""

    order_id: str
    kind: str
    """cancelled, deleted, failed or rejected; line_cancelled or line_reduced for a live order
    a line edit took picked units off."""
    since: datetime
    """When it became an exception (for a line edit: when the edit withdrew the units)."""
    age_minutes: float
    units_to_put_back: int
    sla: SlaState
    sla_text: str
    """The SLA state in words: "overdue 12 min", "due in 8 min", "on time"."""
    due_at: datetime
    """The running deadline that decides ``sla``."""
    score: float
    why: list[str]
    """The terms that scored, largest first, each in words with its points."""
    why_short: list[str]
    """The same terms in a few words each, points first (the order screen's column)."""

    @property
    def kind_text(self) -> str:
        """The kind in words: "cancelled", "line cancelled"."""
        return self.kind.replace("_", " ")


class Worklist(Frozen):
    """The waiting orders, most urgent first, and the counts the status bar shows."""

    rows: list[WorklistRow]
    """At most the limit asked for."""
    waiting: int
    """Every waiting order, listed or not."""
    overdue: int
    """Waiting orders that are overdue."""


@dataclass
class _Waiting:
    order_id: str
    kind: str
    since: datetime
    units: dict[str, int]
    """Units to put back, by SKU."""
    atp: dict[str, int]
    """This facility's ATP of each of those SKUs."""


_MARKS = ",".join("?" * len(EXCEPTION_KINDS))

WAITING_SQL = (
    "SELECT o.order_id, COALESCE(s.local_status, o.status), "
    f"{BECAME_EXCEPTION_SQL}, l.sku, "
    "SUM(l.picked - COALESCE(p.put_back, 0)), "
    "COALESCE((SELECT a.atp FROM stock_atp a WHERE a.sku = l.sku), 0) "
    # CROSS JOIN: SQLite keeps the candidates as the outer loop, so each order is looked up
    # by its key instead of every order of the facility being read.
    f"FROM (SELECT order_id FROM orders WHERE facility = ? AND status IN ({_MARKS}) "
    f"      UNION SELECT order_id FROM order_state WHERE local_status IN ({_MARKS})) AS w "
    "CROSS JOIN orders o ON o.order_id = w.order_id "
    "LEFT JOIN order_state s ON s.order_id = o.order_id "
    "JOIN order_lines l ON l.order_id = o.order_id "
    "LEFT JOIN line_progress p ON p.order_id = l.order_id AND p.line_no = l.line_no "
    f"WHERE o.facility = ? AND COALESCE(s.local_status, o.status) IN ({_MARKS}) "
    "AND l.picked > COALESCE(p.put_back, 0) "
    "GROUP BY o.order_id, l.sku"
)
"""Every exception order of a facility with picked units not yet put back, per SKU, with the
SKU's ATP here. The
facility's exception orders are found through indexes (``orders_by_status`` and
``order_state_by_local_status``): the cost follows them, not the size of the order cache."""


def _params(facility: str) -> tuple[str, ...]:
    return (facility, *EXCEPTION_KINDS, *EXCEPTION_KINDS, facility, *EXCEPTION_KINDS)


_EDITS = ", ".join(f"'{kind}'" for kind in LINE_EDIT_KINDS)

OWED_LIVE_SQL = (
    "SELECT o.order_id, l.line_no, l.sku, p.withdrawn - p.put_back, "
    "COALESCE((SELECT a.atp FROM stock_atp a WHERE a.sku = l.sku), 0) "
    # CROSS JOIN: from this terminal's line edits (entries_by_kind) to their orders by key,
    # never from every live order of the facility.
    f"FROM (SELECT DISTINCT order_id FROM entries WHERE kind IN ({_EDITS}) AND {KIND_INDEXED} "
    "      AND order_id IS NOT NULL) AS w "
    "CROSS JOIN orders o ON o.order_id = w.order_id "
    "LEFT JOIN order_state s ON s.order_id = o.order_id "
    "JOIN order_lines l ON l.order_id = o.order_id "
    "JOIN line_progress p ON p.order_id = l.order_id AND p.line_no = l.line_no "
    "WHERE o.facility = ? AND COALESCE(s.local_status, o.status) IN ('open', 'in_progress') "
    "AND p.withdrawn > p.put_back"
)
"""Every live order of a facility with units a line edit of this terminal withdrew and that
are not yet put back, per line, with the line's SKU and its ATP here. The units sit at the
station that made the edit (it starts their put-back at once), so its own entries find them."""

EDITS_SQL = (
    f"SELECT created_at, kind, line_changes FROM entries WHERE order_id = ? AND kind IN ({_EDITS}) "
    "ORDER BY seq"
)


def waiting_orders(
    tx: Transaction, facility: str, now: datetime, pause: Pause = _no_pause
) -> list[_Waiting]:
    """The facility's orders with units to put back (unsorted): exceptions, then line edits."""
    found: dict[str, _Waiting] = {}
    rows = tx.conn.execute(WAITING_SQL, _params(facility))
    for order_id, kind, became, sku, units, atp in rows:
        w = found.get(order_id)
        if w is None:
            pause()
            since = datetime.fromisoformat(became) if became else _first_entry(tx, order_id, now)
            w = found[order_id] = _Waiting(order_id, kind, since, {}, {})
        w.units[sku] = w.units.get(sku, 0) + int(units)
        w.atp[sku] = int(atp)
    owing: dict[str, dict[int, tuple[str, int, int]]] = defaultdict(dict)
    for order_id, line_no, sku, units, atp in tx.conn.execute(OWED_LIVE_SQL, (facility,)):
        owing[order_id][int(line_no)] = (sku, int(units), int(atp))
    for order_id, lines in owing.items():
        pause()
        kind, since = _line_edit(tx, order_id, set(lines), now)
        w = found[order_id] = _Waiting(order_id, kind, since, {}, {})
        for sku, units, atp in lines.values():
            w.units[sku] = w.units.get(sku, 0) + units
            w.atp[sku] = atp
    return list(found.values())


def _line_edit(
    tx: Transaction, order_id: str, lines: set[int], now: datetime
) -> tuple[str, datetime]:
    """The kind and time of the first line edit that withdrew units from one of ``lines``."""
    for created_at, kind, changes in tx.conn.execute(EDITS_SQL, (order_id,)):
        if any(c["line_no"] in lines and c.get("withdrawn", 0) > 0 for c in json.loads(changes)):
            return LINE_EDIT_KINDS[kind], datetime.fromisoformat(created_at)
    return LINE_EDIT_KINDS["cancel_line"], now  # not reached: OWED_LIVE_SQL found an edit


def _first_entry(tx: Transaction, order_id: str, now: datetime) -> datetime:
    # An order with no status time: the moment this terminal first recorded anything of it.
    row = tx.conn.execute(
        "SELECT min(created_at) FROM entries WHERE order_id = ?", (order_id,)
    ).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else now


HISTORY_SQL = (
    "SELECT o.order_id, COALESCE(s.local_status, o.status), "
    f"{BECAME_EXCEPTION_SQL}, s.reconciled_at "
    # CROSS JOIN: from the recently cleared (order_state_by_reconciled) to their orders, never
    # from every order of the facility.
    "FROM order_state s CROSS JOIN orders o ON o.order_id = s.order_id "
    "WHERE s.reconciled_at >= ? AND s.reconciled_at <= ? AND o.facility = ? "
    "AND EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.order_id AND l.picked > 0) "
    "ORDER BY s.reconciled_at DESC"
)
"""The orders cleared between two moments that had picked units: (order, kind, became an
exception, cleared), newest first."""


def usual_work_minutes(
    tx: Transaction, facility: str, now: datetime, days: int
) -> dict[str, list[float]]:
    """Per kind: minutes from first action to cleared of the recently cleared orders.

    Orders cleared in the last ``days`` days that had picked units (the ones that needed a
    visit); at most :data:`HISTORY_LIMIT` per kind, newest first. An order cleared with no
    operator entry counts from when it became an exception.
    """
    rows = tx.conn.execute(
        HISTORY_SQL, (iso_utc(now - timedelta(days=days)), iso_utc(now), facility)
    ).fetchall()
    out: dict[str, list[float]] = defaultdict(list)
    for order_id, kind, became, reconciled_at in rows:
        if became is None or len(out[kind]) >= HISTORY_LIMIT:
            continue
        since = datetime.fromisoformat(became)
        started = first_response(tx, order_id, since) or since
        out[kind].append(max(minutes_between(started, datetime.fromisoformat(reconciled_at)), 0))
    return dict(out)


def build_worklist(
    tx: Transaction,
    facility: str,
    *,
    sla: SlaSettings,
    priority: PrioritySettings,
    now: datetime,
    limit: int | None = None,
    pause: Pause | None = None,
) -> Worklist:
    """Score and sort the waiting orders inside one read transaction.

    Args:
        tx: an open ledger transaction (a stable snapshot).
        facility: this terminal's facility.
        sla: the SLA clocks.
        priority: the score's weights.
        now: the moment ages and clocks are measured at (timezone-aware).
        limit: most rows to return (None: all).
        pause: called before each order is read and scored (it may wait; see :data:`Pause`).
    """
    pause = pause or _no_pause
    waiting = waiting_orders(tx, facility, now, pause)
    history = usual_work_minutes(tx, facility, now, priority.history_days)
    usual = {
        kind: median_p90(minutes)[0]
        for kind, minutes in history.items()
        if len(minutes) >= priority.history_min_orders
    }
    rows = []
    overdue = 0
    for w in waiting:
        pause()
        started = first_response(tx, w.order_id, w.since)
        scored = score_order(
            sla, priority, kind=w.kind, since=w.since, now=now, first_response=started,
            units=w.units, atp=w.atp, typical=usual.get(w.kind),
        )
        c = scored.clock
        if c.state is SlaState.OVERDUE:
            overdue += 1
        rows.append(
            WorklistRow(
                order_id=w.order_id,
                kind=w.kind,
                since=w.since,
                age_minutes=round(minutes_between(w.since, now), 1),
                units_to_put_back=sum(w.units.values()),
                sla=c.state,
                sla_text=c.text,
                due_at=c.due_at,
                score=scored.score,
                why=scored.why,
                why_short=scored.why_short,
            )
        )
    rows.sort(key=lambda r: (-r.score, r.since, r.order_id))
    return Worklist(
        rows=rows if limit is None else rows[:limit], waiting=len(rows), overdue=overdue
    )
