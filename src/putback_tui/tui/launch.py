"""Start the app for a configured home: open the ledger, run, close cleanly."""

from __future__ import annotations

import sys

from putback_tui.config import Paths, Settings
from putback_tui.ledger import Ledger, LedgerError


def launch(paths: Paths, settings: Settings) -> int:
    """Run the app until the operator quits.

    Args:
        paths: Where the ledger is.
        settings: The validated configuration.

    Returns:
        The process exit code: 0 after a normal quit, 2 when the ledger cannot be opened.
    """
    try:
        ledger = Ledger(paths.db_path, create=False)
    except LedgerError as exc:
        print(f"putback: {exc}", file=sys.stderr)
        return 2
    # Imported here so `putback barcode` and friends never pay for Textual.
    from putback_tui.tui.app import make_app

    app = make_app(ledger, settings)
    try:
        app.run()
    finally:
        # Waits for a put-back still being written (the ledger's lock), so Ctrl+Q never leaves
        # half a transaction: SQLite commits it whole or rolls it back on the next open.
        ledger.close()
    return app.return_code or 0
