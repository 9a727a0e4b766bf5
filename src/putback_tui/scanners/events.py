"""The input events the decoder reads, and the Linux event codes it needs, without evdev.

Recorded events (evemu, evtest) and live ``evdev.InputEvent`` objects are both turned into
:class:`RawEvent`, so one decoder serves the device, the replay command and the tests. The
numbers are those of ``linux/input-event-codes.h``; a test checks them against ``evdev.ecodes``.
"""

from __future__ import annotations

from typing import NamedTuple


class RawEvent(NamedTuple):
    """One ``struct input_event``: what the kernel sent, with its timestamp in seconds."""

    type: int
    """Event type, e.g. :data:`EV_KEY`."""
    code: int
    """Event code, e.g. :data:`KEY_A`."""
    value: int
    """For keys: 1 pressed, 0 released, 2 autorepeat."""
    timestamp: float
    """Seconds, as the kernel stamped the event (the clock does not matter, only differences)."""


EV_SYN = 0x00
EV_KEY = 0x01
EV_MSC = 0x04

SYN_REPORT = 0
SYN_DROPPED = 3

KEY_RELEASED = 0
KEY_PRESSED = 1
KEY_REPEATED = 2

KEY_ESC = 1
KEY_1 = 2
KEY_2 = 3
KEY_3 = 4
KEY_4 = 5
KEY_5 = 6
KEY_6 = 7
KEY_7 = 8
KEY_8 = 9
KEY_9 = 10
KEY_0 = 11
KEY_MINUS = 12
KEY_EQUAL = 13
KEY_BACKSPACE = 14
KEY_TAB = 15
KEY_Q = 16
KEY_W = 17
KEY_E = 18
KEY_R = 19
KEY_T = 20
KEY_Y = 21
KEY_U = 22
KEY_I = 23
KEY_O = 24
KEY_P = 25
KEY_LEFTBRACE = 26
KEY_RIGHTBRACE = 27
KEY_ENTER = 28
KEY_LEFTCTRL = 29
KEY_A = 30
KEY_S = 31
KEY_D = 32
KEY_F = 33
KEY_G = 34
KEY_H = 35
KEY_J = 36
KEY_K = 37
KEY_L = 38
KEY_SEMICOLON = 39
KEY_APOSTROPHE = 40
KEY_GRAVE = 41
KEY_LEFTSHIFT = 42
KEY_BACKSLASH = 43
KEY_Z = 44
KEY_X = 45
KEY_C = 46
KEY_V = 47
KEY_B = 48
KEY_N = 49
KEY_M = 50
KEY_COMMA = 51
KEY_DOT = 52
KEY_SLASH = 53
KEY_RIGHTSHIFT = 54
KEY_KPASTERISK = 55
KEY_LEFTALT = 56
KEY_SPACE = 57
KEY_CAPSLOCK = 58
KEY_NUMLOCK = 69
KEY_SCROLLLOCK = 70
KEY_KP7 = 71
KEY_KP8 = 72
KEY_KP9 = 73
KEY_KPMINUS = 74
KEY_KP4 = 75
KEY_KP5 = 76
KEY_KP6 = 77
KEY_KPPLUS = 78
KEY_KP1 = 79
KEY_KP2 = 80
KEY_KP3 = 81
KEY_KP0 = 82
KEY_KPDOT = 83
KEY_102ND = 86
KEY_KPENTER = 96
KEY_RIGHTCTRL = 97
KEY_KPSLASH = 98
KEY_RIGHTALT = 100
KEY_KPEQUAL = 117
KEY_KPCOMMA = 121
KEY_LEFTMETA = 125
KEY_RIGHTMETA = 126

KEYPAD_DIGITS: dict[int, int] = {
    KEY_KP0: 0,
    KEY_KP1: 1,
    KEY_KP2: 2,
    KEY_KP3: 3,
    KEY_KP4: 4,
    KEY_KP5: 5,
    KEY_KP6: 6,
    KEY_KP7: 7,
    KEY_KP8: 8,
    KEY_KP9: 9,
}
"""Keypad keys that type a digit (and build Alt codes), with the digit."""

KEY_NAMES: dict[str, int] = {
    name: value
    for name, value in globals().items()
    if name.startswith("KEY_")
    and isinstance(value, int)
    and name
    not in {
        "KEY_RELEASED",
        "KEY_PRESSED",
        "KEY_REPEATED",
    }
}
"""Key names as ``evdev.ecodes`` spells them, for the keys this module knows."""
