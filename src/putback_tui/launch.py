"""Start the app for a configured home: open the ledger, build the app and its services, run.

The composition root of the terminal (called by ``putback app``): the one place that opens the
ledger for the app and hands the scanners and the sync worker to it, so the ``tui`` package
itself never imports the ledger, the scanners' devices or the sync worker.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from putback_tui.config import Paths, Settings
from putback_tui.ledger import Ledger, LedgerError

if TYPE_CHECKING:
    from putback_tui.sync.worker import SyncState
    from putback_tui.tui.app import PutbackApp


def reporter(app: PutbackApp, *, claims: bool = True) -> Callable[[SyncState], None]:
    """The sync worker's ``on_state`` for ``app``: the status bar, and the facility's claims.

    Args:
        app: The app to report to (from the worker's thread).
        claims: Pass on the claims each pull brings (False for a monitor, which has none).
    """

    def report(s: SyncState) -> None:
        app.sync_state_changed_from_thread(
            s.online, s.waiting, s.refused, s.last_success, s.last_error, s.failing
        )
        if claims:
            app.claims_changed_from_thread(s.claims)

    return report


def launch(paths: Paths, settings: Settings, *, sync: bool = True) -> int:
    """Run the app until the operator quits.

    Args:
        paths: Where the ledger is.
        settings: The validated configuration.
        sync: Run the sync worker in the app; False where ``putback-sync.service`` runs it
            (kiosk): the app then only shows the state that worker records in the ledger.

    Returns:
        The process exit code: 0 after a normal quit, 1 when the ledger cannot be opened.
    """
    try:
        ledger = Ledger(paths.db_path, create=False)
    except LedgerError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    # Imported here so `putback barcode` and friends never pay for Textual.
    from putback_tui.tui.app import BackgroundService, make_app

    services: list[BackgroundService] = []
    app = make_app(ledger, settings)
    if settings.scanners:
        from putback_tui.scanners.source import ScannerSource

        services.append(
            ScannerSource(
                settings.scanners,
                on_scan=app.scan_from_thread,
                on_state=lambda s: app.scanner_state_changed_from_thread(
                    s.scanner, s.status.value, s.message
                ),
            )
        )
    if settings.sync.url and settings.sync.token:
        from putback_tui.sync.monitor import SyncMonitor
        from putback_tui.sync.worker import SyncWorker

        report = reporter(app, claims=sync)
        services.append(
            SyncWorker(
                paths.db_path,
                settings.sync,
                on_state=report,
                release_as=(settings.terminal.id, settings.terminal.facility),
            )
            if sync
            else SyncMonitor(paths.db_path, settings.sync, on_state=report)
        )
        if settings.claims.enabled:
            from putback_tui.sync.claims import ClaimKeeper

            services.append(
                ClaimKeeper(
                    settings.sync,
                    settings.claims,
                    on_other=app.claim_held_elsewhere_from_thread,
                    on_claims=app.claims_changed_from_thread,
                    # The sync worker brings the claims with its pull; on a kiosk it runs in
                    # another process, so the keeper reads them itself.
                    poll_s=None if sync else min(settings.sync.interval_s, 5.0),
                )
            )
    # The services need the app for their callbacks, so they are handed over after it is built.
    app.services = tuple(services)
    try:
        app.run()
    finally:
        # Waits for a put-back still being written (the ledger's lock), so Ctrl+Q never leaves
        # half a transaction: SQLite commits it whole or rolls it back on the next open.
        ledger.close()
    return app.return_code or 0
