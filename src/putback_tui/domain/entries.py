"""Ledger entries: what a rule decided (a draft) and what the ledger recorded (an entry)."""

from __future__ import annotations

import os
import threading
import time
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from putback_tui.domain.bounds import CODE_PATTERN, Code, Figure, FreeText, LineNo, Seq
from putback_tui.domain.models import (
    AwareDatetime,
    Frozen,
    LineChange,
    OrderStatus,
    RejectReason,
    StockChange,
)


class EntryKind(StrEnum):
    """Every kind of ledger entry."""

    RELEASE = "release"
    """Unpicked reservations of an exception order dropped."""
    PUT_BACK = "put_back"
    REJECT = "reject"
    BULK_REJECT = "bulk_reject"
    CANCEL = "cancel"
    FORCE_CANCEL = "force_cancel"
    MOVE_OUT = "move_out"
    """Units moved out of an exception location into storage."""
    UNDO = "undo"
    """The exact opposite of an earlier entry (a compensating entry, never a deletion)."""
    REFUSAL = "refusal"
    """An action refused for want of permission: recorded, changes nothing."""
    RESOLVE = "resolve"
    """A supervisor's resolution of an entry the central store refused: it references the
    refused entry and either changes nothing (acknowledged) or counts units found into an
    exception location. The refused entry itself is never touched."""
    CANCEL_LINE = "cancel_line"
    """One line of a live order cancelled: unpicked units released, picked ones withdrawn
    for a put-back (order modification)."""
    REDUCE_LINE = "reduce_line"
    """A live line's quantity lowered: unpicked units released first, then picked ones
    withdrawn for a put-back (order modification)."""


EntryId = Annotated[str, Field(min_length=36, max_length=36, pattern=CODE_PATTERN)]
"""An entry ID: 36 characters (a UUID's text), no control characters."""

UNDOABLE_KINDS = frozenset({EntryKind.PUT_BACK, EntryKind.MOVE_OUT})
LINE_EDIT_KINDS = frozenset({EntryKind.CANCEL_LINE, EntryKind.REDUCE_LINE})
"""Order modifications: an OMS reads them on the event feed (re-route, re-invoice)."""
STATUS_KINDS = frozenset({EntryKind.CANCEL, EntryKind.FORCE_CANCEL, EntryKind.BULK_REJECT})
"""The only kinds that change an order's status (a live order's, by its rule). Nothing
un-cancels, and nothing touches a shipped order: the OMS is the authority on status."""

SYSTEM_OPERATOR = "system"
"""The operator of an automatic entry: a release made the moment an exception became known,
by a terminal (on a pull, or when a data set is loaded) or by the central store. Such an entry
is nobody's first response to the exception (SPEC section 6, SLA)."""
CENTRAL_TERMINAL = "central"
"""The terminal name of the central store's own entries (its automatic releases)."""


class EntryDetails(Frozen):
    """What the entry was about, beyond its stock changes. Fields unused by a kind stay None."""

    sku: Code | None = None
    quantity: Figure | None = None
    """Units the entry is about (a total for a release, cancel or bulk reject)."""
    location: Code | None = None
    """Destination: where units were put back or moved to."""
    from_location: Code | None = None
    lot: Code | None = None
    reason: RejectReason | None = None
    reroute: bool = False
    """A rejected line to be re-routed by the central store to another facility."""
    order_status: OrderStatus | None = None
    """The status the entry gave the order locally (cancel, force cancel, bulk reject)."""
    undoes: Code | None = None
    """For an undo: the entry ID it compensates."""
    permission: Code | None = None
    """For a refusal: the permission that was missing."""
    message: FreeText | None = None
    """For a refusal: the sentence the operator saw."""
    resolves: Code | None = None
    """For a resolve: the entry ID of the refused entry it resolves."""
    note: FreeText | None = None
    """For a resolve: what the supervisor decided, in words."""
    line_no: LineNo | None = None
    """For a line edit: the line it changed."""
    from_quantity: Figure | None = None
    """For a line edit: the line's ordered quantity before it (``quantity`` is after)."""
    reason_code: Code | None = None
    """A site's own reason code: a line edit's, a cancel's, force cancel's or bulk reject's,
    or a reject reason that is not built in (see :mod:`putback_tui.domain.reasons`)."""


class EntryDraft(Frozen):
    """What a rule decided. The ledger turns it into an entry in one transaction."""

    kind: EntryKind
    order_id: Code | None = None
    details: EntryDetails = EntryDetails()
    changes: tuple[StockChange, ...] = ()
    line_changes: tuple[LineChange, ...] = ()


class Entry(EntryDraft):
    """A recorded ledger entry. Never updated or deleted."""

    entry_id: EntryId
    """Globally unique and time-ordered (a UUIDv7)."""
    seq: Seq
    """Per-terminal sequence number: the order the terminal made its entries in."""
    terminal: Code
    facility: Code
    operator: Code
    created_at: AwareDatetime


_lock = threading.Lock()
_last_ms = 0
_counter = 0
_RANDOM_POOL = 4096
"""Random bytes read from the system at a time for entry IDs: 512 IDs' worth."""
_random = b""
_taken = 0


def _forget_random() -> None:
    # A forked child must not make the IDs its parent makes next from the same bytes.
    global _random, _taken
    _random, _taken = b"", 0


os.register_at_fork(after_in_child=_forget_random)


def new_entry_id(now_ms: int | None = None) -> str:
    """A new UUIDv7: 48-bit Unix milliseconds, then a counter and random bits.

    IDs made in one process sort in the order they were made, even within one millisecond.
    The random bits are the system's (``os.urandom``), read 4 KiB at a time: one system call
    for 512 IDs instead of one an ID.
    """
    global _last_ms, _counter, _random, _taken
    with _lock:
        ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter >= 1 << 12:
                ms += 1
                _counter = 0
        else:
            _counter = 0
        _last_ms = ms
        rand_a = _counter
        if _taken >= len(_random):
            _random, _taken = os.urandom(_RANDOM_POOL), 0
        rand_b = int.from_bytes(_random[_taken : _taken + 8], "big")
        _taken += 8
    # The UUID's text in one formatting, field by field (what str(uuid.UUID(int=...)) gives for
    # the 128 bits: 48 of milliseconds, version 7, 12 of counter, variant 0b10, 62 random).
    return (
        f"{ms >> 16 & 0xFFFFFFFF:08x}-{ms & 0xFFFF:04x}-7{rand_a:03x}-"
        f"{rand_b >> 48 & 0x3FFF | 0x8000:04x}-{rand_b & 0xFFFFFFFFFFFF:012x}"
    )
