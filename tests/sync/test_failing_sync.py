"""A terminal whose sync fails at the same place round after round says so, naming the entry (or
the page), in its state, its status bar and ``putback doctor``: a failure, not "offline".

Two causes, both through the real server: the central store cannot apply the terminal's batch
(an unexpected error there, answered 503), or its changes feed holds a figure out of bounds
(rewritten on the way, as a broken or hostile central store would send it): that page is
refused and nothing of it is stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from putback_tui import doctor
from putback_tui.central.server import BackgroundServer
from putback_tui.doctor import Status
from putback_tui.ledger import sync as book
from putback_tui.sync.client import SyncClient
from putback_tui.sync.monitor import SyncMonitor
from putback_tui.sync.worker import SyncWorker
from putback_tui.tui.state import Status as BarStatus
from putback_tui.tui.state import SyncStatus
from putback_tui.tui.widgets.status_bar import describe_sync
from tests.central.test_failure_isolation import break_order
from tests.central_support import Central, MakeTerminal, Terminal
from tests.sync.test_protocol import RewriteAnswers
from tests.sync.test_worker import projections, work


def _worker(t: Terminal, server: BackgroundServer, central: Central, **kwargs: Any) -> SyncWorker:
    settings = t.sync_settings(server.url, central.tokens[t.settings.terminal.id])
    return SyncWorker(
        t.path, settings.model_copy(update={"failure_rounds": 2}),
        backoff_base_s=0.02, backoff_max_s=0.1, **kwargs,
    )


def _bar(failing: str | None, online: bool = True) -> str:
    status = BarStatus(facility="STORE-01", terminal="PACK-01", now=datetime.now(UTC),
                       sync=SyncStatus(configured=True, online=online, failing=failing))
    return describe_sync(status)[0]


def test_a_batch_failing_more_rounds_than_allowed_is_a_failure_naming_the_entry(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal()
    n = work(t)
    first = t.ledger.entries()[0]
    break_order(central, "D-1008")  # the terminal's first entry force-cancels D-1008
    worker = _worker(t, server, central)
    try:
        states = [worker.run_once() for _ in range(3)]
        # Two failed rounds are allowed (a central store restarting); the third is a failure.
        assert [s.failing is None for s in states] == [True, True, False]
        failing = states[-1].failing
        assert failing is not None
        assert f"entry {first.entry_id} failed to apply at the central store in 3 rounds" in failing
        assert "could not apply this batch" in failing
        assert states[-1].waiting == n
        assert _bar(failing, online=False).startswith(f"SYNC FAILING: entry {first.entry_id}")

        settings = t.settings.sync.model_copy(update={"failure_rounds": 2})
        check = doctor.check_sync_queue(t.ledger, settings, datetime.now(UTC))
        assert check.status is Status.FAIL
        assert first.entry_id in check.detail
        assert "putback central doctor" in (check.fix or "")
        # A kiosk app reads the same from the ledger the sync service writes.
        assert SyncMonitor(t.path, settings, on_state=lambda s: None).read(t.ledger).failing

        # Repaired at the central store: the batch goes through, the failure is forgotten.
        with central.store.engine.write() as tx:
            tx.run("UPDATE orders SET status = 'in_progress' WHERE order_id = 'D-1008'")
        state = worker.run_once()
    finally:
        worker.stop()
    assert (state.failing, state.last_error, state.waiting) == (None, None, 0)
    with t.ledger.read() as tx:
        assert book.failure(tx) is None
    assert doctor.check_sync_queue(t.ledger, settings, datetime.now(UTC)).status is Status.OK


def test_an_outage_is_offline_not_a_failure(make_terminal: MakeTerminal) -> None:
    t = make_terminal()
    work(t)
    settings = t.sync_settings("http://127.0.0.1:9", "pbk_nothing-listens-there")
    worker = SyncWorker(t.path, settings.model_copy(update={"failure_rounds": 0}),
                        backoff_base_s=0.01, backoff_max_s=0.01)
    try:
        states = [worker.run_once() for _ in range(3)]
    finally:
        worker.stop()
    assert all(s.failing is None and not s.online for s in states)
    assert _bar(None, online=False).startswith("offline")


def _stock_item(body: Any, value: Any) -> Any:
    """A changes page with its first stock figure replaced by ``value``."""
    if isinstance(body, dict) and body.get("stock"):
        body["stock"][0]["quantity"] = value
    return body


@pytest.mark.parametrize("value", [2**63 - 1, 9.223372036854776e18, 5.5, -1])
def test_a_pulled_stock_figure_out_of_bounds_is_refused_reported_and_never_stored(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal, value: Any
) -> None:
    t = make_terminal()
    work(t)
    before = projections(t.ledger)
    transport = RewriteAnswers(lambda body: _stock_item(body, value))
    worker = _worker(
        t, server, central,
        client_factory=lambda url, token: SyncClient(url, token, transport=transport),
    )
    try:
        state = worker.run_once()
    finally:
        worker.stop()
    assert state.failing is not None
    assert "refused a changes page" in state.failing
    assert "stock.0.quantity" in state.failing
    assert "nothing of it was stored" in state.failing
    assert _bar(state.failing).startswith("SYNC FAILING: refused a changes page")
    # The entries went through (the push came first); nothing of the page was kept.
    assert state.waiting == 0
    assert projections(t.ledger) == before
    qoh, atp = t.ledger.stock()
    assert all(isinstance(q, int) and 0 <= q < 10**9 for *_, q in qoh)
    assert all(isinstance(a, int) for _, a in atp)
    check = doctor.check_sync_queue(t.ledger, t.settings.sync, datetime.now(UTC))
    assert check.status is Status.FAIL
    assert "refused a changes page" in check.detail
