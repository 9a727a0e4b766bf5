"""Decoding recorded scans: every layout, modifier style, keypad, Alt codes, Ctrl, terminators."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from putback_tui.scanners import events as ev
from putback_tui.scanners.decoder import ScanDecoder, alt_code_character
from putback_tui.scanners.recordings import escape_controls
from putback_tui.scanners.settings import ScannerSettings
from tests.scanners.scanner_helpers import replay
from tests.unavailable import import_evdev


@pytest.mark.parametrize(
    ("recording", "layout", "expected"),
    [
        ("us-basic.evemu", "us", ["AAaa00", "Order-123/X", "@ #_.,;'="]),
        ("uk.evemu", "uk", ['"@£#\\¬€']),
        ("de.evtest", "de", ["zyZ@ßüÄ-/[]=", "^êá`@,"]),
        ("fr.evemu", "fr", ["1230aqzwm@é,?", "êï."]),
    ],
)
def test_each_layout_decodes_its_scanner(recording: str, layout: str, expected: list[str]) -> None:
    assert replay(recording, layout=layout) == expected


def test_the_layout_is_chosen_per_scanner() -> None:
    # The German scanner's keys read as US: Y and Z swapped back, no umlauts.
    assert replay("de.evtest", layout="us")[0].startswith("yzY")


@pytest.mark.parametrize(
    "recording", ["us-same-frame.evtest", "us-key-first.evtest", "us-one-frame.evtest"]
)
def test_modifiers_in_the_same_frame_as_the_key(recording: str) -> None:
    assert replay(recording) == ["AAaa00", "AbCd"]


def test_capital_after_a_separate_shift_event_and_doubled_characters_kept() -> None:
    assert replay("us-basic.evemu")[0] == "AAaa00"


def test_caps_lock_capitalises_letters_only_and_shift_inverts_it() -> None:
    assert replay("us-capslock.evtest") == ["AB1c!d"]


def test_keypad_keys_and_keypad_enter() -> None:
    assert replay("keypad.evtest") == ["1234567890-+/*."]


def test_gs1_with_gs_as_alt_029_and_alt_code_mode() -> None:
    assert replay("gs1-altcode.evemu") == [
        "01095011015300031725123110Abc123\x1d21s45",
        # the keypad keys of Alt+029 all inside one SYN frame
        "010950110153000310L1\x1d21X",
        # every character as an Alt code; Alt+0196 is Windows-1252 Ä
        "ABÄ1",
    ]


def test_ctrl_letter_and_bracket_are_control_characters() -> None:
    assert replay("ctrl.evtest") == ["\x0212\x1d34\x04", "a\ufffdb"]


def test_a_key_that_types_nothing_known_marks_the_scan_instead_of_vanishing() -> None:
    assert "\ufffd" in replay("ctrl.evtest")[1]


def test_repeats_and_leds_ignored_tab_and_silence_end_scans() -> None:
    assert replay("repeat-tab-silence.evemu") == ["abb", "xy", "123", "456"]


def test_without_silence_only_terminators_end_scans() -> None:
    assert replay("repeat-tab-silence.evemu", silence_ms=0) == ["abb", "xy", "123456"]


def test_tab_kept_in_the_text_when_it_is_not_a_terminator() -> None:
    assert replay("repeat-tab-silence.evemu", terminators=["enter"]) == [
        "abb\t", "xy", "123", "456\t",
    ]


def test_prefix_and_suffix_stripped() -> None:
    scans = replay("prefix-suffix.evtest", terminators=["enter"], prefix="<", suffix=">")
    assert scans == ["code\t9"]


def test_prefix_not_present_is_left_alone() -> None:
    assert replay("us-basic.evemu", prefix="Q")[0] == "AAaa00"


def _key(code: int, value: int, t: float) -> list[ev.RawEvent]:
    return [ev.RawEvent(ev.EV_KEY, code, value, t), ev.RawEvent(ev.EV_SYN, ev.SYN_REPORT, 0, t)]


def test_lost_events_drop_the_scan_rather_than_deliver_it_short() -> None:
    decoder = ScanDecoder()
    events = [
        *_key(ev.KEY_1, 1, 0.0), *_key(ev.KEY_1, 0, 0.001),
        ev.RawEvent(ev.EV_SYN, ev.SYN_DROPPED, 0, 0.002),
        ev.RawEvent(ev.EV_KEY, ev.KEY_2, 1, 0.002),
        ev.RawEvent(ev.EV_SYN, ev.SYN_REPORT, 0, 0.003),
        *_key(ev.KEY_3, 1, 0.004), *_key(ev.KEY_3, 0, 0.005),
        *_key(ev.KEY_ENTER, 1, 0.006), *_key(ev.KEY_ENTER, 0, 0.007),
        *_key(ev.KEY_4, 1, 0.5), *_key(ev.KEY_4, 0, 0.501),
        *_key(ev.KEY_ENTER, 1, 0.502),
    ]
    assert [scan.text for scan in decoder.feed_all(events)] == ["4"]
    assert decoder.dropped_scans == 1


def test_enter_is_kept_as_carriage_return_when_not_a_terminator() -> None:
    decoder = ScanDecoder(terminators=["tab"])
    events = [*_key(ev.KEY_A, 1, 0), *_key(ev.KEY_ENTER, 1, 0), *_key(ev.KEY_TAB, 1, 0)]
    assert [scan.text for scan in decoder.feed_all(events)] == ["a\r"]


@pytest.mark.parametrize(
    ("digits", "char"),
    [("029", "\x1d"), ("29", "\x1d"), ("065", "A"), ("0128", "€"), ("128", "Ç"), ("321", "A")],
)
def test_alt_codes(digits: str, char: str) -> None:
    assert alt_code_character(digits) == char


def test_escape_controls_makes_scans_safe_and_unambiguous() -> None:
    assert escape_controls("01\x1d10AB") == "01\\x1d10AB"
    assert escape_controls("a\\b \x1b[31m\u2028é") == "a\\\\b \\x1b[31m\\u2028é"


_US_LETTER_KEYS = {c: getattr(ev, f"KEY_{c}") for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"}


@given(
    text=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                 min_size=1, max_size=40),
    same_frame=st.booleans(),
)
def test_any_alphanumeric_code_round_trips(text: str, same_frame: bool) -> None:
    events: list[ev.RawEvent] = []
    t = 0.0
    for char in text:
        code = _US_LETTER_KEYS[char.upper()]
        shift = char.isupper()
        frames = (
            [[(ev.KEY_LEFTSHIFT, 1), (code, 1)], [(code, 0), (ev.KEY_LEFTSHIFT, 0)]]
            if shift and same_frame
            else [[(ev.KEY_LEFTSHIFT, 1)], [(code, 1)], [(code, 0)], [(ev.KEY_LEFTSHIFT, 0)]]
            if shift
            else [[(code, 1)], [(code, 0)]]
        )
        for frame in frames:
            events.extend(ev.RawEvent(ev.EV_KEY, c, v, t) for c, v in frame)
            events.append(ev.RawEvent(ev.EV_SYN, ev.SYN_REPORT, 0, t))
            t += 0.002
    events.extend(_key(ev.KEY_ENTER, 1, t))
    assert [scan.text for scan in ScanDecoder().feed_all(events)] == [text]


def test_key_codes_match_the_kernel() -> None:
    ecodes = import_evdev().ecodes
    for name, code in ev.KEY_NAMES.items():
        assert ecodes.ecodes[name] == code, name
    assert (ev.EV_SYN, ev.EV_KEY, ev.EV_MSC) == (ecodes.EV_SYN, ecodes.EV_KEY, ecodes.EV_MSC)
    assert (ev.SYN_REPORT, ev.SYN_DROPPED) == (ecodes.SYN_REPORT, ecodes.SYN_DROPPED)


def test_settings_refuse_a_scanner_whose_scans_could_never_end() -> None:
    with pytest.raises(ValidationError, match="could never end"):
        ScannerSettings(device="05e0:1200", terminators=[], silence_ms=0)


def test_settings_refuse_unknown_layouts_and_fields() -> None:
    with pytest.raises(ValidationError):
        ScannerSettings(device="05e0:1200", layout="dvorak")
    with pytest.raises(ValidationError):
        ScannerSettings(device="05e0:1200", colour="red")  # type: ignore[call-arg]
