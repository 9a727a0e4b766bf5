"""Terminal sync against a real central store on loopback (SQLite and PostgreSQL), with faults:
the central store down, a lost answer, a killed terminal, two terminals on one line.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from putback_tui.central.server import BackgroundServer
from putback_tui.config import SyncSettings
from putback_tui.domain.errors import PermissionDenied, UnknownOperator
from putback_tui.domain.models import Operator, Permission, RejectReason
from putback_tui.ledger import Ledger
from putback_tui.sync.client import SyncClient
from putback_tui.sync.worker import SyncState, SyncWorker
from tests.central_support import Central, MakeTerminal, Terminal, from_terminals


def projections(ledger: Ledger) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    qoh, atp = ledger.stock()
    return {(s, loc): n for s, loc, n in qoh}, dict(atp)


def assert_consistent(t: Terminal) -> None:
    assert projections(t.ledger) == t.ledger.rebuild_stock()


def assert_synced(t: Terminal, central: Central, n: int) -> None:
    """Each of the terminal's n entries is recorded once, and both sides agree on stock."""
    assert len(central.store.recorded(t.settings.terminal.id)) == n
    assert projections(t.ledger) == central.store.stock(t.settings.terminal.facility)
    assert_consistent(t)


def work(t: Terminal) -> int:
    """An operator's morning: a force cancel and three put-backs. Returns the entries made.

    (D-1001 needs nobody: the central store released it when the demo was imported.)
    """
    t.station.force_cancel("D-1008")
    t.station.open_order("D-1002")
    t.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    t.station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01", 2)
    return len(t.ledger.entries())


def worker_for(t: Terminal, server: BackgroundServer, central: Central, **kwargs) -> SyncWorker:
    name = t.settings.terminal.id
    return SyncWorker(
        t.path,
        t.sync_settings(server.url, central.tokens[name], batch_size=2),
        backoff_base_s=0.02,
        backoff_max_s=0.1,
        **kwargs,
    )


def wait_for(check: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_round_sends_in_batches_and_pulls_central_stock(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal()
    n = work(t)
    states: list[SyncState] = []
    worker = worker_for(t, server, central, on_state=states.append)
    state = worker.run_once()
    worker.stop()
    assert state.online
    assert state.last_error is None
    assert (state.waiting, state.refused) == (0, 0)
    assert state.last_success is not None
    batches = [s.waiting for s in states[:-1]]  # one state per batch of 2, then the round's
    assert batches == [max(n - 2 * i, 0) for i in range(1, (n + 1) // 2 + 1)]
    assert_synced(t, central, n)


def test_central_store_down_the_operator_works_on_and_the_backlog_drains(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal()
    server.stop()
    n = work(t)  # every action confirmed locally while the central store is down
    states: list[SyncState] = []
    worker = worker_for(t, server, central, on_state=states.append)
    worker.start()
    wait_for(lambda: worker.failures >= 2)
    assert states[-1].online is False
    assert states[-1].waiting == n
    assert "unreachable" in (states[-1].last_error or "")
    assert from_terminals(central.store) == []
    down_since = states[-1].last_success
    server.start()
    # Caught up means a whole round (push, then pull) completed: "0 waiting" alone is published
    # after the last batch is answered, before the pull brings the central store's own entries.
    wait_for(
        lambda: worker.state.waiting == 0
        and worker.state.online
        and worker.state.last_success != down_since
    )
    worker.stop()
    assert_synced(t, central, n)


class DropFirstAnswer(httpx.HTTPTransport):
    """Delivers the first batch to the central store, then loses its answer."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "POST" and not self.dropped:
            response.read()
            self.dropped += 1
            raise httpx.ReadError("connection reset after the central store applied the batch")
        return response


def test_an_answer_lost_after_the_central_store_applied_a_batch_is_resent_harmlessly(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal()
    n = work(t)
    transport = DropFirstAnswer()
    worker = worker_for(
        t,
        server,
        central,
        client_factory=lambda url, token: SyncClient(url, token, transport=transport),
    )
    first = worker.run_once()
    assert transport.dropped == 1
    assert first.online is False
    assert first.waiting == n  # nothing is marked sent without the answer
    assert len(from_terminals(central.store)) == 2  # ...though the central store applied it
    stock_after_first = central.store.stock("STORE-01")
    second = worker.run_once()
    worker.stop()
    assert (second.online, second.waiting, second.refused) == (True, 0, 0)
    assert len(from_terminals(central.store)) == n  # applied once each
    events = central.store.events(0, 100).events
    assert len([e for e in events if e.entry.terminal == "PACK-01"]) == n
    assert stock_after_first != central.store.stock("STORE-01")
    assert projections(t.ledger) == central.store.stock("STORE-01")


def test_a_terminal_killed_between_write_and_send_sends_on_restart(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal()
    t.ledger.close()
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from putback_tui.config import Settings, TerminalSettings
        from putback_tui.ledger import Ledger
        from putback_tui.station import Station
        station = Station(Ledger(Path({str(t.path)!r})),
                          Settings(terminal=TerminalSettings(id="PACK-01", facility="STORE-01")))
        station.sign_in("SV-0001")
        station.open_order("D-1002")
        station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": src},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    ledger = Ledger(t.path)
    assert len(ledger.entries()) == 1  # durable before the kill
    ledger.close()
    state = worker_for(t, server, central).run_once()
    assert (state.online, state.waiting) == (True, 0)
    assert len(central.store.recorded("PACK-01")) == 1


def test_two_terminals_put_back_the_same_line_one_is_refused_and_kept(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    first, second = make_terminal("PACK-01"), make_terminal("PACK-02")
    for t in (first, second):
        t.station.open_order("D-1002")
        t.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    a = worker_for(first, server, central).run_once()
    b_worker = worker_for(second, server, central)
    b = b_worker.run_once()
    assert (a.refused, b.refused) == (0, 1)
    assert b.online
    assert b.waiting == 0
    [refused] = second.ledger.refused_entries()
    assert refused.entry.order_id == "D-1002"
    assert refused.reason == "Nothing of TSHIRT-BLK-M is left to put back on order D-1002."
    assert len(second.ledger.entries()) == 1  # kept locally, never dropped
    assert [r[1] for r in from_terminals(central.store)] == ["applied", "refused"]
    # The second terminal's figures are now the central store's: one put-back, not two.
    assert projections(second.ledger) == central.store.stock("STORE-01")
    assert_consistent(second)
    order = second.ledger.order("D-1002")
    assert order is not None
    assert order.line(1).put_back == 1
    # Later rounds keep it refused and counted.
    assert b_worker.run_once().refused == 1
    b_worker.stop()


def test_pending_entries_stay_in_the_projection_after_a_pull(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal()
    work(t)
    worker = worker_for(t, server, central)
    worker.run_once()
    t.station.put_back("D-1003", 1, "MUG-WHT", "A-01-02")  # not sent yet
    central.store.set_order_status("D-1005", central.store.order("D-1002").status)  # a change
    with t.ledger.write() as tx:
        from putback_tui.ledger import sync as book

        book.apply_page(
            tx,
            cursor=1,
            next_cursor=1,
            has_more=False,
            applied_through_seq=book.acked_through(tx),
            qoh=[("MUG-WHT", "A-01-02", 5)],
        )
    qoh, _ = projections(t.ledger)
    assert qoh[("MUG-WHT", "A-01-02")] == 6  # pulled 5 + the pending put-back
    assert_consistent(t)
    worker.stop()


def test_not_connected_is_reported_not_raised(make_terminal: MakeTerminal) -> None:
    t = make_terminal()
    state = SyncWorker(t.path, SyncSettings()).run_once()
    assert not state.online
    assert "putback connect" in (state.last_error or "")


def test_backoff_grows_exponentially_with_jitter_and_a_cap(tmp_path: Path) -> None:
    worker = SyncWorker(
        tmp_path / "x",
        SyncSettings(url="http://x", token=SecretStr("t")),
        backoff_base_s=1,
        backoff_max_s=30,
        rng=random.Random(7),
    )
    for failures, cap in [(1, 1), (2, 2), (3, 4), (5, 16), (9, 30)]:
        delays = {worker.backoff_delay(failures) for _ in range(20)}
        assert all(cap / 2 <= d <= cap for d in delays)
        assert len(delays) > 1


def test_an_incremental_pull_brings_another_terminals_put_back_and_nothing_else_moves(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    """After the first (full) round, a round only recomputes the keys that changed; the result
    must still equal the full rebuild and the central store's figures.
    """
    first, second = make_terminal("PACK-01"), make_terminal("PACK-02")
    b_worker = worker_for(second, server, central)
    b_worker.run_once()  # full snapshot
    second.station.open_order("D-1004")
    second.station.put_back("D-1004", 1, "BOTTLE-1L", "EX-01")  # B's own, still pending
    first.station.open_order("D-1002")
    first.station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01", 2)
    worker_for(first, server, central).run_once()
    b_worker.run_once()
    qoh, atp = projections(second.ledger)
    assert qoh[("SOCKS-3PK", "A-02-01")] == 10  # A's put-back arrived
    assert qoh[("BOTTLE-1L", "EX-01")] == 1  # B's own is applied centrally too
    assert atp["TSHIRT-BLK-M"] == 8  # untouched keys stay as they were (D-1001 released)
    assert (qoh, atp) == central.store.stock("STORE-01")
    assert_consistent(second)
    order = second.ledger.order("D-1002")
    assert order is not None
    assert order.line(2).put_back == 2
    b_worker.stop()


def test_an_order_another_terminal_reconciled_says_who_where_and_when(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    first, second = make_terminal("PACK-01"), make_terminal("PACK-02")
    work(first)
    with first.ledger.read() as tx:
        done_here = tx.reconciled("D-1002")
    assert done_here is not None  # the work reconciles D-1002 on the first terminal
    worker_for(first, server, central).run_once()
    worker_for(second, server, central).run_once()
    with second.ledger.read() as tx:
        done = tx.reconciled("D-1002")
    assert done is not None
    assert (done.operator, done.terminal) == (done_here.operator, "PACK-01")
    assert done.at == done_here.at
    view = second.station.open_order("D-1002")
    assert f"reconciled by {done.operator} at PACK-01" in view.message


def test_an_entry_the_central_store_derives_differently_leaves_the_terminal_equal_to_it(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    """A NOT IN STOCK reject zeroes every location the central store knows of, not only those
    the terminal knew: after its next round the terminal shows the central store's figures.
    """
    first, second = make_terminal("PACK-01"), make_terminal("PACK-02")
    second.station.open_order("D-1002")
    second.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "B-01-01")  # a new place for it
    worker_for(second, server, central).run_once()
    first.station.reject("D-1005", 1, RejectReason.NOT_IN_STOCK, 1)
    result = worker_for(first, server, central).run_once()
    assert result.refused == 0
    qoh, atp = central.store.stock("STORE-01")
    assert qoh[("TSHIRT-BLK-M", "B-01-01")] == 0
    mine = {(s, loc): n for s, loc, n in first.ledger.stock()[0] if s == "TSHIRT-BLK-M"}
    assert mine == {k: v for k, v in qoh.items() if k[0] == "TSHIRT-BLK-M"}
    assert dict(first.ledger.stock()[1])["TSHIRT-BLK-M"] == atp["TSHIRT-BLK-M"] == 0
    assert first.ledger.stock()
    assert first.ledger.rebuild_stock()[0] == {
        (s, loc): n for s, loc, n in first.ledger.stock()[0]
    }


def test_the_central_store_s_role_map_reaches_the_terminal_and_both_judge_by_it(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    """A site takes move-out away from operators at the central store: the terminal learns it
    with its next pull and refuses (and records) the action; the central store refuses an entry
    made before the terminal knew.
    """
    t = make_terminal("PACK-01", badge="OP-0001")
    assert t.station.may(Permission.MOVE_OUT)
    central.store.import_data(
        roles={"operator": [Permission.PUT_BACK, Permission.REJECT_ITEM],
               "supervisor": list(Permission)}
    )
    worker_for(t, server, central).run_once()
    assert t.ledger.central_roles() == {
        "operator": frozenset({Permission.PUT_BACK, Permission.REJECT_ITEM}),
        "supervisor": frozenset(Permission),
    }
    # The action itself is judged by the map in the ledger now, whatever the screens last read.
    with pytest.raises(PermissionDenied, match="permission 'move_out' is missing"):
        t.station.move_out("MUG-WHT", "EX-01", "A-01-02")
    t.station.refresh_roles()  # what the app does after each pull (off the UI thread)
    assert not t.station.may(Permission.MOVE_OUT)


def test_an_operator_the_central_store_made_inactive_cannot_sign_in_after_a_pull(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal("PACK-01")
    central.store.import_data(
        operators=[Operator(badge="OP-0001", name="Olivia Operator", role="operator",
                            active=False)]
    )
    worker_for(t, server, central).run_once()
    with pytest.raises(UnknownOperator, match="Badge OP-0001 is not known here"):
        t.station.sign_in("OP-0001")
