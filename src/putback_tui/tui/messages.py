"""Messages of the app, named as events in the past tense; scanners and sync post the first three.

Every message here is posted to the App. Scanner and sync threads reach it through the App's
``*_from_thread`` methods, never by touching widgets.
"""

from __future__ import annotations

from datetime import datetime

from textual.message import Message

from putback_tui.domain.entries import Entry
from putback_tui.station import OrderView
from putback_tui.wire import Claim


class ScanReceived(Message):
    """One complete scan (or typed line): the only way codes enter the app."""

    def __init__(self, text: str, source: str, at: float | None = None) -> None:
        super().__init__()
        self.text = text
        """Exactly what was read, terminator removed. Untrusted: display only via ``shown()``."""
        self.source = source
        """Where it came from: ``keyboard`` (a scanner burst), ``typed`` (a person at the keys)
        or a HID scanner's name."""
        self.at = at
        """When the scan ended (the App's monotonic clock), so a double read is judged by when
        it arrived, not by when a busy App got to it; None: when handled."""


class ScannerStateChanged(Message):
    """A HID scanner connected, disconnected, or failed."""

    def __init__(self, name: str, status: str, message: str) -> None:
        super().__init__()
        self.name = name
        self.status = status
        self.message = message

    def can_replace(self, message: Message) -> bool:
        """Only the newest state of a scanner matters while older ones wait in the queue."""
        return isinstance(message, ScannerStateChanged) and message.name == self.name


class SyncStateChanged(Message):
    """The sync worker's view of the central store changed."""

    def __init__(
        self,
        online: bool,
        waiting: int,
        refused: int,
        last_success: datetime | None,
        last_error: str | None,
        failing: str | None = None,
    ) -> None:
        super().__init__()
        self.online = online
        self.waiting = waiting
        """Ledger entries not yet accepted by the central store."""
        self.refused = refused
        """Entries the central store refused (kept for a supervisor)."""
        self.last_success = last_success
        self.last_error = last_error
        self.failing = failing
        """A sync step failing round after round at the same entry, in words (not offline)."""

    def can_replace(self, message: Message) -> bool:
        """Sync reports are snapshots: a newer one makes a queued older one pointless."""
        return isinstance(message, SyncStateChanged)


class ClaimsChanged(Message):
    """The facility's claims as last read from the central store (None: not known now)."""

    def __init__(self, claims: tuple[Claim, ...] | None) -> None:
        super().__init__()
        self.claims = claims

    def can_replace(self, message: Message) -> bool:
        """A newer list makes a queued older one pointless."""
        return isinstance(message, ClaimsChanged)


class ClaimHeldElsewhere(Message):
    """The order in hand turned out to be claimed by another terminal (it was not confirmed)."""

    def __init__(self, claim: Claim) -> None:
        super().__init__()
        self.claim = claim


class OrderOpened(Message):
    """An order was opened (anything unpicked of an exception order was released)."""

    def __init__(self, view: OrderView) -> None:
        super().__init__()
        self.view = view


class PutBackConfirmed(Message):
    """A put-back was recorded durably in the ledger."""

    def __init__(self, entry: Entry) -> None:
        super().__init__()
        self.entry = entry


class PutBackUndone(Message):
    """A put-back was compensated by an undo entry."""

    def __init__(self, entry: Entry) -> None:
        super().__init__()
        self.entry = entry


class ScanRefused(Message):
    """A scan or an action was refused; the operator heard the bell and saw ``reason``."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__()
        self.reason = reason
        self.code = code
        """The refusal's stable name (``unknown_order``, ``invalid_code``...)."""


class ItemRejected(Message):
    """Units of a live order's line were rejected (and a re-route requested)."""

    def __init__(self, entry: Entry) -> None:
        super().__init__()
        self.entry = entry


class LineEdited(Message):
    """A live order's line was cancelled or its quantity reduced (order modification)."""

    def __init__(self, entry: Entry) -> None:
        super().__init__()
        self.entry = entry


class OrderCancelled(Message):
    """A live order was cancelled or force-cancelled from this terminal."""

    def __init__(self, entry: Entry) -> None:
        super().__init__()
        self.entry = entry


class OrdersBulkRejected(Message):
    """Every live order of one status was rejected at once."""

    def __init__(self, entries: list[Entry]) -> None:
        super().__init__()
        self.entries = entries


class MovedOut(Message):
    """Units were moved out of an exception location into storage."""

    def __init__(self, entry: Entry) -> None:
        super().__init__()
        self.entry = entry


class RefusedEntryResolved(Message):
    """A supervisor resolved an entry the central store refused."""

    def __init__(self, entry: Entry) -> None:
        super().__init__()
        self.entry = entry
