"""Reading evemu-record and evtest recordings, and live evdev events, into the same decoder."""

from __future__ import annotations

import pytest

from putback_tui.scanners.decoder import ScanDecoder
from putback_tui.scanners.recordings import (
    RecordingError,
    parse_evemu,
    parse_evtest,
    parse_recording,
    read_recording,
)
from tests.scanners.scanner_helpers import RECORDINGS, SYMBOL_NAME
from tests.unavailable import import_evdev


def test_evemu_recording_names_its_device() -> None:
    recording = read_recording(RECORDINGS / "us-basic.evemu")
    assert (recording.format, recording.name) == ("evemu", SYMBOL_NAME)
    assert (recording.vendor, recording.product) == (0x05E0, 0x1200)


def test_evtest_recording_names_its_device() -> None:
    recording = read_recording(RECORDINGS / "de.evtest")
    assert recording.format == "evtest"
    assert recording.name == "Honeywell Imaging & Mobility 1900"
    assert (recording.vendor, recording.product) == (0x0C2E, 0x0B61)


def test_old_evemu_without_comments_reads_the_same() -> None:
    text = "N: Old\nI: 0003 05e0 1200 0111\nE: 1.000000 0001 001e 1\nE: 1.000000 0000 0000 0\n"
    recording = parse_evemu(text)
    assert recording.name == "Old"
    assert [(e.type, e.code, e.value) for e in recording.events] == [(1, 30, 1), (0, 0, 0)]


def test_evtest_prints_msc_scan_in_hex_and_syn_dropped_in_its_own_way() -> None:
    text = (
        "Event: time 5.000001, type 4 (EV_MSC), code 4 (MSC_SCAN), value 7001e\n"
        "Event: time 5.000001, >>>>>>>>>>>>>> SYN_DROPPED <<<<<<<<<<<<\n"
    )
    events = parse_evtest(text).events
    assert [(e.type, e.code, e.value) for e in events] == [(4, 4, 0x7001E), (0, 3, 0)]


def test_an_evtest_file_read_as_evemu_says_which_line_is_wrong() -> None:
    text = (RECORDINGS / "ctrl.evtest").read_text()
    with pytest.raises(RecordingError, match="line 1: not an evemu-record line"):
        parse_recording(text, "evemu")


def test_text_that_is_no_recording_is_refused() -> None:
    with pytest.raises(RecordingError, match="not a recording"):
        parse_recording("hello\nworld\n")


def test_a_damaged_evtest_event_line_is_refused() -> None:
    with pytest.raises(RecordingError, match="line 2"):
        parse_evtest("Testing ...\nEvent: time 1.0, type 1 (EV_KEY), code 30 (KEY_A)\n")


def test_live_evdev_events_decode_like_the_recording() -> None:
    evdev = import_evdev()
    from putback_tui.scanners.device import to_raw

    recording = read_recording(RECORDINGS / "gs1-altcode.evemu")
    live = [
        to_raw(evdev.InputEvent(int(e.timestamp), round(e.timestamp % 1 * 1e6), *e[:3]))
        for e in recording.events
    ]
    from_device = [scan.text for scan in ScanDecoder().feed_all(live)]
    from_file = [scan.text for scan in ScanDecoder().feed_all(recording.events)]
    assert from_device == from_file
    assert from_device[0].endswith("123\x1d21s45")
