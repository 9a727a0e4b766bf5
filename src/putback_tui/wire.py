"""Wire models of the sync protocol (version 1), shared by the terminal and the central store.

Every payload is frozen and refuses unknown fields, and carries ``version`` so a central store
can tell which protocol a terminal speaks; the paths are versioned too (``/v1/...``). Ledger
entries travel as the domain's own :class:`~putback_tui.domain.entries.Entry`.

How the protocol may change: the central store refuses what it does not know in what it is
sent, and a terminal ignores fields it does not know in what it is answered. So within one
version the central store may **add** fields to its answers (it is upgraded first, its
terminals one by one later), and the meaning of every existing field stays; anything else (a
field removed or changing meaning, a new required field in what terminals send) is a new
version, which a terminal of the old one refuses with a message saying to upgrade it.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Literal

from pydantic import ConfigDict, Field
from pydantic.config import JsonDict

from putback_tui.domain.bounds import Code, Cursor, Figure, Seq
from putback_tui.domain.entries import Entry, EntryId
from putback_tui.domain.models import (
    AwareDatetime,
    Frozen,
    LineChange,
    Location,
    Operator,
    Order,
    OrderStatus,
    Permission,
    Product,
    StockChange,
)
from putback_tui.domain.reasons import SiteReasons
from putback_tui.domain.sla import SlaState

API_VERSION = 1
"""The protocol version these models speak."""
API_PREFIX = f"/v{API_VERSION}"
MAX_BATCH_ENTRIES = 5000
"""A batch holds at most this many entries (the terminal's ``sync.batch_size`` is capped too)."""
MAX_PAGE = 5000
"""A feed page holds at most this many items."""

Version = Literal[1]


class EntryBatch(Frozen):
    """A batch of ledger entries from one terminal, in its sequence order."""

    version: Version = 1
    entries: tuple[Entry, ...] = Field(min_length=1, max_length=MAX_BATCH_ENTRIES)


def batch_json(entries_json: Sequence[str]) -> str:
    """An :class:`EntryBatch` as terminals send it, from each entry's JSON, in order.

    The plain shape the central store reads entry by entry (``split_batch`` in the central
    store's API): no spaces between entries.
    """
    return f'{{"version":{API_VERSION},"entries":[{",".join(entries_json)}]}}'


class Outcome(StrEnum):
    """What the central store did with one entry."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    """Already received earlier (same entry ID): nothing was applied again."""
    REFUSED = "refused"


class ResultCode(StrEnum):
    """Why an entry was answered as it was (``EntryResult.code``)."""

    APPLIED = "applied"
    """Applied, with exactly the effects the entry carries."""
    APPLIED_AS_DERIVED = "applied_as_derived"
    """Applied with the effects the central store derived, which differ from the entry's own
    (another terminal moved the same stock first): ``changes`` and ``line_changes`` say which."""
    ALREADY_RELEASED = "already_released"
    """A release whose units were released already (by the central store or another
    terminal): recorded as applied, changed nothing. Not a refusal."""
    DUPLICATE = "duplicate"
    REFUSED = "refused"
    """Judged and refused by the rules; recorded as refused, with the reason."""
    SEQ_MISSING = "seq_missing"
    """Not recorded: an earlier sequence number is missing (retryable)."""
    SEQ_REUSED = "seq_reused"
    """Not recorded: the terminal already used this sequence number for another entry."""
    ENTRY_ID_TAKEN = "entry_id_taken"
    """Not recorded: another entry already holds this entry ID."""


class EntryResult(Frozen):
    """The central store's answer for one entry."""

    entry_id: EntryId
    seq: Seq
    outcome: Outcome
    recorded_as: Literal["applied", "refused"] | None = None
    """For an applied entry, or a duplicate: what the central store recorded it as."""
    reason: str | None = None
    """Why it was refused (also set on a duplicate of a refused entry)."""
    retryable: bool = False
    """True for a refusal that is not final (a missing earlier entry): send it again later."""
    code: ResultCode | None = None
    """What happened, for a program: see :class:`ResultCode`."""
    changes: tuple[StockChange, ...] | None = None
    """The stock changes the central store applied, when they differ from the entry's own
    (it derives every entry's effects itself): None means exactly as the entry says."""
    line_changes: tuple[LineChange, ...] | None = None
    """The line progress the central store applied, when it differs from the entry's own."""


class BatchResult(Frozen):
    """The answer to a batch: one result per entry, in the batch's order."""

    version: Version = 1
    results: tuple[EntryResult, ...]


class StockLevel(Frozen):
    """A QOH row (``location`` set) or an ATP row (``location`` None) of one facility."""

    sku: Code
    location: Code | None = None
    quantity: Figure


class OrderReconciled(Frozen):
    """Who reconciled an order, where and when: the entry that accounted for its last unit."""

    order_id: Code
    at: AwareDatetime
    operator: Code
    terminal: Code


class RoleGrant(Frozen):
    """One role of the central store's role -> permissions map."""

    role: str
    permissions: tuple[Permission, ...]


class ChangesPage(Frozen):
    """One page of the changes feed for a terminal's facility.

    Items changed after ``cursor`` up to ``next_cursor``; ask again from ``next_cursor``
    while ``has_more``. Orders carry the central store's line progress (released, rejected,
    put back over every terminal).
    """

    version: Version = 1
    cursor: Cursor
    next_cursor: Cursor
    has_more: bool
    applied_through_seq: Cursor
    """The highest sequence number of the calling terminal the central store has answered,
    read in the same snapshot as the page: stock in the page includes exactly those entries."""
    orders: tuple[Order, ...] = ()
    reconciled: tuple[OrderReconciled, ...] = ()
    """For the orders of this page the central store holds reconciled: by whom, where, when."""
    products: tuple[Product, ...] = ()
    locations: tuple[Location, ...] = ()
    operators: tuple[Operator, ...] = ()
    stock: tuple[StockLevel, ...] = ()
    roles: tuple[RoleGrant, ...] | None = None
    """The central store's whole role -> permissions map, when it changed within this page
    (None: unchanged). Terminals judge permissions by it, as the central store does."""
    reasons: SiteReasons | None = None
    """The site's whole reason lists, when they changed within this page (None: unchanged).
    Terminals offer these reasons, and a reject reason's effect is judged by them."""


class AppliedEntry(Frozen):
    """One event of the event feed: an entry the central store applied."""

    position: Seq
    """Position in the feed; strictly increasing, the cursor for the next read."""
    received_at: AwareDatetime
    entry: Entry


class EventsPage(Frozen):
    """One page of the event feed (for OMS, ERP): applied entries in the order applied."""

    version: Version = 1
    cursor: Cursor
    next_cursor: Cursor
    has_more: bool
    events: tuple[AppliedEntry, ...] = ()


class ExceptionStatus(StrEnum):
    """The statuses an upstream system may set on an order."""

    CANCELLED = OrderStatus.CANCELLED.value
    DELETED = OrderStatus.DELETED.value
    FAILED = OrderStatus.FAILED.value


class OrderStatusUpdate(Frozen):
    """An OMS telling the central store that an order became an exception."""

    version: Version = 1
    status: ExceptionStatus
    changed_at: AwareDatetime | None = None
    """When the order took the status upstream; now when omitted."""


class ClientKind(StrEnum):
    """Who holds a token."""

    TERMINAL = "terminal"
    SYSTEM = "system"
    """An upstream or downstream system (OMS, ERP): reads events, sets order status."""
    VIEWER = "viewer"
    """Read-only (a dashboard): the backlog, event feed and order histories of its facilities."""


class ClientInfo(Frozen):
    """Who the central store takes the caller to be (``GET /v1/whoami``)."""

    version: Version = 1
    name: Code
    kind: ClientKind
    facility: Code | None = None
    facilities: tuple[Code, ...] | None = None
    """Viewers only: the facilities it may read (None: every facility)."""
    last_seq: Cursor | None = None
    """Terminals only: the highest of the terminal's sequence numbers the central store has
    recorded (0: none yet). A ledger whose entries end below it is behind the central store."""


class OwnEntry(Frozen):
    """One of the caller's own entries as the central store recorded it, with its answer."""

    entry: Entry
    refused: bool
    reason: str | None = None


class OwnEntriesPage(Frozen):
    """``GET /v1/entries/own``: a terminal's own entries after ``after_seq``, in seq order.

    A replaced terminal (restored from a backup, or set up anew) reads these to learn the
    answers to entries it would otherwise send again, and to take back entries its ledger lost.
    """

    version: Version = 1
    entries: tuple[OwnEntry, ...]
    has_more: bool


class ErrorBody(Frozen):
    """The body of every error the central store answers itself (4xx other than 422, 503)."""

    detail: str
    failure: int | None = None
    """503 only: the number the central store recorded an unexpected failure under."""


# -- the backlog (GET /v1/backlog): read by viewers (dashboards), systems and terminals ----------

OUTBOX_HEADER = "X-Putback-Outbox"
"""Header a terminal's sync sends with each call: its entries waiting to be sent (a count)."""

_AT = "2026-12-06T10:00:00Z"
_BACKLOG_EXAMPLE: JsonDict = {
    "facility": "STORE-01",
    "waiting_orders": 3,
    "units_to_put_back": 7,
    "units_reserved_on_exceptions": 0,
    "overdue": 1,
    "due_soon": 1,
    "oldest_since": "2026-12-06T06:12:00Z",
    "first_response_median_minutes": 12.5,
    "cycle_median_minutes": 48.0,
    "flow": [{"hour": "2026-12-06T09:00:00Z", "incoming": 2, "cleared": 1}],
    "top_reasons": [
        {"kind": "reject", "reason": "DAMAGE", "entries": 4, "units": 5}
    ],
    "refused_waiting": 1,
    "terminals": [
        {
            "terminal": "PACK-01",
            "last_contact": "2026-12-06T09:59:58Z",
            "waiting_to_send": 0,
            "last_seq": 412,
        }
    ],
}
"""The OpenAPI example of a facility's backlog."""


class HourFlow(Frozen):
    """One hour of a facility's backlog flow: orders that entered it and left it."""

    hour: AwareDatetime
    """The start of the hour (UTC)."""
    incoming: Figure
    """Orders that became exceptions in this hour, but for those cleared at once by nobody
    (nothing picked: their release cleared them)."""
    cleared: Figure
    """Exception orders whose last unit an operator reconciled in this hour."""


class ReasonCount(Frozen):
    """How often one reason was recorded (top reasons)."""

    kind: str
    """The entry kind: reject, cancel, force_cancel, bulk_reject, cancel_line, reduce_line."""
    reason: str
    """The reason code (a reject reason, or a site's own code)."""
    entries: Figure
    units: Figure


class TerminalContact(Frozen):
    """A terminal of a facility: when the central store last heard from it, what it waits on."""

    terminal: Code
    last_contact: AwareDatetime | None = None
    """The last sync call (send or pull) the central store answered (None: never)."""
    waiting_to_send: Figure | None = None
    """The entries the terminal reported waiting to be sent at that call (None: not reported,
    e.g. an older terminal)."""
    last_seq: Cursor = 0
    """The highest of its sequence numbers the central store has recorded."""


class FacilityBacklog(Frozen):
    """One facility's exception backlog, as ``GET /v1/backlog`` answers it.

    A waiting order is an exception order (cancelled, deleted, failed, rejected) that still
    holds picked units not put back. SLA states are judged by the same rules as the terminals'
    worklist, with the central store's ``[sla]`` clocks.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _BACKLOG_EXAMPLE
            ]
        }
    )

    facility: Code
    waiting_orders: Figure
    """Exception orders still holding picked units to put back."""
    units_to_put_back: Figure
    """Picked units of those orders not yet put back."""
    units_reserved_on_exceptions: Figure
    """Unpicked units of exception orders still reserved (neither released nor rejected):
    0 while releases happen the moment an exception is known."""
    overdue: Figure
    """Waiting orders past a running SLA clock."""
    due_soon: Figure
    """Waiting orders that are due soon (not overdue)."""
    oldest_since: AwareDatetime | None = None
    """When the oldest waiting order became an exception (None: nothing waits)."""
    first_response_median_minutes: float | None = None
    """Median minutes from becoming an exception to the first operator entry, over the orders
    an operator cleared in the last 24 hours (None: none)."""
    cycle_median_minutes: float | None = None
    """Median minutes from becoming an exception to cleared, over the same orders."""
    flow: tuple[HourFlow, ...] = ()
    """The last 24 hours, oldest first, one item per hour (the current hour last)."""
    top_reasons: tuple[ReasonCount, ...] = ()
    """The most recorded reasons of the last 7 days (today, UTC, and the six before; at most
    5), most entries first."""
    refused_waiting: Figure = 0
    """Entries the central store refused that no supervisor has resolved yet."""
    terminals: tuple[TerminalContact, ...] = ()
    """The facility's enrolled terminals, by name."""


class Backlog(Frozen):
    """``GET /v1/backlog``: every facility the caller may read, by name."""

    version: Version = 1
    as_of: AwareDatetime
    """The moment the figures were computed (the central store's clock)."""
    facilities: tuple[FacilityBacklog, ...]


class WaitingOrder(Frozen):
    """One waiting order of a facility, most urgent first (as a terminal's worklist ranks it)."""

    order_id: Code
    kind: str
    """cancelled, deleted, failed or rejected."""
    since: AwareDatetime
    """When it became an exception."""
    age_minutes: float
    units_to_put_back: Figure
    sla: SlaState
    sla_text: str
    """The SLA state in words: "overdue 12 min", "due in 8 min", "on time"."""
    due_at: AwareDatetime
    """The running deadline that decides ``sla``."""
    first_response: AwareDatetime | None = None
    """The first operator entry on the order since it became an exception (None: none yet)."""
    score: float
    why: tuple[str, ...]
    """The score's terms, largest first, each in words with its points."""


class RefusedEntry(Frozen):
    """An entry the central store refused, waiting for a supervisor to resolve it."""

    entry_id: EntryId
    terminal: Code
    kind: str
    order_id: Code | None = None
    reason: str | None = None
    """Why it was refused."""
    received_at: AwareDatetime


class FacilityDetail(Frozen):
    """``GET /v1/backlog/{facility}``: the figures, the waiting orders and refused entries."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": 1,
                    "as_of": _AT,
                    "backlog": _BACKLOG_EXAMPLE,
                    "orders": [
                        {
                            "order_id": "SO-1001",
                            "kind": "cancelled",
                            "since": "2026-12-06T06:12:00Z",
                            "age_minutes": 228.0,
                            "units_to_put_back": 3,
                            "sla": "due_soon",
                            "sla_text": "due in 12 min",
                            "due_at": "2026-12-06T10:12:00Z",
                            "first_response": "2026-12-06T06:20:00Z",
                            "score": 33.0,
                            "why": ["due in 12 min (+30)", "3 units to put back (+3)"],
                        }
                    ],
                    "refused": [],
                }
            ]
        }
    )

    version: Version = 1
    as_of: AwareDatetime
    backlog: FacilityBacklog
    orders: tuple[WaitingOrder, ...]
    """Every waiting order, most urgent first (highest score; then oldest)."""
    refused: tuple[RefusedEntry, ...] = ()
    """Refused entries not yet resolved, oldest first (at most 100)."""


class HistoryEntry(Frozen):
    """One entry of an order's history, as the central store recorded it."""

    position: Seq
    received_at: AwareDatetime
    outcome: Literal["applied", "refused"]
    reason: str | None = None
    """Why it was refused."""
    entry: Entry
    """Who did what where and when (for an applied entry, with the effects applied)."""


class OrderHistory(Frozen):
    """``GET /v1/orders/{order_id}/history``: an order and every entry on it, in order."""

    version: Version = 1
    order: Order
    entries: tuple[HistoryEntry, ...]
    """In the order the central store recorded them (at most 1,000, the first ones)."""
