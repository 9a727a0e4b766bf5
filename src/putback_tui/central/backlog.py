"""The network's exception backlog (``GET /v1/backlog``), read from indexed queries.

Every figure comes from a handful of queries over all the facilities asked for at once, each
reading through an index of migration 8, most of them covering: the unreconciled exception
orders (``orders_waiting``), the recently cleared (``orders_by_reconciled``), the orders that
became exceptions in the last 24 hours (``orders_by_status_changed``), the waiting orders'
lines (``order_lines_progress``), the reasons counted per day by ingest (``reason_counts``) and the
refused and resolving entries (``entries_refused``, ``entries_resolves``). Nothing reads the
entries table at large, so the answer's cost follows the backlog, not the history.

The SLA states and scores are the terminal's own rules (:mod:`putback_tui.domain.sla`), fed with
the central store's facts: when the order became an exception (``status_changed_at``), its
first operator entry since then (``first_action_at``, kept by :func:`note_entries`), and
its lines' progress over every terminal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from putback_tui.central.claims import current as current_claims
from putback_tui.central.engines import Engine, Tx
from putback_tui.domain.entries import SYSTEM_OPERATOR, Entry, EntryKind
from putback_tui.domain.models import iso_utc
from putback_tui.domain.sla import (
    EXCEPTION_KINDS,
    PrioritySettings,
    SlaSettings,
    count_states_by,
    median_p90,
    minutes_between,
    score_order,
)
from putback_tui.wire import (
    Backlog,
    FacilityBacklog,
    FacilityDetail,
    HourFlow,
    ReasonCount,
    RefusedEntry,
    TerminalContact,
    WaitingOrder,
)

FLOW_HOURS = 24
"""Hours of incoming against cleared, and the window of the medians."""
REASON_DAYS = 7
"""Days the top reasons count: today (UTC) and the six before."""
TOP_REASONS = 5
REFUSED_LISTED = 100
"""Most refused entries a facility's detail lists (the count covers them all)."""
HISTORY_LIMIT = 200
"""At most this many recently cleared orders per kind feed the score's prediction (as the
terminal's worklist)."""

REASON_KINDS = frozenset(
    {
        EntryKind.REJECT,
        EntryKind.CANCEL,
        EntryKind.FORCE_CANCEL,
        EntryKind.BULK_REJECT,
        EntryKind.CANCEL_LINE,
        EntryKind.REDUCE_LINE,
    }
)
"""The kinds whose entries carry a reason the top reasons count."""

_EXC = ",".join("?" * len(EXCEPTION_KINDS))


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _hour(value: datetime) -> str:
    """The stored text of the hour ``value`` falls in: ``2026-12-06T10`` (UTC)."""
    return iso_utc(value)[:13]


def _day(value: datetime) -> str:
    """The stored text of the day ``value`` falls in: ``2026-12-06`` (UTC)."""
    return iso_utc(value)[:10]


# -- written by ingest -------------------------------------------------------------------------


def note_entries(tx: Tx, recorded: Sequence[tuple[Entry, str]]) -> None:
    """Keep the backlog's running figures for a batch just recorded, in its transaction.

    * An order's ``first_action_at``: the earliest operator entry (not an automatic one) on an
      exception order at or after it became one; a refused entry counts, as on the terminal.
    * ``reason_counts``: applied entries with a reason, per facility, day, kind and reason.

    Args:
        tx: the ingest's write transaction, after the orders' statuses were written.
        recorded: each recorded entry with its outcome (``applied`` or ``refused``).
    """
    write_notes(tx, *entry_notes(recorded))


def entry_notes(
    recorded: Sequence[tuple[Entry, str]],
) -> tuple[dict[str, str], dict[tuple[str, str, str, str], list[int]]]:
    """What :func:`note_entries` writes for ``recorded``: first actions, and reason counts.

    First actions: order ID -> the earliest operator entry's time. Reason counts: (facility,
    day, kind, reason) -> [entries, units].
    """
    first: dict[str, str] = {}
    counts: dict[tuple[str, str, str, str], list[int]] = {}
    for entry, outcome in recorded:
        if entry.order_id and entry.operator != SYSTEM_OPERATOR:
            at = iso_utc(entry.created_at)
            if entry.order_id not in first or at < first[entry.order_id]:
                first[entry.order_id] = at
        if outcome != "applied" or entry.kind not in REASON_KINDS:
            continue
        d = entry.details
        reason = d.reason_code or (d.reason.value if d.reason else None)
        if reason is None:
            continue
        key = (entry.facility, _day(entry.created_at), entry.kind.value, reason)
        n = counts.setdefault(key, [0, 0])
        n[0] += 1
        n[1] += d.quantity or 0
    return first, counts


FIRST_ACTION_WHERE = (
    f"orders.status IN ({', '.join(repr(k) for k in EXCEPTION_KINDS)}) "
    "AND (orders.first_action_at IS NULL OR orders.first_action_at > {first_action_at}) "
    "AND (orders.status_changed_at IS NULL OR orders.status_changed_at <= {first_action_at})"
)
"""When a batch's earliest operator entry on an order (``{first_action_at}``) is the order's
first action: on an exception order, at or after it became one, and before any other."""
FIRST_ACTION_SET = (
    "CASE WHEN {first_action_at} IS NOT NULL AND (" + FIRST_ACTION_WHERE + ") "
    "THEN {first_action_at} ELSE orders.first_action_at END"
)
"""The same as what ``first_action_at`` becomes, in another update of the order's row (NULL:
no operator entry on it in the batch)."""


def write_notes(
    tx: Tx, first: Mapping[str, str], counts: Mapping[tuple[str, str, str, str], list[int]]
) -> None:
    """Write what :func:`entry_notes` worked out, in the ingest's transaction."""
    # One statement for the batch (on PostgreSQL one round trip, not one per order).
    tx.update_rows(
        "orders",
        ("first_action_at text",),
        ("order_id text",),
        [(at, oid) for oid, at in sorted(first.items())],
        where=FIRST_ACTION_WHERE,
    )
    if counts:
        tx.many(
            "INSERT INTO reason_counts (facility, day, kind, reason, entries, units) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (facility, day, kind, reason) DO UPDATE "
            "SET entries = reason_counts.entries + excluded.entries, "
            "units = reason_counts.units + excluded.units",
            [(*key, n[0], n[1]) for key, n in sorted(counts.items())],
        )


# -- read --------------------------------------------------------------------------------------


def known_facilities(engine: Engine) -> list[str]:
    """Every facility the central store knows: of its locations, orders' or terminals'."""
    with engine.read() as tx:
        rows = tx.all(
            "SELECT DISTINCT facility FROM locations "
            "UNION SELECT facility FROM clients WHERE facility IS NOT NULL "
            "UNION SELECT DISTINCT facility FROM terminal_contacts"
        )
    return sorted({str(r[0]) for r in rows})


def facility_exists(engine: Engine, facility: str) -> bool:
    """True when the central store knows ``facility`` (locations, orders or terminals)."""
    with engine.read() as tx:
        return bool(
            tx.all(
                "SELECT 1 FROM locations WHERE facility = ? "
                "UNION ALL SELECT 1 FROM orders WHERE facility = ? "
                "UNION ALL SELECT 1 FROM clients WHERE facility = ? LIMIT 1",
                (facility, facility, facility),
            )
        )


@dataclass
class _Waiting:
    order_id: str
    kind: str
    since: datetime
    first_action: datetime | None
    units: dict[str, int] = field(default_factory=dict)


@dataclass
class _Figures:
    waiting: dict[str, _Waiting] = field(default_factory=dict)
    reserved: int = 0
    flow: dict[str, list[int]] = field(default_factory=dict)
    medians: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    reasons: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    refused: int = 0
    terminals: list[TerminalContact] = field(default_factory=list)


def _ts(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


_WAITING = (
    "o.reconciled_at IS NULL AND o.status IN ('cancelled', 'deleted', 'failed', 'rejected')"
)
"""An unreconciled exception order: the ``orders_waiting`` index's predicate, word for word
(a partial index serves only a query that repeats it, with constants, not parameters)."""
assert _WAITING.endswith(f"({', '.join(repr(k) for k in EXCEPTION_KINDS)})")

_TO_PUT_BACK = "CASE WHEN l.picked > l.put_back THEN l.picked - l.put_back ELSE 0 END"
"""A line's picked units not yet put back (``OrderLine.to_put_back``)."""
_UNPICKED = "CASE WHEN l.quantity > l.picked THEN l.quantity - l.picked ELSE 0 END"
_RESERVED = (
    f"CASE WHEN {_UNPICKED} - l.released - l.rejected > 0 "
    f"THEN {_UNPICKED} - l.released - l.rejected ELSE 0 END"
)
"""A line's unpicked units still reserved (``OrderLine.unpicked_open``)."""


def _waiting_by_sku(
    tx: Tx, out: dict[str, _Figures], facilities: Sequence[str], now: datetime
) -> None:
    """The waiting orders with their units per SKU (the detail's ATP term needs them)."""
    for r in tx.all(
        "SELECT o.facility, o.order_id, o.status, o.status_changed_at, o.first_action_at, "
        f"l.sku, {_TO_PUT_BACK}, {_RESERVED} "
        "FROM orders o JOIN order_lines l ON l.order_id = o.order_id "
        f"WHERE o.facility IN ({_marks(len(facilities))}) AND {_WAITING}",
        facilities,
    ):
        f = out[r[0]]
        f.reserved += int(r[7])
        if not r[6]:
            continue
        w = f.waiting.get(r[1])
        if w is None:
            # No status time (imported as an exception without one): counted from now.
            w = f.waiting[r[1]] = _Waiting(r[1], str(r[2]), _ts(r[3]) or now, _ts(r[4]))
        w.units[r[5]] = w.units.get(r[5], 0) + int(r[6])


def _read(
    tx: Tx, facilities: Sequence[str], now: datetime, *, by_sku: bool = False
) -> dict[str, _Figures]:
    """Every figure of ``facilities`` but the scores, in the caller's snapshot.

    ``by_sku``: count each waiting order's units per SKU (the detail's ATP term needs them);
    otherwise the lines are read from their covering index alone and summed per order.
    """
    out = {f: _Figures() for f in facilities}
    if not facilities:
        return out
    fac = _marks(len(facilities))
    # The unreconciled exception orders with their lines: the backlog itself.
    if by_sku:
        _waiting_by_sku(tx, out, facilities, now)
    else:
        # Each order's lines summed by one subquery, both sums in one text ("3 0"): one index
        # probe per order on both engines (PostgreSQL would otherwise hash-join every line of
        # the store, and two subqueries cost SQLite twice the probes).
        for facility, order_id, kind, since, first, sums in tx.all(
            "SELECT o.facility, o.order_id, o.status, o.status_changed_at, o.first_action_at, "
            f"(SELECT SUM({_TO_PUT_BACK}) || ' ' || SUM({_RESERVED}) "
            "FROM order_lines l WHERE l.order_id = o.order_id) "
            f"FROM orders o WHERE o.facility IN ({fac}) AND {_WAITING}",
            facilities,
        ):
            waiting, reserved = (int(n) for n in sums.split()) if sums else (0, 0)
            f = out[facility]
            f.reserved += reserved
            if waiting:
                f.waiting[order_id] = _Waiting(
                    order_id, kind, _ts(since) or now, _ts(first), {"": int(waiting)}
                )
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=FLOW_HOURS - 1)
    window = iso_utc(start)
    # An order cleared by nobody ('system': nothing was picked, its release cleared it) never
    # entered the backlog: it is neither incoming nor cleared.
    by_someone = f"(o.reconciled_by IS NULL OR o.reconciled_by != '{SYSTEM_OPERATOR}')"
    for facility, hour, count in tx.all(
        f"SELECT o.facility, substr(o.status_changed_at, 1, 13), COUNT(*) FROM orders o "
        f"WHERE o.facility IN ({fac}) AND o.status_changed_at >= ? AND o.status IN ({_EXC}) "
        f"AND {by_someone} GROUP BY o.facility, substr(o.status_changed_at, 1, 13)",
        (*facilities, window, *EXCEPTION_KINDS),
    ):
        out[facility].flow.setdefault(hour, [0, 0])[0] += int(count)
    for facility, became, first, cleared in tx.all(
        f"SELECT o.facility, o.status_changed_at, o.first_action_at, o.reconciled_at "
        f"FROM orders o WHERE o.facility IN ({fac}) AND o.reconciled_at >= ? "
        f"AND o.status IN ({_EXC}) AND {by_someone}",
        (*facilities, window, *EXCEPTION_KINDS),
    ):
        f = out[facility]
        f.flow.setdefault(cleared[:13], [0, 0])[1] += 1
        if became is None:
            continue
        b = datetime.fromisoformat(became)
        c = datetime.fromisoformat(cleared)
        f.medians[1].append(max(minutes_between(b, c), 0))
        if first is not None:
            f.medians[0].append(max(minutes_between(b, datetime.fromisoformat(first)), 0))
    for facility, kind, reason, entries, units in tx.all(
        "SELECT facility, kind, reason, SUM(entries), SUM(units) FROM reason_counts "
        f"WHERE facility IN ({fac}) AND day >= ? GROUP BY facility, kind, reason",
        (*facilities, _day(now - timedelta(days=REASON_DAYS - 1))),
    ):
        out[facility].reasons[(kind, reason)] = [int(entries), int(units)]
    # Refused entries less the ones a supervisor resolved (each counted once).
    for facility, count in tx.all(
        f"SELECT facility, COUNT(*) FROM entries WHERE facility IN ({fac}) "
        "AND outcome = 'refused' GROUP BY facility",
        facilities,
    ):
        out[facility].refused += int(count)
    for facility, count in tx.all(
        f"SELECT facility, COUNT(DISTINCT ref) FROM entries WHERE facility IN ({fac}) "
        "AND kind = 'resolve' AND outcome = 'applied' GROUP BY facility",
        facilities,
    ):
        out[facility].refused -= int(count)
    for name, facility, last_seq, contact, waiting in tx.all(
        "SELECT c.name, c.facility, c.last_seq, t.last_contact, t.waiting_to_send "
        "FROM clients c LEFT JOIN terminal_contacts t ON t.terminal = c.name "
        f"WHERE c.kind = 'terminal' AND c.facility IN ({fac}) ORDER BY c.name",
        facilities,
    ):
        out[facility].terminals.append(
            TerminalContact.model_construct(
                terminal=name,
                last_contact=_ts(contact),
                waiting_to_send=None if waiting is None else int(waiting),
                last_seq=int(last_seq),
            )
        )
    return out


def _no_jit(engine: Engine, tx: Tx) -> None:
    """On PostgreSQL, no JIT compilation for this read transaction.

    Its planner overestimates the waiting orders (it takes "unreconciled" and "an exception"
    as independent, when most unreconciled orders are live ones), and the cost it then
    expects switches JIT on: compiling took longer than the whole query (16 ms of 25).
    """
    if engine.name == "postgresql":
        tx.run("SET LOCAL jit = off")


def _hours(now: datetime) -> list[tuple[datetime, str]]:
    """The flow's 24 hours, oldest first: each hour's start and its stored text."""
    start = now.replace(minute=0, second=0, microsecond=0)
    hours = [start - timedelta(hours=h) for h in range(FLOW_HOURS - 1, -1, -1)]
    return [(h, _hour(h)) for h in hours]


def _states(
    figures: Mapping[str, _Figures], sla: SlaSettings, now: datetime
) -> dict[str, tuple[int, int]]:
    """Each facility's waiting orders overdue, and due soon (every facility counted at once)."""
    return count_states_by(
        sla,
        {
            facility: [(w.kind, w.since, w.first_action) for w in f.waiting.values()]
            for facility, f in figures.items()
        },
        now,
    )


def _summary(
    facility: str,
    f: _Figures,
    states: tuple[int, int],
    now: datetime,
    hours: Sequence[tuple[datetime, str]],
) -> FacilityBacklog:
    overdue, due_soon = states
    reasons = sorted(f.reasons.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
    # Built from the central store's own rows: nothing to validate (model_construct).
    return FacilityBacklog.model_construct(
        facility=facility,
        waiting_orders=len(f.waiting),
        units_to_put_back=sum(sum(w.units.values()) for w in f.waiting.values()),
        units_reserved_on_exceptions=f.reserved,
        overdue=overdue,
        due_soon=due_soon,
        oldest_since=min((w.since for w in f.waiting.values()), default=None),
        first_response_median_minutes=median_p90(f.medians[0])[0],
        cycle_median_minutes=median_p90(f.medians[1])[0],
        flow=tuple(
            HourFlow.model_construct(hour=h, incoming=n[0], cleared=n[1])
            for h, text in hours
            for n in (f.flow.get(text, [0, 0]),)
        ),
        top_reasons=tuple(
            ReasonCount.model_construct(kind=k, reason=r, entries=n[0], units=n[1])
            for (k, r), n in reasons[:TOP_REASONS]
        ),
        refused_waiting=f.refused,
        terminals=tuple(f.terminals),
    )


def backlog(
    engine: Engine, facilities: Sequence[str], sla: SlaSettings, now: datetime
) -> Backlog:
    """The backlog of ``facilities`` (by name), read in one snapshot."""
    names = sorted(set(facilities))
    with engine.read() as tx:
        _no_jit(engine, tx)
        figures = _read(tx, names, now)
    hours = _hours(now)
    states = _states(figures, sla, now)
    return Backlog.model_construct(
        as_of=now,
        facilities=tuple(_summary(f, figures[f], states[f], now, hours) for f in names),
    )


def facility_detail(
    engine: Engine,
    facility: str,
    sla: SlaSettings,
    priority: PrioritySettings,
    now: datetime,
) -> FacilityDetail:
    """One facility's backlog with its waiting orders ranked as a terminal's worklist ranks them."""
    with engine.read() as tx:
        _no_jit(engine, tx)
        f = _read(tx, [facility], now, by_sku=True)[facility]
        skus = sorted({sku for w in f.waiting.values() for sku in w.units})
        atp: dict[str, int] = {}
        for i in range(0, len(skus), 500):
            chunk = skus[i : i + 500]
            atp.update(
                (str(r[0]), int(r[1]))
                for r in tx.all(
                    f"SELECT sku, atp FROM stock_atp WHERE facility = ? "
                    f"AND sku IN ({_marks(len(chunk))})",
                    (facility, *chunk),
                )
            )
        history: dict[str, list[float]] = defaultdict(list)
        for kind, became, first, cleared in tx.all(
            "SELECT o.status, o.status_changed_at, o.first_action_at, o.reconciled_at "
            "FROM orders o WHERE o.facility = ? AND o.reconciled_at >= ? "
            f"AND o.status IN ({_EXC}) AND o.reconciled_by != '{SYSTEM_OPERATOR}' "
            "ORDER BY o.reconciled_at DESC",
            (facility, iso_utc(now - timedelta(days=priority.history_days)), *EXCEPTION_KINDS),
        ):
            if became is None or len(history[kind]) >= HISTORY_LIMIT:
                continue
            started = datetime.fromisoformat(first or became)
            history[kind].append(max(minutes_between(started, datetime.fromisoformat(cleared)), 0))
        refused = tx.all(
            "SELECT e.entry_id, e.terminal, e.kind, e.order_id, e.reason, e.received_at "
            "FROM entries e WHERE e.facility = ? AND e.outcome = 'refused' AND NOT EXISTS "
            "(SELECT 1 FROM entries r WHERE r.kind = 'resolve' AND r.facility = e.facility "
            "AND r.ref = e.entry_id AND r.outcome = 'applied') "
            "ORDER BY e.position LIMIT ?",
            (facility, REFUSED_LISTED),
        )
        claims = {c.order_id: c for c in current_claims(tx, facility, now)}
    usual = {
        kind: median_p90(minutes)[0]
        for kind, minutes in history.items()
        if len(minutes) >= priority.history_min_orders
    }
    orders = []
    for w in f.waiting.values():
        scored = score_order(
            sla, priority, kind=w.kind, since=w.since, now=now, first_response=w.first_action,
            units=w.units, atp=atp, typical=usual.get(w.kind),
        )
        orders.append(
            WaitingOrder(
                order_id=w.order_id,
                kind=w.kind,
                since=w.since,
                age_minutes=round(minutes_between(w.since, now), 1),
                units_to_put_back=sum(w.units.values()),
                sla=scored.clock.state,
                sla_text=scored.clock.text,
                due_at=scored.clock.due_at,
                first_response=w.first_action,
                score=scored.score,
                why=tuple(scored.why),
                claim=claims.get(w.order_id),
            )
        )
    orders.sort(key=lambda o: (-o.score, o.since, o.order_id))
    return FacilityDetail(
        as_of=now,
        backlog=_summary(facility, f, _states({facility: f}, sla, now)[facility], now, _hours(now)),
        orders=tuple(orders),
        refused=tuple(
            RefusedEntry(
                entry_id=r[0], terminal=r[1], kind=r[2], order_id=r[3], reason=r[4],
                received_at=datetime.fromisoformat(r[5]),
            )
            for r in refused
        ),
    )
