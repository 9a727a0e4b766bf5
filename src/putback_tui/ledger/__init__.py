"""The local SQLite ledger: append-only entries, stock projections, reference-data cache."""

from putback_tui.domain.models import now_utc
from putback_tui.ledger.errors import LedgerCorrupt, LedgerError, LedgerFull, LedgerLocked
from putback_tui.ledger.store import Ledger, read_snapshot
from putback_tui.ledger.transaction import Reconciled, Transaction

__all__ = [
    "Ledger",
    "LedgerCorrupt",
    "LedgerError",
    "LedgerFull",
    "LedgerLocked",
    "Reconciled",
    "Transaction",
    "now_utc",
    "read_snapshot",
]
