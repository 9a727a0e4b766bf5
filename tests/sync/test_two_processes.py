"""Two ``central serve`` processes on two ports against one PostgreSQL behave as one central store:
terminals spread over them race on the same order, one process is killed mid-load, and its
terminals, sent to the other port, converge with everyone else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

import putback_tui
from putback_tui.central.imports import import_path
from putback_tui.central.server import free_port
from putback_tui.central.storage import open_store
from putback_tui.config import SyncSettings
from putback_tui.dataset import DEMO_DIR
from putback_tui.domain.entries import EntryKind
from putback_tui.sync.worker import SyncWorker
from putback_tui.wire import ClientKind
from tests.central_support import MakeTerminal, Terminal
from tests.support.throwaway_pg import ThrowawayPostgres
from tests.sync.test_worker import assert_consistent, projections

pytestmark = pytest.mark.postgres


def serve(db: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``putback central serve`` in a process of its own; returns it and its URL once it answers."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from putback_tui.cli import main; main()", "central",
             "serve", "--db", db, "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(Path(putback_tui.__file__).parents[1])},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            httpx.get(url + "/openapi.json", timeout=1)
            return proc, url
        except httpx.HTTPError:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)


def worker(t: Terminal, url: str, token: str) -> SyncWorker:
    return SyncWorker(
        t.path,
        SyncSettings(url=url, token=SecretStr(token), batch_size=3, interval_s=0.05),
        backoff_base_s=0.02,
        backoff_max_s=0.1,
    )


def sync_until_sent(w: SyncWorker, stop: threading.Event, timeout_s: float = 120) -> None:
    """Rounds until nothing waits (or ``stop``); a failing round is simply tried again."""
    deadline = time.monotonic() + timeout_s
    while not stop.is_set() and time.monotonic() < deadline:
        state = w.run_once()
        if state.waiting == 0 and state.last_error is None:
            return
        time.sleep(0.02)


def test_two_processes_on_two_ports_through_races_and_a_kill_are_one_central_store(
    pg_cluster: ThrowawayPostgres, make_terminal: MakeTerminal, tmp_path: Path
) -> None:
    """Four terminals of one facility, two on each process, all put back the same line of
    D-1002, then undo and put back its other line over and over. One process is killed with
    SIGKILL while they sync; its terminals are pointed at the other port. In the end every
    entry is recorded exactly once, the first put-back of the shared line is applied for one
    terminal and refused for the others, and every terminal's stock equals the central store's.
    """
    db = pg_cluster.create_database()
    store = open_store(db)
    import_path(store, DEMO_DIR)
    names = ["PACK-01", "PACK-02", "PACK-03", "PACK-04"]
    tokens = {n: store.add_client(n, ClientKind.TERMINAL, "STORE-01") for n in names}
    terminals = {n: make_terminal(n) for n in names}
    shared: dict[str, str] = {}  # terminal -> entry ID of its put-back of D-1002 line 1
    for name, t in terminals.items():
        t.station.open_order("D-1002")
        shared[name] = t.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01").entry_id
        for _ in range(25):
            t.station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01", 2)
            t.station.undo_last_put_back("D-1002")
    a, url_a = serve(db, tmp_path / "a.log")
    b, url_b = serve(db, tmp_path / "b.log")
    try:
        home = {"PACK-01": url_a, "PACK-02": url_b, "PACK-03": url_a, "PACK-04": url_b}
        stop = threading.Event()
        workers = {n: worker(terminals[n], home[n], tokens[n]) for n in names}
        threads = {n: threading.Thread(target=sync_until_sent, args=(workers[n], stop))
                   for n in names}
        for thread in threads.values():
            thread.start()
        # Kill B once its terminals have been heard from: mid-load (whatever the timing, the
        # outcome asserted below must hold).
        deadline = time.monotonic() + 60
        while store.last_seq("PACK-02") + store.last_seq("PACK-04") < 6:
            assert time.monotonic() < deadline, "process B applied nothing"
            time.sleep(0.005)
        b.send_signal(signal.SIGKILL)
        b.wait(timeout=30)
        for n in ("PACK-02", "PACK-04"):
            threads[n].join(timeout=0.5)
        stop.set()
        for thread in threads.values():
            thread.join()
        # B's terminals are sent to A; then every terminal pulls what the others did.
        for n in ("PACK-02", "PACK-04"):
            workers[n] = worker(terminals[n], url_a, tokens[n])
        for n in names:
            sync_until_sent(workers[n], threading.Event())
        for n in names:
            state = workers[n].run_once()
            assert (state.waiting, state.last_error) == (0, None), n
    finally:
        for proc in (a, b):
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
    recorded = {n: store.recorded(n) for n in names}
    every = [entry_id for rows in recorded.values() for entry_id, _, _ in rows]
    assert len(every) == len(set(every))
    central_stock = store.stock("STORE-01")
    for n, t in terminals.items():
        assert [r[0] for r in recorded[n]] == [e.entry_id for e in t.ledger.entries()], n
        assert projections(t.ledger) == central_stock, n
        assert_consistent(t)
        assert t.ledger.order("D-1002") == store.order("D-1002"), n
    outcome = {entry_id: out for rows in recorded.values() for entry_id, out, _ in rows}
    assert sorted(outcome[shared[n]] for n in names) == ["applied", "refused", "refused",
                                                         "refused"]
    order = store.order("D-1002")
    assert order is not None
    assert order.line(1).put_back == 1
    kinds = {e.kind for t in terminals.values() for e in t.ledger.entries()}
    assert kinds == {EntryKind.PUT_BACK, EntryKind.UNDO}
    assert store.health().failures_total == 0
    store.close()
