"""Fixtures for the UI tests: an isolated home with the demo data, an app with frozen clocks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from textual import events
from textual.keys import _character_to_key
from textual.pilot import Pilot

from putback_tui.config import Settings
from putback_tui.ledger import Ledger
from putback_tui.tui.app import PutbackApp, make_app

FROZEN = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
"""The wall clock every UI test sees: snapshots never show a moving time."""


class SteppingClock:
    """A monotonic clock that moves only when told (key gaps, double reads)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> SteppingClock:
    """The app's monotonic clock."""
    return SteppingClock()


@pytest.fixture
def app(demo_ledger: Ledger, clock: SteppingClock) -> PutbackApp:
    """The app on the demo data, signed out, with frozen clocks."""
    return make_app(demo_ledger, Settings(), clock=lambda: FROZEN, monotonic=clock)


def key_for(char: str) -> events.Key:
    """The key event a terminal produces for one typed character."""
    if char in "\r\n":
        return events.Key("enter", "\r")
    if char == "\t":
        return events.Key("tab", "\t")
    return events.Key(_character_to_key(char), char)


def send_keys(app: PutbackApp, text: str) -> None:
    """Deliver keys as a keyboard-wedge burst (queued at once, as a scanner types them)."""
    for char in text:
        app.post_message(key_for(char))


async def scan(pilot: Pilot[int], text: str, *, gap: float = 1.0) -> None:
    """Scan ``text`` like a wedge scanner (keys, then Enter) and wait until the app is idle.

    The stepping clock moves ``gap`` seconds first, so a deliberate repeat scan is never taken
    for a double read.
    """
    app = pilot.app
    assert isinstance(app, PutbackApp)
    clock = app.monotonic
    if isinstance(clock, SteppingClock):
        clock.advance(gap)
    send_keys(app, text + "\r")
    await settle(pilot)


async def settle(pilot: Pilot[int]) -> None:
    """Wait until every queued message and worker is done.

    A worker may end in an error the app reads itself: a slow station call's refusal ends its
    thread worker so, and the action that awaited it shows the refusal (``_wait_slow``). Such
    an error is the app's to show, not this wait's to raise (``wait_for_complete`` raised it
    whenever the call was still running when the test began to wait: on a loaded machine).
    A worker whose error the app does not handle stops the app, and the test fails there.
    """
    app = pilot.app
    for _ in range(3):
        await pilot.pause()
        await asyncio.gather(*(w.wait() for w in list(app.workers)), return_exceptions=True)
    await pilot.pause()


def screen_text(app: PutbackApp) -> str:
    """Everything on screen as plain text, line by line: what the operator reads."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)


def stock_of(ledger: Ledger, sku: str) -> tuple[dict[str, int], int]:
    """QOH by location and ATP of one SKU."""
    qoh, atp = ledger.stock(sku)
    return {loc: n for _, loc, n in qoh}, dict(atp).get(sku, 0)
