"""A terminal's batch judged and applied in memory: the plan the central store then writes.

:class:`BatchState` is what the central store loaded for a batch (orders with their lines,
products, locations, operators, roles, stock, the entries the batch refers to), scoped to the
terminal's facility. :func:`plan_batch` takes the entries in sequence order and, for each,
either answers it without applying anything (a duplicate, a sequence number used already or
missing) or judges it with :func:`putback_tui.domain.derive.derive` and applies what the rules
derive to the state. Nothing here touches a database: a test can drive it over plain dicts, and
the central store reads the :class:`Plan` back to write each changed row once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Literal

from putback_tui.central.backlog import entry_notes, first_action_due, order_sums
from putback_tui.domain.derive import DerivationState, Limits, apply_stock_changes, derive
from putback_tui.domain.entries import (
    LINE_EDIT_KINDS,
    STATUS_KINDS,
    UNDOABLE_KINDS,
    Entry,
    EntryDetails,
    EntryDraft,
    EntryKind,
)
from putback_tui.domain.errors import Refused
from putback_tui.domain.models import (
    LineChange,
    Location,
    Operator,
    Order,
    Permission,
    Product,
    StockChange,
    apply_line_changes,
    iso_utc,
    replaced,
)
from putback_tui.domain.reasons import DEFAULT_REASONS, SiteReasons
from putback_tui.wire import EntryResult, Outcome, ResultCode

NO_EFFECTS = '{"changes":[],"line_changes":[]}'
"""The stored effects of an applied entry that changed nothing (a release already made)."""


def nothing_left_note(order_id: str | None) -> str:
    """The answer's reason for a release whose order had nothing left to release."""
    return f"Order {order_id} had nothing left to release: already released."


class Stock:
    """A facility's QOH by (sku, location) and ATP by sku, as a :class:`StockView`."""

    def __init__(self, qoh: dict[tuple[str, str], int], atp: dict[str, int]) -> None:
        self.qoh_rows = qoh
        self.atp_rows = atp
        self._by_sku: dict[str, set[str]] = {}
        for sku, location in qoh:
            self._by_sku.setdefault(sku, set()).add(location)
        self.touched_qoh: set[tuple[str, str]] = set()
        self.touched_atp: set[str] = set()

    def qoh(self, sku: str, location: str) -> int:
        """QOH of (sku, location); 0 when no row exists."""
        return self.qoh_rows.get((sku, location), 0)

    def atp(self, sku: str) -> int:
        """ATP of sku; 0 when no row exists."""
        return self.atp_rows.get(sku, 0)

    def qoh_by_location(self, sku: str) -> Mapping[str, int]:
        """Every location holding a row of ``sku``, with its QOH."""
        return {loc: self.qoh_rows[(sku, loc)] for loc in self._by_sku.get(sku, ())}

    def apply(self, changes: Sequence[StockChange]) -> None:
        """Apply derived changes (stopping at zero) and note which rows changed."""
        apply_stock_changes(self.qoh_rows, self.atp_rows, changes)
        for change in changes:
            if change.location is not None:
                self.touched_qoh.add((change.sku, change.location))
                self._by_sku.setdefault(change.sku, set()).add(change.location)
            else:
                self.touched_atp.add(change.sku)


@dataclass
class BatchState(DerivationState):
    """What a batch may read and change, for one facility (see the module)."""

    facility: str
    stock: Stock
    orders: dict[str, Order]
    reconciled: dict[str, tuple[str, str, str] | None]
    """Per loaded order: (at, operator, terminal) of the entry that reconciled it, or None."""
    first_response: dict[str, tuple[str, str | None, str | None]]
    """Per loaded order, as stored before the batch: status, status_changed_at and
    first_action_at (see :func:`first_actions_due`)."""
    products: dict[str, Product]
    locations: dict[str, Location]
    operators: dict[str, Operator]
    role_map: Mapping[str, Set[Permission]]
    site_reasons: SiteReasons = DEFAULT_REASONS
    """The reason lists the central store holds (a reject reason's effect is read here)."""
    applied_refs: dict[str, Entry] = field(default_factory=dict)
    """Applied entries the batch may undo, with the effects that were applied for them."""
    applied_in_batch: dict[str, tuple[Entry, EntryDraft]] = field(default_factory=dict)
    """Undoable entries applied earlier in this batch, with their drafts: see applied()."""
    refused_refs: dict[str, Entry] = field(default_factory=dict)
    undone_ids: set[str] = field(default_factory=set)
    resolved_ids: set[str] = field(default_factory=set)
    changed_lines: set[tuple[str, int]] = field(default_factory=set)
    status_changes: dict[str, tuple[str, str]] = field(default_factory=dict)
    reconciled_changed: set[str] = field(default_factory=set)

    # -- DerivationState -------------------------------------------------------------------

    def order(self, order_id: str) -> Order | None:
        """The order, if it is this facility's."""
        order = self.orders.get(order_id)
        return order if order is not None and order.facility == self.facility else None

    def product(self, sku: str) -> Product | None:
        """The product."""
        return self.products.get(sku)

    def location(self, code: str) -> Location | None:
        """The location, if it is this facility's."""
        location = self.locations.get(code)
        return location if location is not None and location.facility == self.facility else None

    def operator(self, badge: str) -> Operator | None:
        """The operator, if active and allowed at this facility."""
        operator = self.operators.get(badge)
        return operator if operator is not None and operator.works_at(self.facility) else None

    def roles(self) -> Mapping[str, Set[Permission]]:
        """The role -> permissions map the central store holds."""
        return self.role_map

    def reasons(self) -> SiteReasons:
        """The reason lists the central store holds."""
        return self.site_reasons

    def applied(self, entry_id: str) -> Entry | None:
        """An applied entry of this facility, with its applied effects."""
        found = self.applied_refs.get(entry_id)
        if found is None and entry_id in self.applied_in_batch:
            found = self.applied_refs[entry_id] = _as_applied(*self.applied_in_batch[entry_id])
        return found

    def undone(self, entry_id: str) -> bool:
        """True when an applied undo compensates it."""
        return entry_id in self.undone_ids

    def refused(self, entry_id: str) -> Entry | None:
        """A refused entry of this facility, as sent."""
        return self.refused_refs.get(entry_id)

    def resolved(self, entry_id: str) -> bool:
        """True when an applied resolve resolves it."""
        return entry_id in self.resolved_ids

    # -- applying --------------------------------------------------------------------------

    def apply(self, entry: Entry, draft: EntryDraft) -> None:
        """Apply a derived draft of ``entry``: stock, line progress, status, reconciled."""
        self.stock.apply(draft.changes)
        by_order: dict[str, list[LineChange]] = {}
        for change in draft.line_changes:
            by_order.setdefault(change.order_id, []).append(change)
            self.changed_lines.add((change.order_id, change.line_no))
        for order_id, changes in by_order.items():
            self.orders[order_id] = apply_line_changes(self.orders[order_id], changes)
        status = draft.details.order_status if draft.kind in STATUS_KINDS else None
        if status is not None and draft.order_id is not None:
            at = iso_utc(entry.created_at)
            self.status_changes[draft.order_id] = (status.value, at)
            self.orders[draft.order_id] = replaced(
                self.orders[draft.order_id], status=status, status_changed_at=entry.created_at
            )
        touched = set(by_order)
        if draft.order_id is not None:
            touched.add(draft.order_id)
        for order_id in touched:
            self._note_reconciled(order_id, entry)
        if draft.kind in UNDOABLE_KINDS:
            # Built only if an undo in this batch asks for it (see applied()).
            self.applied_in_batch[entry.entry_id] = (entry, draft)
        elif draft.kind is EntryKind.UNDO and draft.details.undoes is not None:
            self.undone_ids.add(draft.details.undoes)
        elif draft.kind is EntryKind.RESOLVE and draft.details.resolves is not None:
            self.resolved_ids.add(draft.details.resolves)

    def _note_reconciled(self, order_id: str, entry: Entry) -> None:
        order = self.orders.get(order_id)
        if order is None:
            return
        was = self.reconciled.get(order_id)
        if order.cleared and was is None:
            self.reconciled[order_id] = (iso_utc(entry.created_at), entry.operator, entry.terminal)
            self.reconciled_changed.add(order_id)
        elif not order.cleared and was is not None:
            self.reconciled[order_id] = None
            self.reconciled_changed.add(order_id)


def _as_applied(entry: Entry, draft: EntryDraft) -> Entry:
    return replaced(
        entry, details=draft.details, changes=draft.changes, line_changes=draft.line_changes
    )


def effects_json(draft: EntryDraft) -> str:
    """What is stored as an entry's applied effects when they differ from what it carried.

    A line edit's derived details (line, old and new quantity, reason) are stored too: the
    event feed tells an OMS what the central store derived, not what a terminal claimed.
    """
    effects: dict[str, object] = {
        "changes": [c.model_dump(mode="json") for c in draft.changes],
        "line_changes": [c.model_dump(mode="json") for c in draft.line_changes],
    }
    if draft.kind in LINE_EDIT_KINDS:
        effects["details"] = draft.details.model_dump(mode="json", exclude_defaults=True)
    return json.dumps(effects, separators=(",", ":"))


def same_effects(entry: Entry, draft: EntryDraft) -> bool:
    """True when ``draft`` derives exactly what ``entry`` carries (a line edit: its details too)."""
    return (
        draft.changes == entry.changes
        and draft.line_changes == entry.line_changes
        and (entry.kind not in LINE_EDIT_KINDS or draft.details == entry.details)
    )


def with_effects(entry: Entry, effects: str | None) -> Entry:
    """``entry`` with the effects the central store applied for it (``effects`` None: as sent)."""
    if effects is None:
        return entry
    applied = json.loads(effects)
    return entry.model_copy(
        update={
            "changes": tuple(StockChange.model_validate(c) for c in applied["changes"]),
            "line_changes": tuple(LineChange.model_validate(c) for c in applied["line_changes"]),
            "details": EntryDetails.model_validate(applied["details"])
            if "details" in applied
            else entry.details,
        }
    )


@dataclass(frozen=True)
class Recorded:
    """One entry row to write."""

    entry: Entry
    outcome: str
    reason: str | None
    body: str
    effects: str | None
    ref: str | None


@dataclass
class Plan:
    """What a batch comes to: the answers, and what to record."""

    results: list[EntryResult]
    recorded: list[Recorded]
    last_seq: int


EntryRow = tuple[str, str, str, int, str, str | None, str, str | None, str, str | None, str | None]
"""An entry row to insert: entry ID, terminal, facility, seq, kind, order ID, outcome, reason,
body, effects, ref (the central store adds its revision and the time received)."""


ENTRY_COLUMNS = (
    "position bigint", "entry_id text", "terminal text", "facility text", "seq bigint",
    "kind text", "order_id text", "outcome text", "reason text", "received_at text",
    "body text", "effects text", "ref text",
)
"""The columns of an entry's row as the central store writes them (``Tx.insert_rows``): by
ingest (``storage._write``) and by the central store's own releases."""


@dataclass
class Writes:
    """Every row a planned batch writes, in the order written: what ingest hands the database.

    Both ways of planning a batch (:func:`writes_of` over a :class:`Plan`, and the hot path's
    ``central.hot.plan``) come to this, so a test can hold them to the same rows.
    """

    last_seq: int
    entries: list[EntryRow] = field(default_factory=list)
    lines: list[tuple[int, int, int, int, str, int]] = field(default_factory=list)
    """Changed lines: released, rejected, put_back, withdrawn, order ID, line no (key order)."""
    orders: list[str] = field(default_factory=list)
    """Orders whose lines or status changed (a new revision each), sorted."""
    sums: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Order ID (each of ``orders``) -> its units to put back and units reserved after the
    batch: the sums ``orders`` keeps over its lines (``backlog.order_sums``, migration 10)."""
    statuses: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Order ID -> (status, changed at)."""
    reconciled: dict[str, tuple[str, str, str] | None] = field(default_factory=dict)
    """Order ID -> (at, operator, terminal) of the entry that reconciled it, or None."""
    first_actions: dict[str, str] = field(default_factory=dict)
    """Order ID (an order of the batch's facility) -> the earliest operator entry's time on it
    in the batch (``backlog.entry_notes``), for the orders whose first action it sets
    (:func:`first_actions_due`)."""
    reason_counts: dict[tuple[str, str, str, str], list[int]] = field(default_factory=dict)
    """(facility, day, kind, reason) -> [entries, units] (``backlog.entry_notes``)."""
    qoh: list[tuple[str, str, int]] = field(default_factory=list)
    """Changed QOH rows: sku, location, QOH, in key order."""
    atp: list[tuple[str, int]] = field(default_factory=list)
    """Changed ATP rows: sku, ATP, in key order."""


def first_actions_due(
    first: Mapping[str, str],
    stored: Mapping[str, tuple[str, str | None, str | None]],
    statuses: Mapping[str, tuple[str, str]],
) -> dict[str, str]:
    """Of a batch's first operator entries per order (``first``), those that set the order's.

    ``stored``: each order of the facility the batch loaded, with its status, status time and
    first action as read in the writing transaction (nothing else writes them meanwhile: the
    facility's writers take turns); ``statuses``: the statuses the batch sets, with their
    times (written before the first actions). The rule is :func:`backlog.first_action_due`:
    most orders of a batch have their first action already, and cost no update then.
    """
    due: dict[str, str] = {}
    for order_id, at in first.items():
        row = stored.get(order_id)
        if row is None:
            continue  # not an order of the batch's facility
        status, changed, first_at = row
        if order_id in statuses:
            status, changed = statuses[order_id]
        if first_action_due(status, changed, first_at, at):
            due[order_id] = at
    return due


def writes_of(plan: Plan, state: BatchState) -> Writes:
    """The rows ``plan`` writes, read from the state it changed."""
    changed = sorted(state.changed_lines)
    stock = state.stock
    first, counts = entry_notes([(r.entry, r.outcome) for r in plan.recorded])
    # An order's first response is its own facility's: an entry naming another facility's
    # order (refused: it reads as unknown) must not set it there. The state holds the
    # facility's orders alone.
    first = first_actions_due(first, state.first_response, state.status_changes)
    return Writes(
        last_seq=plan.last_seq,
        entries=[
            (r.entry.entry_id, r.entry.terminal, r.entry.facility, r.entry.seq,
             r.entry.kind.value, r.entry.order_id, r.outcome, r.reason, r.body, r.effects, r.ref)
            for r in plan.recorded
        ],
        lines=[
            (line.released, line.rejected, line.put_back, line.withdrawn, order_id, line_no)
            for order_id, line_no in changed
            for line in (state.orders[order_id].line(line_no),)
        ],
        orders=(orders := sorted({k[0] for k in changed} | set(state.status_changes))),
        sums={oid: order_sums(state.orders[oid]) for oid in orders},
        statuses=dict(state.status_changes),
        reconciled={oid: state.reconciled[oid] for oid in sorted(state.reconciled_changed)},
        first_actions=first,
        reason_counts=counts,
        qoh=[(sku, loc, stock.qoh(sku, loc)) for sku, loc in sorted(stock.touched_qoh)],
        atp=[(sku, stock.atp(sku)) for sku in sorted(stock.touched_atp)],
    )


def plan_batch(
    client: str,
    entries: Sequence[Entry],
    bodies: Sequence[str],
    *,
    last_seq: int,
    existing: Mapping[str, tuple[str, str, str | None]],
    state: BatchState,
    limits: Limits,
) -> Plan:
    """Answer and apply a terminal's batch in sequence order (see the module).

    Args:
        client: the terminal's name.
        entries: the batch, in strictly increasing sequence order, each the client's own.
        bodies: each entry's JSON as received.
        last_seq: the highest sequence number of the client recorded before this batch.
        existing: entries already recorded with these IDs: (terminal, outcome, reason).
        state: what the batch reads and changes (changed in place).
        limits: the caps every figure is held to.
    """
    seen = dict(existing)
    results: list[EntryResult] = []
    recorded: list[Recorded] = []
    missing: str | None = None
    for e, body in zip(entries, bodies, strict=True):
        earlier = seen.get(e.entry_id)
        if earlier is not None:
            results.append(_duplicate(e, client, *earlier))
            continue
        if missing is not None:
            results.append(_not_recorded(e, missing, ResultCode.SEQ_MISSING, retryable=True))
            continue
        if e.seq <= last_seq:
            # The terminal re-used a sequence number for a new entry (a re-initialised ledger):
            # it cannot be placed in the terminal's order any more.
            results.append(
                _not_recorded(
                    e,
                    f"sequence number {e.seq} of {client} was already used by another entry: "
                    "this entry was not recorded (was the terminal's ledger set up again?)",
                    ResultCode.SEQ_REUSED,
                )
            )
            continue
        if e.seq != last_seq + 1:
            missing = (
                f"missing seq {last_seq + 1} of {client}: entries are applied in order; "
                "send the missing ones first"
            )
            results.append(_not_recorded(e, missing, ResultCode.SEQ_MISSING, retryable=True))
            continue
        ref = e.details.undoes or e.details.resolves
        try:
            draft = derive(e, state, limits)
        except Refused as refused:
            reason = refused.message
            results.append(
                _result(e, Outcome.REFUSED, ResultCode.REFUSED, "refused", reason=reason)
            )
            recorded.append(Recorded(e, "refused", reason, body, None, ref))
            state.refused_refs[e.entry_id] = e
            seen[e.entry_id] = (client, "refused", reason)
        else:
            if draft is None:
                note = nothing_left_note(e.order_id)
                results.append(
                    _result(e, Outcome.APPLIED, ResultCode.ALREADY_RELEASED, "applied",
                            reason=note, changes=(), line_changes=())
                )
                effects = None if not (e.changes or e.line_changes) else NO_EFFECTS
                recorded.append(Recorded(e, "applied", None, body, effects, ref))
            else:
                state.apply(e, draft)
                if same_effects(e, draft):
                    results.append(_result(e, Outcome.APPLIED, ResultCode.APPLIED, "applied"))
                    effects = None
                else:
                    results.append(
                        _result(e, Outcome.APPLIED, ResultCode.APPLIED_AS_DERIVED, "applied",
                                changes=draft.changes, line_changes=draft.line_changes)
                    )
                    effects = effects_json(draft)
                recorded.append(Recorded(e, "applied", None, body, effects, ref))
            seen[e.entry_id] = (client, "applied", None)
        last_seq = e.seq
    return Plan(results, recorded, last_seq)


def _result(
    entry: Entry,
    outcome: Outcome,
    code: ResultCode,
    recorded_as: Literal["applied", "refused"] | None,
    **answer: Any,
) -> EntryResult:
    """The answer for one entry: what became of it, and what was recorded (None: nothing)."""
    return EntryResult(
        entry_id=entry.entry_id,
        seq=entry.seq,
        outcome=outcome,
        code=code,
        recorded_as=recorded_as,
        **answer,
    )


def _not_recorded(
    entry: Entry, reason: str, code: ResultCode, *, retryable: bool = False
) -> EntryResult:
    return _result(entry, Outcome.REFUSED, code, None, reason=reason, retryable=retryable)


def _duplicate(
    entry: Entry, client: str, terminal: str, outcome: str, reason: str | None
) -> EntryResult:
    if terminal != client:
        # Said in the same words whoever holds the ID: it tells nothing of another terminal.
        return _not_recorded(
            entry,
            f"entry ID {entry.entry_id} is already taken by another entry: this entry was not "
            "recorded (entry IDs are made new for every entry)",
            ResultCode.ENTRY_ID_TAKEN,
        )
    recorded_as: Literal["applied", "refused"] = "refused" if outcome == "refused" else "applied"
    return _result(entry, Outcome.DUPLICATE, ResultCode.DUPLICATE, recorded_as, reason=reason)


def state_entries(rows: Iterable[tuple[str, str, str, str | None]], facility: str) -> tuple[
    dict[str, Entry], dict[str, Entry]
]:
    """Referenced entries from rows of (facility, outcome, body, effects): applied, refused.

    Entries of another facility are left out: to the batch they do not exist.
    """
    applied: dict[str, Entry] = {}
    refused: dict[str, Entry] = {}
    for row_facility, outcome, body, effects in rows:
        if row_facility != facility:
            continue
        entry = Entry.model_validate_json(body)
        if outcome == "applied":
            applied[entry.entry_id] = with_effects(entry, effects)
        else:
            refused[entry.entry_id] = entry
    return applied, refused

