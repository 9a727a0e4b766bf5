"""A real headless Chromium driven over the DevTools protocol (CDP), for the browser tests.

Small on purpose: launch Debian's ``chromium`` with a fresh profile and every background
connection off (the test machines have no network: without these flags it waits on them),
open one page, run JavaScript in it, take a screenshot. The websocket is aiohttp's (installed
with textual-serve); no browser-automation package is needed.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp

FLAGS = (
    "--headless",
    "--no-sandbox",  # root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)


def find_chromium() -> str | None:
    """The Chromium binary on PATH (Debian: ``chromium``), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One page (tab) over its CDP websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one CDP command and return its result (events arriving meanwhile are dropped).

        Raises:
            RuntimeError: Chromium answered with an error.
        """
        call_id = next(self._ids)
        await self._ws.send_str(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = await self._ws.receive_json()
            if message.get("id") != call_id:
                continue
            if "error" in message:
                raise RuntimeError(f"{method}: {message['error']}")
            result: dict[str, Any] = message.get("result", {})
            return result

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited if it is a promise)."""
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}…: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def screenshot(self) -> bytes:
        """What the page shows, as a PNG."""
        shot = await self.call("Page.captureScreenshot", format="png")
        return base64.b64decode(shot["data"])


@contextmanager
def running_chromium(
    binary: str, profile: Path, *, width: int = 1280, height: int = 800
) -> Iterator[int]:
    """Start Chromium with a fresh profile; yield its DevTools port; stop it after.

    Raises:
        RuntimeError: Chromium did not open its DevTools port within 60 seconds.
    """
    profile.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         f"--window-size={width},{height}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield _devtools_port(proc, profile / "DevToolsActivePort")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _devtools_port(proc: subprocess.Popen[bytes], port_file: Path) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode} before opening DevTools")
        if port_file.exists() and (first := port_file.read_text().split("\n")[0]).isdigit():
            return int(first)
        time.sleep(0.05)
    raise RuntimeError("chromium did not open its DevTools port within 60 s")


@asynccontextmanager
async def page_of(port: int) -> AsyncIterator[Page]:
    """The first page of the Chromium whose DevTools listen on ``port``."""
    async with aiohttp.ClientSession() as http:
        targets = await _page_targets(http, port)
        async with http.ws_connect(targets[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            page = Page(ws)
            await page.call("Page.enable")
            await page.call("Runtime.enable")
            yield page


async def _page_targets(http: aiohttp.ClientSession, port: int) -> list[dict[str, Any]]:
    for _ in range(600):
        async with http.get(f"http://127.0.0.1:{port}/json/list") as answer:
            targets = [t for t in await answer.json() if t.get("type") == "page"]
        if targets:
            return targets
        await asyncio.sleep(0.05)
    raise RuntimeError("chromium shows no page")
