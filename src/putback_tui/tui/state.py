"""What the App knows and every screen shows: the last result, and the status bar's facts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Tone(StrEnum):
    """How a result line looks (and whether it rings)."""

    DONE = "done"
    """Green: something was recorded, or a step succeeded."""
    REFUSED = "refused"
    """Red, with the bell: nothing changed, the reason says why."""
    NOTICE = "notice"
    """Amber: nothing to do here (already reconciled, a live order)."""
    INFO = "info"
    """Neutral: what to do next."""


@dataclass(frozen=True)
class Result:
    """The big line at the bottom: the outcome of the last scan or key, in words."""

    tone: Tone
    text: str
    """Plain text, never markup: it may quote scanned text (already made safe by ``shown()``)."""


@dataclass(frozen=True)
class ScannerStatus:
    """One scanner as the status bar shows it."""

    name: str
    status: str
    message: str = ""

    @property
    def ok(self) -> bool:
        """True while the scanner can deliver scans."""
        return self.status in {"ready", "connected", "keyboard"}


@dataclass(frozen=True)
class SyncStatus:
    """The sync worker's last report (or the offline placeholder)."""

    configured: bool = False
    online: bool = False
    waiting: int = 0
    refused: int = 0
    last_success: datetime | None = None
    last_error: str | None = None
    failing: str | None = None
    """A sync step failing round after round at the same entry: shown as a failure."""


@dataclass(frozen=True)
class Status:
    """Everything in the status bar."""

    facility: str
    terminal: str
    now: datetime
    operator: str | None = None
    """``Name (BADGE)`` of the signed-in operator."""
    scanners: tuple[ScannerStatus, ...] = (ScannerStatus("keyboard", "keyboard"),)
    sync: SyncStatus = field(default_factory=SyncStatus)
    double_reads: int = 0
    busy: bool = False
    """A ledger write has been running long enough to tell the operator ("saving…")."""
