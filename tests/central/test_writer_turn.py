"""The writers' turn within one process hands the turn over in the order writers came."""

from __future__ import annotations

import threading

from putback_tui.central.engines import StoreError, _WriterTurn


def _queued(turns: _WriterTurn, facility: str | None, n: int) -> None:
    """Wait until ``n`` writers are queued for the turn of ``facility``."""
    while turns.waiting(facility) < n:
        threading.Event().wait(0.001)


def test_writers_get_the_turn_in_the_order_they_came_and_none_jumps_the_queue() -> None:
    """A writer that has just had its turn and asks again comes after those already waiting.

    A plain lock lets whichever thread runs next take it: the writer that just finished
    could take it again ahead of writers that waited (the long tail of answer times when
    50 terminals push at once).
    """
    for facility in ("F1", None):
        turns = _WriterTurn(wait_s=30)
        order: list[str] = []
        writers: list[threading.Thread] = []

        def write(
            name: str,
            facility: str | None = facility,
            turns: _WriterTurn = turns,
            order: list[str] = order,
        ) -> None:
            with turns.turn(facility):
                order.append(name)

        first = turns.turn(facility)
        first.__enter__()
        for n, name in enumerate(("W1", "W2", "W3", "W4")):
            writers.append(threading.Thread(target=write, args=(name,)))
            writers[-1].start()
            _queued(turns, facility, n + 1)
        first.__exit__(None, None, None)
        write("again")  # the first writer, at once: after the four waiting
        for t in writers:
            t.join()
        assert order == ["W1", "W2", "W3", "W4", "again"], facility


def test_a_writer_that_waits_too_long_leaves_the_queue_and_the_next_one_goes_on() -> None:
    turns = _WriterTurn(wait_s=0.05)
    first = turns.turn("F1")
    first.__enter__()
    failed: list[str] = []

    def impatient() -> None:
        try:
            with turns.turn("F1"):
                pass
        except StoreError as exc:
            failed.append(str(exc))

    t = threading.Thread(target=impatient)
    t.start()
    t.join()
    assert failed == ["another write kept the database busy for 0.05 s"]
    assert turns.waiting("F1") == 0
    first.__exit__(None, None, None)
    with turns.turn("F1"):  # free again
        pass
