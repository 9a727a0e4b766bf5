"""Full garbage collections wait for a pause between scans, and the app leaves gc as it was."""

from __future__ import annotations

import gc

from textual.message import Message

from putback_tui.tui.app import PutbackApp
from putback_tui.tui.idle_gc import DEFERRED_THRESHOLD, IdleCollector
from putback_tui.tui.messages import ScanReceived

from .conftest import SteppingClock, scan


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_garbage() -> None:
    """Enough young cycles for a generation-1 collection to have run."""
    for _ in range(50_000):
        a: list[object] = []
        a.append(a)


def test_full_collections_wait_for_a_pause_and_everything_is_restored():
    before = gc.get_threshold()
    clock = Clock()
    collector = IdleCollector(clock, idle_s=1.0)
    collector.start()
    try:
        assert gc.get_freeze_count() > 0  # what exists at start-up is out of the way
        assert gc.get_threshold()[2] == DEFERRED_THRESHOLD
        make_garbage()
        assert gc.get_count()[2] > 0  # a full collection is due...
        collector.activity(clock.now)
        clock.now += 0.5
        assert not collector.tick()  # ...but the operator is busy
        clock.now += 0.6
        assert collector.tick()  # a pause: now it runs
        assert collector.collections == 1
        assert gc.get_count()[2] == 0
        assert not collector.tick()  # nothing due any more
    finally:
        collector.stop()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    assert not collector.running


def test_a_stopped_collector_does_nothing():
    collector = IdleCollector(Clock())
    collector.stop()  # never started: harmless
    assert not collector.tick()


async def test_the_app_collects_in_pauses_while_it_runs_and_restores_gc_when_it_stops(
    app: PutbackApp, clock: SteppingClock
):
    before = gc.get_threshold()
    async with app.run_test(size=(100, 30)) as pilot:
        await scan(pilot, "OP-0001")
        assert app.idle_gc.running
        assert gc.get_threshold()[2] == DEFERRED_THRESHOLD
        make_garbage()
        clock.advance(5)  # the operator pauses
        app._tick()
        assert app.idle_gc.collections == 1
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


async def test_no_collection_runs_from_a_scans_enter_until_its_outcome_is_on_screen(
    app: PutbackApp, clock: SteppingClock
) -> None:
    """With a collection due every ten allocations, a round of scans once signed in (an
    exception order, a live order, a refusal) sees none from the moment the keys become a scan
    until its outcome is on screen, and many in between.
    """
    before = gc.get_threshold()
    in_scan = False
    during: list[str] = []
    between = 0

    post = app.post_message

    def posted(message: Message) -> bool:
        nonlocal in_scan
        if isinstance(message, ScanReceived):
            in_scan = True  # the keys are a scan now
        return post(message)

    def shown(text: str) -> None:
        nonlocal in_scan
        in_scan = False

    def collected(phase: str, info: dict[str, int]) -> None:
        nonlocal between
        if phase != "start":
            return
        if in_scan:
            during.append(f"generation {info['generation']}")
        else:
            between += 1

    app.post_message = posted  # type: ignore[method-assign]
    app.scan_shown = shown  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await scan(pilot, "OP-0001")
            assert app.idle_gc.running
            gc.set_threshold(10, 2, gc.get_threshold()[2])
            gc.callbacks.append(collected)
            for text in ("D-1002", "D-1008", "D-9999", "D-1004"):
                await scan(pilot, text)
            assert not app.idle_gc.held
    finally:
        if collected in gc.callbacks:
            gc.callbacks.remove(collected)
        gc.set_threshold(*before)
    assert during == []
    assert between > 0
    assert gc.isenabled()
