"""The worklist read by a helper process: the same list, out of a scan's way, and never a
missing list or a process left behind (``putback_tui.worklist_process``).

Real processes throughout: the helper is this Python running the module, on the demo ledger.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from putback_tui.config import Settings
from putback_tui.ledger import Ledger
from putback_tui.station import Station
from putback_tui.tui.app import PutbackApp
from putback_tui.tui.screens.order import OrderScreen
from putback_tui.worklist_process import (
    MAX_FAILURES,
    HelperFailed,
    WorklistProcess,
    _send,
    gate_pause,
)

from .conftest import FROZEN, scan, settle
from .test_supervisor_flows import sign_in
from .test_worklist_feed import new_exception, pull, status_bar, worklist_keys


def gone(pid: int, within_s: float = 10.0) -> bool:
    """True once process ``pid`` has exited (a zombie nobody reaped counts as exited)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def helper_of(ledger: Ledger) -> WorklistProcess:
    settings = Settings()
    return WorklistProcess(ledger.path, "STORE-01", settings.sla, settings.priority)


# -- the helper on its own -----------------------------------------------------------------------


def test_the_helper_reads_the_same_list_as_the_station(demo_ledger: Ledger) -> None:
    station = Station(demo_ledger, Settings())
    helper = helper_of(demo_ledger)
    try:
        from_helper = helper.read(FROZEN)
        assert from_helper == station.worklist(now=FROZEN)
        assert [r.order_id for r in from_helper.rows] == ["D-1002", "D-1003", "D-1004", "D-1007"]
        assert helper.read(FROZEN, limit=2).rows == from_helper.rows[:2]
        pid = helper.pid
        assert pid is not None
    finally:
        helper.close()
    assert gone(pid)
    assert helper.pid is None
    with pytest.raises(HelperFailed):  # closed: it starts no new helper
        helper.read(FROZEN)


def test_a_killed_helper_is_replaced_and_the_list_is_still_right(demo_ledger: Ledger) -> None:
    station = Station(demo_ledger, Settings())
    helper = helper_of(demo_ledger)
    try:
        helper.read(FROZEN)
        first = helper.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert gone(first)
        assert helper.read(FROZEN) == station.worklist(now=FROZEN)
        assert helper.starts == 2
        assert helper.pid not in (None, first)
    finally:
        helper.close()


def test_a_helper_that_dies_on_every_read_is_given_up_after_a_few(demo_ledger: Ledger) -> None:
    helper = WorklistProcess(
        demo_ledger.path,
        "STORE-01",
        Settings().sla,
        Settings().priority,
        command=[sys.executable, "-c", "import sys; sys.exit(3)"],
    )
    try:
        for _ in range(MAX_FAILURES):
            with pytest.raises(HelperFailed):
                helper.read(FROZEN)
        assert not helper.usable
        with pytest.raises(HelperFailed):
            helper.read(FROZEN)
        assert helper.starts == MAX_FAILURES  # no more after it gave up
    finally:
        helper.close()


def test_the_helper_waits_while_a_scan_is_handled(demo_ledger: Ledger) -> None:
    """The app's scan gate, mirrored into shared memory: the helper does not read while it is
    set, and goes on when the scan is shown.
    """
    helper = helper_of(demo_ledger)
    try:
        helper.start()
        proc = helper._proc
        assert proc is not None
        assert proc.stdin is not None
        assert proc.stdout is not None
        helper.scan_busy(True)
        _send(proc.stdin, (FROZEN, None))
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        assert not ready, "the helper answered while a scan was being handled"
        helper.scan_busy(False)
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "the helper did not go on once the scan was shown"
    finally:
        helper.close()


def test_a_waiting_helper_goes_on_after_its_budget_when_no_enter_comes() -> None:
    """Keys typed with no Enter after them hold the helper up only briefly (like the thread)."""
    gate = bytearray(b"\x01")
    pause = gate_pause(gate, max_wait_s=0.05)
    for _ in range(100):  # the budget is the read's, not each order's
        pause()
    assert gate[0] == 1


def test_a_helper_ends_when_the_app_is_killed(tmp_path: Path, demo_ledger: Ledger) -> None:
    """The app killed outright (kill -9): its helper sees its input end and exits."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from putback_tui.config import Settings
        from putback_tui.worklist_process import WorklistProcess
        from datetime import datetime, UTC
        s = Settings()
        h = WorklistProcess(Path({str(demo_ledger.path)!r}), "STORE-01", s.sla, s.priority)
        h.read(datetime.now(UTC))
        print(h.pid, flush=True)
        time.sleep(60)
        """
    )
    app = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout is not None
        pid = int(app.stdout.readline())
        assert not gone(pid, within_s=0.2)
        app.kill()
        app.wait()
        assert gone(pid), "the helper outlived the app"
    finally:
        app.kill()
        app.wait()


# -- the app with a helper -----------------------------------------------------------------------


async def test_the_app_reads_a_long_list_by_its_helper_and_quits_without_leaving_it(
    app: PutbackApp, demo_ledger: Ledger
) -> None:
    """Four waiting orders count as a long list here: the second read is the helper's. A pull
    shows up on the list as before; a killed helper is replaced at the next read; quitting the
    app leaves no helper behind.
    """
    app.worklist_feed.helper_from = 1
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        helper = app.worklist_feed.helper
        assert helper is not None
        assert worklist_keys(app) == ["D-1002", "D-1003", "D-1004", "D-1007"]
        pull(demo_ledger, 1, orders=[new_exception("D-2001")])
        app.sync_state_changed_from_thread(True, 0, 0, FROZEN, None)
        await settle(pilot)
        assert helper.starts == 1
        assert helper.failures == 0
        assert "D-2001" in worklist_keys(app)
        assert "5 waiting" in status_bar(app)
        assert app.result is not None
        assert app.result.text == "New exception: D-2001 cancelled, 2 units to put back."

        first = helper.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert gone(first)
        pull(demo_ledger, 2, orders=[new_exception("D-2002")])
        app.sync_state_changed_from_thread(True, 0, 0, FROZEN, None)
        await settle(pilot)
        assert "D-2002" in worklist_keys(app)
        assert "6 waiting" in status_bar(app)
        await scan(pilot, "D-2002")
        assert not isinstance(app.screen, OrderScreen)
        second = helper.pid
        assert second not in (None, first)
    assert gone(second)


async def test_a_helper_that_cannot_start_leaves_the_list_to_the_thread(
    app: PutbackApp, demo_ledger: Ledger
) -> None:
    app.worklist_feed.helper_from = 1
    app.worklist_feed.helper_command = [str(Path("/nonexistent/python"))]
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        for cursor in range(1, MAX_FAILURES + 2):
            pull(demo_ledger, cursor, orders=[new_exception(f"D-20{cursor:02}")])
            app.sync_state_changed_from_thread(True, 0, 0, FROZEN, None)
            await settle(pilot)
            assert f"D-20{cursor:02}" in worklist_keys(app)
        helper = app.worklist_feed.helper
        assert helper is not None
        assert not helper.usable
        assert helper.starts == 0
        assert f"{4 + MAX_FAILURES + 1} waiting" in status_bar(app)
