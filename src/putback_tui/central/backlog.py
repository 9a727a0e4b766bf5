"""The network's exception backlog (``GET /v1/backlog``), read from indexed queries.

Every figure comes from a handful of queries over all the facilities asked for at once, each
reading through an index of migrations 8, 10 and 13, most of them covering: the unreconciled
exception orders (``orders_waiting``), with the sums each keeps over its lines read by key in
``order_progress`` (migration 13), the recently
cleared (``orders_by_reconciled``), the orders that became exceptions in the last 24 hours
(``orders_by_status_changed``), the reasons counted per day by ingest (``reason_counts``) and
the refused and resolving entries (``entries_refused``, ``entries_resolves``). Nothing reads
the entries table at large, and the network's answer reads no order line (a facility's detail
reads its waiting orders' lines, by their primary key, for their units per SKU), so the
answer's cost follows the backlog, not the history.

The SLA states and scores are the terminal's own rules (:mod:`putback_tui.domain.sla`), fed with
the central store's facts: when the order became an exception (``status_changed_at``), its
first operator entry since then (``first_action_at``, kept by :func:`write_notes`), and
its lines' progress over every terminal (``units_to_put_back`` and ``units_reserved``, kept by
:func:`order_sums` and :func:`keep_sums` wherever lines are written). For the network, the
database counts each facility's overdue and due-soon orders against each kind's bounds
(:func:`~putback_tui.domain.sla.state_bounds`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from putback_tui.central.claims import current as current_claims
from putback_tui.central.engines import Engine, Tx
from putback_tui.domain.entries import SYSTEM_OPERATOR, Entry, EntryKind
from putback_tui.domain.models import Order, iso_utc
from putback_tui.domain.sla import (
    EXCEPTION_KINDS,
    PrioritySettings,
    SlaSettings,
    count_states_by,
    median_p90,
    minutes_between,
    score_order,
    state_bounds,
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


# -- written by ingest -------------------------------------------------------------------------


def entry_notes(
    recorded: Sequence[tuple[Entry, str]],
) -> tuple[dict[str, str], dict[tuple[str, str, str, str], list[int]]]:
    """The backlog's running figures for a batch just recorded, for :func:`write_notes`.

    * An order's ``first_action_at``: the earliest operator entry (not an automatic one) on an
      exception order at or after it became one; a refused entry counts, as on the terminal.
    * ``reason_counts``: applied entries with a reason, per facility, day, kind and reason.

    ``recorded``: each recorded entry with its outcome (``applied`` or ``refused``). First
    actions: order ID -> the earliest operator entry's time. Reason counts: (facility, day,
    kind, reason) -> [entries, units].
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


def first_action_due(
    status: str, status_changed_at: str | None, first_action_at: str | None, at: str
) -> bool:
    """:data:`FIRST_ACTION_WHERE` over an order's row as read in the writing transaction.

    Ingest asks it first, so that an order whose first action stands (nearly every order of a
    batch) costs no update at all; the update keeps the condition all the same. Times are the
    stored texts (``iso_utc``), compared as the database compares them.
    """
    return (
        status in EXCEPTION_KINDS
        and (first_action_at is None or first_action_at > at)
        and (status_changed_at is None or status_changed_at <= at)
    )


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


def order_sums(order: Order) -> tuple[int, int]:
    """What ``orders`` keeps of ``order``'s lines: its units to put back, its units reserved."""
    return (
        sum(line.to_put_back for line in order.lines),
        sum(line.unpicked_open for line in order.lines),
    )


def set_order_rev(tx: Tx, facility: str, order_id: str, rev: int) -> None:
    """Give an order of ``facility`` the revision ``rev``: the changes feed sends it again.

    An order's revision is kept in ``order_progress`` with its sums (migration 13); ingest
    writes a batch's orders' revisions with their sums, and the other writers of an order
    (a status set, a release, an import) call this or :func:`set_order_revs`.
    """
    set_order_revs(tx, [(facility, order_id, rev)])


def set_order_revs(tx: Tx, revs: Sequence[tuple[str, str, int]]) -> None:
    """:func:`set_order_rev` of many orders: (facility, order ID, revision) of each."""
    tx.many(
        "INSERT INTO order_progress (facility, order_id, rev) VALUES (?, ?, ?) "
        "ON CONFLICT (facility, order_id) DO UPDATE SET rev = excluded.rev",
        revs,
    )


_KEEP_SUMS = (
    "UPDATE order_progress SET (units_to_put_back, units_reserved) = (SELECT "
    f"COALESCE(SUM({_TO_PUT_BACK}), 0), COALESCE(SUM({_RESERVED}), 0) "
    "FROM order_lines l WHERE l.order_id = order_progress.order_id) "
    "WHERE facility = ? AND order_id IN ({keys}) RETURNING order_id"
)


def keep_sums(tx: Tx, orders: Iterable[tuple[str, str]]) -> None:
    """Set these orders' kept sums (:func:`order_sums`) from their lines as just written.

    ``orders``: (facility, order ID) of each. For the writers of lines other than ingest
    (which writes :func:`order_sums` of the orders it holds with their revisions): the
    central store's releases and imports. Run in the transaction that wrote the lines.

    One statement a facility, its orders' IDs as one array on PostgreSQL (:meth:`Tx.keyed`),
    which the planner probes the primary key with. Asked as ``order_id IN`` a list of 500
    parameters, the plan it keeps after five runs (a generic plan), made while a new import's
    tables have no statistics, read every order of the facility for each list: an import of
    40,000 orders spent 58 of its 113 s there (docs/performance-log.md, "Session 13: a large
    import").
    """
    by_facility: dict[str, set[str]] = defaultdict(set)
    for facility, order_id in orders:
        by_facility[facility].add(order_id)
    for facility, order_ids in sorted(by_facility.items()):
        tx.keyed(_KEEP_SUMS, sorted(order_ids), facility)


def sums_astray(tx: Tx, limit: int = 20) -> tuple[int, list[str]]:
    """Orders whose kept sums differ from the sums over their lines: how many, the first IDs.

    Reads every order and line (for ``putback central doctor``, not for a request); 0 always,
    unless something wrote lines without :func:`keep_sums` or :func:`order_sums`. An order
    with no row of progress, or with one at another facility, counts as astray too.
    """
    rows = tx.all(
        "SELECT o.order_id FROM orders o LEFT JOIN order_progress p "
        "ON p.facility = o.facility AND p.order_id = o.order_id LEFT JOIN (SELECT l.order_id, "
        f"SUM({_TO_PUT_BACK}) AS to_put_back, SUM({_RESERVED}) AS reserved "
        "FROM order_lines l GROUP BY l.order_id) s ON s.order_id = o.order_id "
        "WHERE p.order_id IS NULL OR p.units_to_put_back != COALESCE(s.to_put_back, 0) "
        "OR p.units_reserved != COALESCE(s.reserved, 0) ORDER BY o.order_id"
    )
    return len(rows), [str(r[0]) for r in rows[:limit]]


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
    """The waiting orders by ID, with units per SKU: the detail's alone (``by_sku``)."""
    clocks: list[tuple[str, datetime, datetime | None]] = field(default_factory=list)
    """Each waiting order's kind, since and first action: the detail's alone (``by_sku``)."""
    orders: int = 0
    """Waiting orders."""
    units: int = 0
    """Units to put back over the waiting orders."""
    oldest: datetime | None = None
    states: tuple[int, int] = (0, 0)
    """Waiting orders overdue, and due soon."""
    reserved: int = 0
    flow: dict[str, list[int]] = field(default_factory=dict)
    medians: tuple[list[float], list[float]] = field(default_factory=lambda: ([], []))
    reasons: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    refused: int = 0
    terminals: list[TerminalContact] = field(default_factory=list)


def _ts(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


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


def _states_sql(sla: SlaSettings, now: datetime) -> tuple[str, str, list[str]]:
    """SQL counting a waiting order as overdue, and as overdue or due soon, with parameters.

    Each compares the order's ``since`` (its stored text, which sorts as its time; none:
    ``now``) with the latest ``since`` of its kind at which it is so
    (:func:`~putback_tui.domain.sla.state_bounds`, the SLA rule itself, asked per kind with
    and without a first response): the database counts every facility's orders, none of them
    travels.
    """
    since = "COALESCE(o.status_changed_at, ?)"
    cases, params = [], []
    for level in (0, 1):
        sql, args = "CASE WHEN o.first_action_at IS NULL THEN CASE o.status", [iso_utc(now)]
        for answered in (False, True):
            if answered:
                sql += " END ELSE CASE o.status"
            for kind in EXCEPTION_KINDS:
                bound = state_bounds(sla, kind, now, first_response=answered)[level]
                # No time is so (not with these settings): an empty text, before every time.
                sql += " WHEN ? THEN ?"
                args += [kind, iso_utc(bound) if bound else ""]
        cases.append(
            f"SUM(CASE WHEN p.units_to_put_back > 0 AND {since} <= {sql} END END "
            "THEN 1 ELSE 0 END)"
        )
        params += args
    return cases[0], cases[1], params


def _read(
    tx: Tx,
    facilities: Sequence[str],
    now: datetime,
    sla: SlaSettings,
    *,
    by_sku: bool = False,
) -> dict[str, _Figures]:
    """Every figure of ``facilities`` but the scores, in the caller's snapshot.

    ``by_sku``: read each waiting order with its units per SKU (the detail ranks them; the
    SLA states are then counted by the caller); otherwise the waiting orders are counted,
    summed and judged against their SLA in the database, from the sums kept on each order.
    """
    out = {f: _Figures() for f in facilities}
    if not facilities:
        return out
    fac = _marks(len(facilities))
    # The unreconciled exception orders: the backlog itself.
    if by_sku:
        _waiting_by_sku(tx, out, facilities, now)
        for f in out.values():
            f.orders = len(f.waiting)
            f.units = sum(sum(w.units.values()) for w in f.waiting.values())
            f.clocks = [(w.kind, w.since, w.first_action) for w in f.waiting.values()]
            f.oldest = min((c[1] for c in f.clocks), default=None)
    else:
        # The waiting orders through their covering index, each with the sums it keeps
        # (order_sums, keep_sums) read by key in order_progress, never their lines; one row
        # per facility.
        overdue, at_least_soon, params = _states_sql(sla, now)
        for facility, reserved, orders, units, oldest, late, soon in tx.all(
            "SELECT o.facility, SUM(p.units_reserved), "
            "SUM(CASE WHEN p.units_to_put_back > 0 THEN 1 ELSE 0 END), "
            "SUM(p.units_to_put_back), "
            "MIN(CASE WHEN p.units_to_put_back > 0 THEN COALESCE(o.status_changed_at, ?) END), "
            f"{overdue}, {at_least_soon} "
            "FROM orders o JOIN order_progress p "
            "ON p.facility = o.facility AND p.order_id = o.order_id "
            f"WHERE o.facility IN ({fac}) AND {_WAITING} GROUP BY o.facility",
            (iso_utc(now), *params, *facilities),
        ):
            f = out[facility]
            f.reserved, f.orders, f.units = int(reserved), int(orders), int(units)
            f.oldest = _ts(oldest)
            f.states = (int(late), int(soon) - int(late))
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
    return count_states_by(sla, {facility: f.clocks for facility, f in figures.items()}, now)


def _flow(
    f: _Figures,
    hours: Sequence[tuple[datetime, str]],
    items: dict[tuple[str, int, int], HourFlow],
) -> tuple[HourFlow, ...]:
    """A facility's incoming and cleared per hour, oldest first.

    Items are frozen, so facilities with the same figures in an hour share its item (``items``,
    one answer's): the network's 2,400 hours are a few hundred distinct items, and building
    each costs about as much as the rest of the facility's summary.
    """
    out = []
    for h, text in hours:
        n = f.flow.get(text)
        key = (text, n[0], n[1]) if n else (text, 0, 0)
        item = items.get(key)
        if item is None:
            item = items[key] = HourFlow.model_construct(
                hour=h, incoming=key[1], cleared=key[2]
            )
        out.append(item)
    return tuple(out)


def _summary(
    facility: str,
    f: _Figures,
    states: tuple[int, int],
    now: datetime,
    hours: Sequence[tuple[datetime, str]],
    items: dict[tuple[str, int, int], HourFlow],
) -> FacilityBacklog:
    overdue, due_soon = states
    reasons = sorted(f.reasons.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
    # Built from the central store's own rows: nothing to validate (model_construct).
    return FacilityBacklog.model_construct(
        facility=facility,
        waiting_orders=f.orders,
        units_to_put_back=f.units,
        units_reserved_on_exceptions=f.reserved,
        overdue=overdue,
        due_soon=due_soon,
        oldest_since=f.oldest,
        first_response_median_minutes=median_p90(f.medians[0])[0],
        cycle_median_minutes=median_p90(f.medians[1])[0],
        flow=_flow(f, hours, items),
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
        figures = _read(tx, names, now, sla)
    hours = _hours(now)
    items: dict[tuple[str, int, int], HourFlow] = {}
    return Backlog.model_construct(
        as_of=now,
        facilities=tuple(
            _summary(f, figures[f], figures[f].states, now, hours, items) for f in names
        ),
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
        f = _read(tx, [facility], now, sla, by_sku=True)[facility]
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
        backlog=_summary(
            facility, f, _states({facility: f}, sla, now)[facility], now, _hours(now), {}
        ),
        orders=tuple(orders),
        refused=tuple(
            RefusedEntry(
                entry_id=r[0], terminal=r[1], kind=r[2], order_id=r[3], reason=r[4],
                received_at=datetime.fromisoformat(r[5]),
            )
            for r in refused
        ),
    )
