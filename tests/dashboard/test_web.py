"""``putback central dashboard --web`` in a real headless Chromium: the facility row arrives.

The page is textual-serve's: xterm.js draws the dashboard's screen (on a canvas), so the test
reads xterm's own screen buffer through the DevTools protocol: a hook installed before the
page's scripts run keeps the ``Terminal`` object textual-serve creates.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from putback_tui.central.server import free_port
from putback_tui.domain.models import now_utc
from putback_tui.sync.worker import SyncWorker
from tests.central_support import MakeTerminal
from tests.support.cdp import find_chromium, page_of, running_chromium
from tests.unavailable import unavailable

from .conftest import Network, more_orders

KEEP_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, "terminal", {
      value, writable: true, configurable: true, enumerable: true,
    });
    if (value && value.buffer) { window.__putbackTerminal = value; }
  },
});
"""
"""Runs before textual-serve's script: its ``this.terminal = new Terminal(...)`` lands here."""

SCREEN_TEXT = """
(() => {
  const t = window.__putbackTerminal;
  if (!t) { return ""; }
  const buffer = t.buffer.active, rows = [];
  for (let y = 0; y < t.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
})()
"""
"""The text on xterm's screen, row by row."""

SCREENSHOT = Path(__file__).parents[2] / "docs" / "dashboard-web.png"


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[int]:
    """A headless Chromium with a fresh profile: its DevTools port."""
    binary = find_chromium()
    if binary is None:
        unavailable("chromium", "no chromium on PATH (Debian: apt-get install chromium)")
    with running_chromium(binary, tmp_path / "profile", width=1280, height=720) as port:
        yield port


@pytest.fixture
def web_dashboard(network: Network, make_terminal: MakeTerminal) -> Iterator[WebDashboard]:
    """``putback central dashboard --web`` on a free port, for the demo central store with
    :func:`more_orders`, after PACK-01 put back all of D-1002 and synced.
    """
    more_orders(network, now_utc())
    t = make_terminal("PACK-01")
    t.station.sign_in("OP-0001")
    t.station.open_order("D-1002")
    t.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    t.station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01", 2)
    SyncWorker(t.path, t.sync_settings(network.server.url, network.terminals["PACK-01"])).run_once()
    port = free_port()
    env = {**os.environ, "PUTBACK_DASHBOARD_TOKEN": network.viewer}
    proc = subprocess.Popen(
        [sys.executable, "-m", "putback_tui.cli", "central", "dashboard", "--web",
         "--port", str(port), "--url", network.server.url, "--refresh", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    served = WebDashboard(f"http://127.0.0.1:{port}", network.server.url, proc)
    try:
        _wait_for_port(port, proc)
        yield served
    finally:
        served.stop()
        for pid in _dashboards_of(network.server.url):  # what a failed test left running
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@dataclass
class WebDashboard:
    """``--web`` serving on ``url``, for the central store at ``central``."""

    url: str
    central: str
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop the server as a service manager would (SIGTERM)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _dashboards_of(central: str) -> list[int]:
    """The dashboard processes (one per browser tab) running for the central store ``central``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"putback_tui.dashboard" in argv and central.encode() in argv:
            found.append(int(entry.name))
    return found


def _wait_for_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            pytest.fail(f"the web dashboard exited ({proc.returncode}):\n{out}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail("the web dashboard did not listen within 60 s")


async def _screen_with(page: object, needle: str) -> str:
    """Wait (at most 60 s of the page's work) until xterm's screen shows ``needle``."""
    text = ""
    for _ in range(600):
        text = await page.evaluate(SCREEN_TEXT)  # type: ignore[attr-defined]
        if needle in text:
            return text
        await asyncio.sleep(0.1)
    raise AssertionError(f"{needle!r} never appeared; the screen shows:\n{text}")


async def test_the_dashboard_in_a_browser_shows_the_facility_row(
    chromium: int, web_dashboard: WebDashboard
) -> None:
    async with page_of(chromium) as page:
        await page.call("Page.addScriptToEvaluateOnNewDocument", source=KEEP_TERMINAL)
        await page.call("Page.navigate", url=web_dashboard.url)
        text = await _screen_with(page, "STORE-01")
        assert "putback · network backlog" in text
        assert "central store answering" in text
        row = next(line for line in text.splitlines() if "STORE-01" in line)
        assert row.split()[:5] == ["STORE-01", "5", "3", "1", "7"]
        assert "STORE-02" in text
        # Enter opens the facility, as in a terminal (keys go to xterm's focused textarea).
        await page.evaluate("window.__putbackTerminal.focus()")
        await page.call("Input.dispatchKeyEvent", type="keyDown", key="Enter", code="Enter",
                        windowsVirtualKeyCode=13, text="\r")
        await page.call("Input.dispatchKeyEvent", type="keyUp", key="Enter", code="Enter",
                        windowsVirtualKeyCode=13)
        await _screen_with(page, "putback · facility STORE-01")
        text = await _screen_with(page, "X-2002")
        assert "due in" in text
        if os.environ.get("PUTBACK_SAVE_SCREENSHOT"):  # the one in docs/, reviewed by eye
            png = await page.screenshot()
            SCREENSHOT.write_bytes(png)
        assert _dashboards_of(web_dashboard.central)  # the tab's own dashboard runs
    # Stopping --web stops the tabs' dashboards too (textual-serve leaves them running; each
    # quits once its server is gone), rather than leave them polling the central store.
    web_dashboard.stop()
    for _ in range(75):  # each checks every second that its server is there
        if not _dashboards_of(web_dashboard.central):
            break
        await asyncio.sleep(0.2)
    assert _dashboards_of(web_dashboard.central) == []
