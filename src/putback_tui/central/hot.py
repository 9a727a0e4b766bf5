"""The ingest hot path: a batch of put-backs and releases read and judged over plain data.

Most batches a central store receives are a terminal's put-backs and the releases of the orders
it opened, every one of them allowed (a release most often finds the order released by the
central store already: applied, changing nothing). For such a batch, validating each entry into
the domain's pydantic models, building the rule's draft (about twenty models an entry) and
comparing it with what the terminal claimed cost about three times the database work. This
module does the same for that one common case with no models at all:

* :func:`decode` reads the entries of a batch with msgspec's compiled validator into structs
  that mirror :class:`~putback_tui.domain.entries.Entry` field for field, with every bound of
  :mod:`putback_tui.domain.bounds`. It reads a strict **subset** of what the pydantic models
  accept: where the two libraries could read a value differently (timestamps, lax numbers such
  as ``1.0`` or ``"1"`` for an int, ``"yes"`` for a bool) the value must have the one plain
  shape both read alike, or the batch is left to pydantic.
* :func:`admissible` is the batch endpoint's own checks (the caller's entries, seq order, the
  site's limits) over the structs: True only when the endpoint would raise nothing.
* :func:`plan` judges the batch against plain rows (:class:`HotState`) and returns what to
  write, exactly as :func:`putback_tui.central.ingest.plan_batch` and
  :func:`putback_tui.central.ingest.writes_of` would, or None.

Every step answers None ("not for the hot path") for anything else: another kind of entry, a
duplicate, a gap in the sequence, an entry the rules would refuse, effects that differ from what
the terminal claimed, a value the decoder does not read. The caller then takes the ordinary
path (pydantic, :func:`~putback_tui.domain.derive.derive`), which words every answer, refusal
and 422 error as it always did. So the hot path only ever has to know when the ordinary path
would *apply every entry* (as sent, or a release with nothing left to release), and what that
writes: ``tests/central/test_hot_path.py`` holds it to the ordinary path over generated
reference data and batches (same answers, same rows written), and to pydantic's reading of
every value it decodes.
"""

# No "from __future__ import annotations": msgspec reads the structs' annotations at runtime.

import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct
from pydantic_core import to_json

from putback_tui.central.backlog import first_action_due
from putback_tui.central.ingest import NO_EFFECTS, Writes, nothing_left_note
from putback_tui.central.limits import QUANTITY_KINDS, CentralLimits
from putback_tui.domain.bounds import (
    EARLIEST,
    LATEST,
    MAX_CODE,
    MAX_FIGURE,
    MAX_LINE_NO,
    MAX_QUANTITY,
    MAX_SEQ,
    MAX_TEXT,
)
from putback_tui.domain.derive import Limits
from putback_tui.domain.entries import SYSTEM_OPERATOR, EntryKind
from putback_tui.domain.errors import Refused
from putback_tui.domain.models import (
    EXCEPTION_STATUSES,
    Operator,
    OrderStatus,
    Permission,
    RejectReason,
    iso_utc,
)
from putback_tui.domain.permissions import check_permission

_Figure = Annotated[int, Meta(ge=0, le=MAX_FIGURE)]
_Delta = Annotated[int, Meta(ge=-MAX_FIGURE, le=MAX_FIGURE)]
_LineNo = Annotated[int, Meta(ge=0, le=MAX_LINE_NO)]
_Seq = Annotated[int, Meta(ge=1, le=MAX_SEQ)]
# bounds.CODE_PATTERN and TEXT_PATTERN anchored with \A and \Z: msgspec runs Python's re, where
# "$" would also match before a final newline (pydantic's regex engine does not).
_Code = Annotated[str, Meta(max_length=MAX_CODE, pattern=r"\A[^\x00-\x1f\x7f-\x9f]*\Z")]
_Text = Annotated[str, Meta(max_length=MAX_TEXT, pattern=r"\A[^\x00-\x08\x0b-\x1f\x7f-\x9f]*\Z")]
# Entry IDs in a shape the answer can carry without escaping anything (a UUID's text); any
# other valid ID goes the ordinary way. (Read with the lengths alone, an ID is plain ASCII with
# no quote, backslash or control character: nothing to escape either.)
_EntryId = Annotated[str, Meta(pattern=r"\A[0-9A-Za-z-]{36}\Z")]
# One shape of timestamp, which pydantic and datetime.fromisoformat read alike: date, "T",
# time to the second with up to six decimals, and "Z" or an offset. Digits are ASCII ([0-9]):
# Python's \d also matches other scripts' digits (U+FF12, a fullwidth 2), which
# datetime.fromisoformat refuses.
_TIMESTAMP = re.compile(
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)


def _structs(code: Any, text: Any, id_type: Any) -> tuple[type[Any], ...]:
    """The structs of an entry whose strings are of the types given (see :func:`decode`).

    ``gc=False``: they hold only strings, numbers, enums and one another, never a cycle, so the
    garbage collector need not track them (5 of the 7 objects an entry's decoding allocated
    were tracked, each one counting towards the next collection).
    """

    class HotStockChange(Struct, forbid_unknown_fields=True, frozen=True, gc=False):
        """A :class:`~putback_tui.domain.models.StockChange` as sent."""

        sku: code
        location: code | None = None
        qoh: _Delta = 0
        atp: _Delta = 0

    class HotLineChange(Struct, forbid_unknown_fields=True, frozen=True, gc=False):
        """A :class:`~putback_tui.domain.models.LineChange` as sent."""

        order_id: code
        line_no: _LineNo
        released: _Delta = 0
        rejected: _Delta = 0
        put_back: _Delta = 0
        withdrawn: _Delta = 0

    class HotDetails(Struct, forbid_unknown_fields=True, frozen=True, gc=False):
        """:class:`~putback_tui.domain.entries.EntryDetails` as sent."""

        sku: code | None = None
        quantity: _Figure | None = None
        location: code | None = None
        from_location: code | None = None
        lot: code | None = None
        reason: RejectReason | None = None
        reroute: bool = False
        order_status: OrderStatus | None = None
        undoes: code | None = None
        permission: code | None = None
        message: text | None = None
        resolves: code | None = None
        note: text | None = None
        line_no: _LineNo | None = None
        from_quantity: _Figure | None = None
        reason_code: code | None = None

    no_details = HotDetails()

    class HotEntry(Struct, forbid_unknown_fields=True, frozen=True, gc=False):
        """An :class:`~putback_tui.domain.entries.Entry` as sent (``created_at`` still text)."""

        kind: EntryKind
        entry_id: id_type
        seq: _Seq
        terminal: code
        facility: code
        operator: code
        created_at: str
        order_id: code | None = None
        details: HotDetails = no_details
        changes: tuple[HotStockChange, ...] = ()
        line_changes: tuple[HotLineChange, ...] = ()

    return HotEntry, HotDetails, HotStockChange, HotLineChange


HotEntry, HotDetails, HotStockChange, HotLineChange = _structs(_Code, _Text, _EntryId)
"""The entry's structs, every bound of the models checked."""
_decode_checked = msgspec.json.Decoder(HotEntry).decode
# The same with the lengths alone, for an entry whose JSON cannot hold a control character:
# pure ASCII (nothing from U+0080 on), no escape (a backslash) and no DEL; JSON has none below
# U+0020 unescaped (msgspec refuses them raw). A pattern costs more than the rest of the
# decoding (about 5 us an entry against 1.5); those three scans cost next to nothing.
_decode_plain = msgspec.json.Decoder(
    _structs(
        Annotated[str, Meta(max_length=MAX_CODE)],
        Annotated[str, Meta(max_length=MAX_TEXT)],
        Annotated[str, Meta(min_length=36, max_length=36)],
    )[0]
).decode


@dataclass(frozen=True)
class HotBatch:
    """A batch's entries as read by :func:`decode`, each with its time and its JSON text."""

    entries: tuple[Any, ...]
    """:data:`HotEntry` structs (or their twins read with the lengths alone)."""
    created: tuple[datetime, ...]
    bodies: tuple[str, ...]


def decode(bodies: Sequence[str]) -> HotBatch | None:
    """The entries whose JSON texts are ``bodies``, or None: leave them to pydantic.

    ``bodies`` are the pieces :func:`putback_tui.central.app.split_batch` cut a batch into.
    Each piece is read as one whole entry (as pydantic reads it), so the cut is proved right
    here as it is there.
    """
    try:
        entries = tuple(
            (_decode_plain if b.isascii() and "\\" not in b and "\x7f" not in b
             else _decode_checked)(b)
            for b in bodies
        )
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeEncodeError):
        # UnicodeEncodeError: a lone surrogate in the text (msgspec reads UTF-8). A body read
        # from HTTP holds none (it was decoded from UTF-8), but pydantic judges it if one does.
        return None
    created = []
    for e in entries:
        if _TIMESTAMP.fullmatch(e.created_at) is None:
            return None
        try:
            at = datetime.fromisoformat(e.created_at)
        except ValueError:
            return None  # a day the month does not have (the shape allows 2026-02-31)
        if not EARLIEST <= at < LATEST:
            return None
        for c in e.changes:
            # StockChange's own rule: QOH at a location, or ATP, never both.
            if (c.location is not None and c.atp) or (c.location is None and c.qoh):
                return None
        created.append(at)
    return HotBatch(entries, tuple(created), tuple(bodies))


def admissible(
    batch: HotBatch, terminal: str, facility: str | None, limits: CentralLimits, now: datetime
) -> bool:
    """True when the endpoint's checks would raise nothing, on a batch of put-backs and releases.

    The endpoint's checks are: every entry the caller's own, strictly increasing sequence
    numbers, every time within the site's window and every put-back's quantity within its cap
    (:meth:`CentralLimits.entry_errors`).
    """
    if len({e.entry_id for e in batch.entries}) != len(batch.entries):
        return False  # an entry sent twice in one batch: the second is a duplicate
    previous = 0
    earliest, latest = limits.window(now)  # once, not per entry (limits.time_error's)
    for e, at in zip(batch.entries, batch.created, strict=True):
        kind = e.kind
        if kind is not EntryKind.PUT_BACK and kind is not EntryKind.RELEASE:
            return False
        if e.terminal != terminal or e.facility != facility or e.seq <= previous:
            return False
        if not earliest <= at <= latest:
            return False
        # The cap holds the units of a kind that acts on some (a put-back); a release's is a total.
        quantity = e.details.quantity
        if kind in QUANTITY_KINDS and quantity is not None and not (
            1 <= quantity <= limits.max_quantity
        ):
            return False
        previous = e.seq
    return True


# -- judging ---------------------------------------------------------------------------------

_LINE_SKU, _QUANTITY, _PICKED, _LOT, _RELEASED, _REJECTED, _PUT_BACK, _WITHDRAWN = range(8)
"""Fields of a line as :class:`HotState` holds it: a list, changed in place."""
_LIVE = frozenset({OrderStatus.OPEN.value, OrderStatus.IN_PROGRESS.value})
_EXCEPTION = frozenset(s.value for s in EXCEPTION_STATUSES)
_PUT_BACK_KINDS = frozenset({"storage", "exception"})
_RELEASE = EntryKind.RELEASE
# The kinds' stored text, read from the enum once (not per row).
_RELEASE_TEXT = EntryKind.RELEASE.value
_PUT_BACK_TEXT = EntryKind.PUT_BACK.value


@dataclass(slots=True)
class HotOrder:
    """An order of the facility as :func:`plan` reads and changes it."""

    status: str
    lines: dict[int, list[Any]]
    """Line number -> [sku, quantity, picked, lot, released, rejected, put_back, withdrawn]."""
    reconciled: tuple[str, str, str] | None
    """(at, operator, terminal) of the entry that reconciled it, or None."""
    first_response: tuple[str | None, str | None]
    """Its ``status_changed_at`` and ``first_action_at`` as stored (see :func:`plan`)."""


@dataclass
class HotState:
    """What a hot batch may read, as plain rows of the terminal's facility."""

    facility: str
    orders: dict[str, HotOrder]
    lot_tracked: dict[str, bool]
    """Per known product."""
    location_kinds: dict[str, str]
    """Per location of the facility."""
    operators: dict[str, Operator]
    roles: Mapping[str, Set[Permission]]
    qoh: dict[tuple[str, str], int]
    atp: dict[str, int]
    allowed: dict[str, bool] = field(default_factory=dict)

    def knows(self, badge: str) -> bool:
        """True when the operator is known here and active (``check_operator``'s first check)."""
        operator = self.operators.get(badge)
        return operator is not None and operator.works_at(self.facility)

    def may_put_back(self, badge: str) -> bool:
        """True when the operator is known here, active, and may put back (``check_operator``)."""
        ok = self.allowed.get(badge)
        if ok is None:
            ok = self.knows(badge)
            if ok:
                operator = self.operators[badge]
                try:
                    check_permission(operator, Permission.PUT_BACK, self.roles)
                except Refused:
                    ok = False
            self.allowed[badge] = ok
        return ok


def _unreleased(ln: list[Any]) -> int:
    """A plain line's unpicked units neither released nor rejected (below zero where more were).

    ``OrderLine.unpicked_open`` without its max(..., 0): what a release frees where above zero.
    """
    quantity: int = ln[_QUANTITY]
    picked: int = ln[_PICKED]
    taken: int = ln[_RELEASED] + ln[_REJECTED]
    return (quantity - picked if quantity > picked else 0) - taken


def holds_reserved(order: HotOrder) -> bool:
    """True when a line of ``order`` has unpicked units still reserved: a release frees some."""
    return any(_unreleased(ln) > 0 for ln in order.lines.values())


def _cleared(order: HotOrder) -> bool:
    """``Order.cleared`` over plain lines: an exception order with every unit accounted for."""
    if order.status not in _EXCEPTION or not order.lines:
        return False
    for ln in order.lines.values():
        if _unreleased(ln) > 0 or ln[_PICKED] > ln[_PUT_BACK]:
            return False
    return True


def _sums(order: HotOrder) -> tuple[int, int]:
    """``backlog.order_sums`` over plain lines: units to put back, units still reserved.

    Per line as ``OrderLine.to_put_back`` and ``OrderLine.unpicked_open`` say (the hot-path
    tests hold the two paths' rows equal, these sums among them).
    """
    to_put_back = reserved = 0
    for ln in order.lines.values():
        picked = ln[_PICKED]
        if picked > ln[_PUT_BACK]:
            to_put_back += picked - ln[_PUT_BACK]
        unreleased = _unreleased(ln)
        if unreleased > 0:
            reserved += unreleased
    return to_put_back, reserved


@dataclass(frozen=True)
class HotPlan:
    """What a hot batch comes to: the rows it writes, and how its entries are answered."""

    writes: Writes
    nothing_left: frozenset[str]
    """Entry IDs of releases whose order had nothing left to release: applied, changing
    nothing, and answered so (``already_released``); every other entry is applied as sent."""


def plan(
    batch: HotBatch, state: HotState, *, last_seq: int, limits: Limits
) -> HotPlan | None:
    """What the batch writes when the ordinary path would apply every entry; else None.

    The entries are put-backs and releases (:func:`admissible`), new (none recorded yet: the
    caller checked) and in order. Each one is judged as :func:`putback_tui.domain.derive.derive`
    judges it (``check_operator``, ``rules.put_back`` or ``rules.release``, ``check_limits``):
    any refusal it could give makes this None. Its derived effects must be exactly what the
    terminal claimed (otherwise the answer would carry them). A put-back's: QOH + q at the
    location, ATP + q for a storage location, and the line's put-back count + q. A release's:
    see :func:`_release`; a release of an order with nothing left is applied with no effect,
    as the ordinary path applies it (:attr:`HotPlan.nothing_left`).
    """
    qoh = state.qoh
    atp = state.atp
    orders = state.orders
    lot_tracked_of = state.lot_tracked
    kind_of = state.location_kinds
    allowed = state.allowed
    max_stock = limits.max_stock
    writes = Writes(last_seq=last_seq)
    add_entry = writes.entries.append
    seq = last_seq
    # Each order's earliest operator entry in the batch, as a time: written as text (iso_utc)
    # for the few orders whose first action it sets, not formatted for every entry.
    first_at: dict[str, tuple[datetime, str]] = {}
    # Each changed order's changed lines, by number; sorted once, after the loop: a batch
    # names about as many orders as it has entries, and its (order, line) keys sorted as
    # tuples cost more than the rest of the bookkeeping.
    changed: dict[str, list[int]] = {}
    touched_qoh: set[tuple[str, str]] = set()
    touched_atp: set[str] = set()
    nothing_left: set[str] = set()
    for e, at, body in zip(batch.entries, batch.created, batch.bodies, strict=True):
        if e.seq != seq + 1:
            return None
        d = e.details
        if d.undoes is not None or d.resolves is not None:
            return None  # the ordinary path keeps them as the entry's reference
        operator = e.operator
        order_id = e.order_id
        order = orders.get(order_id)  # None for an entry naming no order
        effects = None
        if e.kind is _RELEASE:
            kind = _RELEASE_TEXT
            if order is None:
                return None
            released = _release(e, order, state, atp, max_stock)
            if released is None:
                return None
            if released:
                noted = changed.setdefault(order_id, [])
                noted.extend(n for n in released if n not in noted)
                for c in e.changes:
                    touched_atp.add(c.sku)
                _note_reconciled(order, order_id, at, e, writes)
            else:
                nothing_left.add(e.entry_id)
                if e.changes or e.line_changes:
                    effects = NO_EFFECTS
        else:
            kind = _PUT_BACK_TEXT
            ok = allowed.get(operator)
            if not (state.may_put_back(operator) if ok is None else ok):
                return None
            line_changes = e.line_changes
            if order is None or len(line_changes) != 1:
                return None
            claimed = line_changes[0]
            sku = d.sku
            location = d.location
            quantity = d.quantity
            if (
                claimed.order_id != order_id
                or sku is None
                or location is None
                or quantity is None
                or not 1 <= quantity <= MAX_QUANTITY
            ):
                return None
            lot_tracked = lot_tracked_of.get(sku)
            location_kind = kind_of.get(location)
            line_no = claimed.line_no
            line = order.lines.get(line_no)
            if lot_tracked is None or location_kind not in _PUT_BACK_KINDS or line is None:
                return None
            status = order.status
            put_back = line[_PUT_BACK]
            # What the line still owes (below zero where more came back than was owed: then no
            # quantity fits, as none fits zero).
            if status in _EXCEPTION:
                owed = line[_PICKED] - put_back
            elif status in _LIVE and line[_WITHDRAWN]:
                owed = line[_WITHDRAWN] - put_back
            else:
                return None  # shipped, or a live line nothing was withdrawn from
            if line[_LINE_SKU] != sku or quantity > owed:
                return None
            if lot_tracked and (not d.lot or (line[_LOT] and d.lot != line[_LOT])):
                return None
            storage = location_kind == "storage"
            key = (sku, location)
            qoh_before = qoh.get(key, 0)
            atp_before = atp.get(sku, 0)
            if qoh_before < 0 or atp_before < 0:
                return None  # a figure below zero: the rule's stop at zero changes the effect
            qoh_after = qoh_before + quantity
            atp_after = atp_before + quantity
            if qoh_after > max_stock or (storage and atp_after > max_stock):
                return None
            # What the rule derives: QOH + q at the location, and ATP + q for a storage location.
            changes = e.changes
            if len(changes) != (2 if storage else 1) or (
                claimed.put_back != quantity
                or claimed.released or claimed.rejected or claimed.withdrawn
            ):
                return None
            c = changes[0]
            if c.sku != sku or c.location != location or c.qoh != quantity or c.atp:
                return None
            if storage:
                c = changes[1]
                if c.sku != sku or c.location is not None or c.qoh or c.atp != quantity:
                    return None
            # Applied, as BatchState.apply applies the draft.
            qoh[key] = qoh_after
            touched_qoh.add(key)
            if storage:
                atp[sku] = atp_after
                touched_atp.add(sku)
            line[_PUT_BACK] = put_back + quantity
            numbers = changed.get(order_id)
            if numbers is None:
                changed[order_id] = [line_no]
            elif line_no not in numbers:
                numbers.append(line_no)
            # Cleared only if this line has every picked unit back (most often it has not:
            # then the order's other lines need not be looked at).
            if line[_PICKED] <= put_back + quantity or order.reconciled is not None:
                _note_reconciled(order, order_id, at, e, writes)
        if operator != SYSTEM_OPERATOR:
            # Times compare as their iso_utc texts do (one fixed width, years 2000 to 2199).
            first = first_at.get(order_id)
            if first is None or at < first[0]:
                first_at[order_id] = (at, e.created_at)
        seq = e.seq
        add_entry(
            (e.entry_id, e.terminal, e.facility, seq, kind, order_id, "applied", None,
             body, effects, None)
        )
    writes.last_seq = seq
    # The changed lines in key order (order ID, line number), and each changed order's sums.
    writes.orders = sorted(changed)
    add_line = writes.lines.append
    sums = writes.sums
    for order_id in writes.orders:
        order = orders[order_id]
        lines = order.lines
        numbers = changed[order_id]
        if len(numbers) > 1:
            numbers.sort()
        for line_no in numbers:
            ln = lines[line_no]
            add_line(
                (ln[_RELEASED], ln[_REJECTED], ln[_PUT_BACK], ln[_WITHDRAWN], order_id, line_no)
            )
        sums[order_id] = _sums(order)
    # Each order's first action where the batch sets it (nearly every order has its own).
    first_actions = writes.first_actions
    for order_id, (at, text) in first_at.items():
        order = orders[order_id]
        # A time sent in UTC to the microsecond is its iso_utc text already (the timestamp's
        # one shape, see decode: 32 characters ending "+00:00" have six decimals).
        iso = text if len(text) == 32 and text.endswith("+00:00") else iso_utc(at)
        changed_at, first_action = order.first_response
        if first_action_due(order.status, changed_at, first_action, iso):
            first_actions[order_id] = iso
    writes.qoh = [(*key, qoh[key]) for key in sorted(touched_qoh)]
    writes.atp = [(sku, atp[sku]) for sku in sorted(touched_atp)]
    return HotPlan(writes, frozenset(nothing_left))


def _note_reconciled(order: HotOrder, order_id: str, at: datetime, e: Any, writes: Writes) -> None:
    """``BatchState._note_reconciled``: who reconciled the order, set or cleared by entry ``e``."""
    if _cleared(order):
        if order.reconciled is None:
            order.reconciled = (iso_utc(at), e.operator, e.terminal)
            writes.reconciled[order_id] = order.reconciled
    elif order.reconciled is not None:
        order.reconciled = None
        writes.reconciled[order_id] = None


def _release(
    e: Any, order: HotOrder, state: HotState, atp: dict[str, int], max_stock: int
) -> list[int] | None:
    """A release judged and applied as ``derive`` would: the lines it released, or None.

    ``rules.release`` over plain lines: each line's unpicked units still reserved (neither
    released nor rejected) are released, in line order, and each SKU's ATP goes up by its
    lines' units. The entry must be the automatic operator's or that of an operator known
    here (``check_operator``: a release needs no permission), name an exception order, and
    claim exactly those effects; ATP above ``max_stock`` (``check_limits``) declines it. An
    order with nothing left gives no lines: applied, changing nothing ("already released").
    """
    operator = e.operator
    if operator != SYSTEM_OPERATOR and not state.knows(operator):
        return None
    if order.status not in _EXCEPTION:
        return None  # live or shipped: the rule refuses
    lines = order.lines
    released: list[int] = []
    units: list[int] = []
    by_sku: dict[str, int] = {}
    for line_no in sorted(lines):
        ln = lines[line_no]
        left = _unreleased(ln)
        if left > 0:
            released.append(line_no)
            units.append(left)
            by_sku[ln[_LINE_SKU]] = by_sku.get(ln[_LINE_SKU], 0) + left
    if not released:
        return released
    # Claimed exactly as derived, in the same order (StockDelta.changes: SKUs by first line).
    claimed_lines = e.line_changes
    claimed_stock = e.changes
    if len(claimed_lines) != len(released) or len(claimed_stock) != len(by_sku):
        return None
    order_id = e.order_id
    for c, line_no, n in zip(claimed_lines, released, units, strict=True):
        if (
            c.order_id != order_id or c.line_no != line_no or c.released != n
            or c.rejected or c.put_back or c.withdrawn
        ):
            return None
    for c, (sku, n) in zip(claimed_stock, by_sku.items(), strict=True):
        if c.sku != sku or c.location is not None or c.qoh or c.atp != n:
            return None
        # Read only now: load_hot_state loads the ATP of the SKUs claimed by a release of an
        # order that holds reserved units, and these are they.
        before = atp.get(sku, 0)
        if before < 0 or before + n > max_stock:
            return None
    # Applied, as BatchState.apply applies the draft.
    for sku, n in by_sku.items():
        atp[sku] = atp.get(sku, 0) + n
    for line_no, n in zip(released, units, strict=True):
        lines[line_no][_RELEASED] += n
    return released


_APPLIED = '"outcome":"applied","recorded_as":"applied","reason":null,"retryable":false,' \
    '"code":"applied","changes":null,"line_changes":null}'
_NOTHING_LEFT = '"outcome":"applied","recorded_as":"applied","reason":{},"retryable":false,' \
    '"code":"already_released","changes":[],"line_changes":[]}}'


def answer_json(batch: HotBatch, nothing_left: Set[str] = frozenset()) -> str:
    """The batch's answer, every entry applied: ``BatchResult``'s own JSON, byte for byte.

    Each entry is applied as sent, but those of ``nothing_left`` (:attr:`HotPlan.nothing_left`):
    releases of an order with nothing left, answered as the ordinary path answers them.
    Entry IDs are of the plain shape :data:`_EntryId` reads (nothing in them is escaped).
    """
    return '{"version":1,"results":[' + ",".join(
        f'{{"entry_id":"{e.entry_id}","seq":{e.seq},'
        + (_APPLIED if e.entry_id not in nothing_left else _NOTHING_LEFT.format(
            to_json(nothing_left_note(e.order_id)).decode()))
        for e in batch.entries
    ) + "]}"
