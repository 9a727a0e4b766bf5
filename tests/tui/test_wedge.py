"""Keyboard-wedge input as pure logic (tui/wedge.py): keys become scans at the terminator, a
scanner's burst is told from typing, the second half of a CR LF suffix is swallowed, and a double
read of the same label within the window is dropped, the window restarting on every read.

Times are the arrival times the app passes in (monotonic seconds), never the clock.
"""

from __future__ import annotations

import pytest

from putback_tui.tui.wedge import MAX_BUFFER, Completed, DoubleReadFilter, WedgeBuffer

GAP = 0.06  # the default wedge_max_gap_ms


def typed(buffer: WedgeBuffer, text: str, start: float, step: float) -> float:
    """Feed ``text`` one key every ``step`` seconds from ``start``; the time of the last key."""
    at = start
    for i, char in enumerate(text):
        at = start + i * step
        buffer.feed(char, at)
    return at


def test_a_scanner_burst_ends_at_the_terminator() -> None:
    buffer = WedgeBuffer(GAP)
    last = typed(buffer, "4006381333931", 10.0, 0.004)
    assert buffer.text == "4006381333931"
    assert buffer.terminate(last + 0.004) == Completed("4006381333931", 13, burst=True)
    assert not buffer
    assert buffer.text == ""


def test_slow_typing_is_not_a_burst() -> None:
    buffer = WedgeBuffer(GAP)
    last = typed(buffer, "D-1002", 10.0, 0.25)
    assert buffer.terminate(last + 0.1) == Completed("D-1002", 6, burst=False)


def test_one_slow_key_in_a_burst_makes_it_typing() -> None:
    buffer = WedgeBuffer(GAP)
    last = typed(buffer, "ABC", 10.0, 0.01)
    buffer.feed("D", last + GAP + 0.001)
    assert buffer.terminate(last + GAP + 0.005) == Completed("ABCD", 4, burst=False)


def test_a_late_terminator_makes_it_typing() -> None:
    buffer = WedgeBuffer(GAP)
    last = typed(buffer, "ABC", 10.0, 0.01)
    assert buffer.terminate(last + GAP + 0.001) == Completed("ABC", 3, burst=False)


def test_keys_exactly_the_gap_apart_are_still_a_burst() -> None:
    buffer = WedgeBuffer(0.5)
    last = typed(buffer, "AB", 10.0, 0.5)
    assert buffer.terminate(last + 0.5) == Completed("AB", 2, burst=True)


def test_one_key_is_never_a_burst() -> None:
    buffer = WedgeBuffer(GAP)
    buffer.feed("7", 10.0)
    assert buffer.terminate(10.001) == Completed("7", 1, burst=False)


def test_a_terminator_with_nothing_typed_is_the_operators_own_key() -> None:
    buffer = WedgeBuffer(GAP)
    assert buffer.terminate(10.0) is None
    assert not buffer.swallows(10.0)  # no scan has ended: Enter is Enter


def test_the_second_half_of_a_cr_lf_suffix_is_swallowed_within_the_gap_only() -> None:
    buffer = WedgeBuffer(0.5)  # times in binary fractions below: exact sums, exact comparisons
    last = typed(buffer, "LOC:A-01-01", 10.0, 0.125)
    ended = last + 0.125
    assert buffer.terminate(ended) is not None
    assert buffer.terminate(ended + 0.125) is None  # LF: nothing buffered...
    assert buffer.swallows(ended + 0.125)  # ...and it belongs to the scan
    assert buffer.swallows(ended + 0.5)
    assert not buffer.swallows(ended + 0.625)  # later: the operator pressed Enter


def test_a_new_scan_after_a_pause_starts_a_new_burst() -> None:
    buffer = WedgeBuffer(GAP)
    last = typed(buffer, "AAAA", 10.0, 0.005)
    assert buffer.terminate(last + 0.005) == Completed("AAAA", 4, burst=True)
    last = typed(buffer, "BBBB", 20.0, 0.005)  # ten seconds later: the gap before is not counted
    assert buffer.terminate(last + 0.005) == Completed("BBBB", 4, burst=True)


def test_backspace_takes_back_the_last_character() -> None:
    buffer = WedgeBuffer(GAP)
    typed(buffer, "D-10022", 10.0, 0.3)
    buffer.backspace()
    assert buffer.text == "D-1002"
    assert buffer.terminate(12.5) == Completed("D-1002", 6, burst=False)
    buffer.backspace()  # nothing left: nothing happens
    assert buffer.text == ""


def test_clear_forgets_what_was_typed() -> None:
    buffer = WedgeBuffer(GAP)
    typed(buffer, "XYZ", 10.0, 0.01)
    buffer.clear()
    assert not buffer
    assert buffer.terminate(10.05) is None


def test_a_stuck_key_keeps_at_most_max_buffer_characters_but_counts_them_all() -> None:
    buffer = WedgeBuffer(GAP)
    for i in range(MAX_BUFFER + 10):
        buffer.feed("x", 10.0 + i * 0.001)
    done = buffer.terminate(10.0 + (MAX_BUFFER + 10) * 0.001)
    assert done is not None
    assert len(done.text) == MAX_BUFFER
    assert done.length == MAX_BUFFER + 10  # so the scan is refused as too long


# --- double reads ---------------------------------------------------------------------------


def test_a_second_read_of_the_same_label_within_the_window_is_dropped_and_counted() -> None:
    reads = DoubleReadFilter(0.5)
    assert reads.accept("4006381333931", 10.0)
    assert not reads.accept("4006381333931", 10.3)
    assert reads.dropped == 1


def test_the_same_label_after_the_window_is_a_new_scan() -> None:
    reads = DoubleReadFilter(0.5)
    assert reads.accept("4006381333931", 10.0)
    assert reads.accept("4006381333931", 10.5)  # the window is half-open: 0.5 s later counts
    assert reads.dropped == 0


def test_another_label_within_the_window_is_a_scan() -> None:
    reads = DoubleReadFilter(0.5)
    assert reads.accept("4006381333931", 10.0)
    assert reads.accept("LOC:A-01-01", 10.1)
    assert reads.accept("4006381333931", 10.2)  # the last read was another label
    assert reads.dropped == 0


def test_every_read_restarts_the_window_accepted_or_not() -> None:
    """A scanner firing at one label every 0.4 s while the trigger is held: one scan, however
    long it is held, although each read is more than the 0.5 s window after the accepted one.
    """
    reads = DoubleReadFilter(0.5)
    assert [reads.accept("4006381333931", 10.0 + 0.4 * i) for i in range(6)] == [
        True, False, False, False, False, False
    ]
    assert reads.dropped == 5
    assert reads.accept("4006381333931", 10.0 + 0.4 * 5 + 0.5)  # released, then scanned again


@pytest.mark.parametrize("window_s", [0.0, 0.001])
def test_a_window_of_nothing_drops_nothing_read_at_another_moment(window_s: float) -> None:
    reads = DoubleReadFilter(window_s)
    assert reads.accept("A", 10.0)
    assert reads.accept("A", 10.002)
    assert reads.dropped == 0
