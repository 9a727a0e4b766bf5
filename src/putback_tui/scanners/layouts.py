"""Keyboard layouts: which character each key code types, per level (plain, Shift, AltGr).

A scanner does not send characters; it sends the key presses that would type them on a keyboard
with the layout the scanner was set up for. These tables follow the Linux console / XKB layouts
``us``, ``gb``, ``de`` and ``fr`` (pc105), which agree with the Windows layouts of the same names
for every character a barcode can hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from putback_tui.scanners import events as ev

LayoutName = Literal["us", "uk", "de", "fr"]
"""The layouts a scanner can be configured with."""

# The four levels of a key: plain, Shift, AltGr, Shift+AltGr. "" means the level types nothing.
Levels = tuple[str, str, str, str]

COMBINING_ACCENTS: dict[str, str] = {
    "^": "\u0302",
    "\u00b4": "\u0301",  # acute accent
    "`": "\u0300",
    "¨": "\u0308",
    "~": "\u0303",
}
"""The combining mark a dead key adds to the next letter, by the accent the dead key shows."""


@dataclass(frozen=True, slots=True)
class Layout:
    """One keyboard layout, as a table from key code to the characters of each level."""

    name: LayoutName
    """Short name used in the settings (``us``, ``uk``, ``de``, ``fr``)."""
    keys: dict[int, Levels]
    """Key code to (plain, Shift, AltGr, Shift+AltGr) characters."""
    keypad: dict[int, str]
    """Keypad key code to the character it types (Num Lock is taken as on)."""
    has_altgr: bool
    """Whether Right Alt is AltGr (a third level) rather than a second Alt key."""
    dead: frozenset[tuple[int, int]] = field(default_factory=frozenset)
    """(key code, level) pairs that are dead keys: they accent the next key instead of typing."""

    def char(self, code: int, shift: bool, altgr: bool) -> str:
        """The character a key types at the given level, or "" if it types none there."""
        levels = self.keys.get(code)
        if levels is None:
            return ""
        return levels[(2 if altgr else 0) + (1 if shift else 0)]

    def is_dead(self, code: int, shift: bool, altgr: bool) -> bool:
        """Whether the key at this level is a dead key."""
        return (code, (2 if altgr else 0) + (1 if shift else 0)) in self.dead


def _row(codes: list[int], plain: str, shifted: str) -> dict[int, Levels]:
    """Keys of one row, given their plain and Shift characters as two strings of equal length."""
    assert len(codes) == len(plain) == len(shifted)  # a typo in a table is a bug, found at import
    return {code: (p, s, "", "") for code, p, s in zip(codes, plain, shifted, strict=True)}


_DIGIT_ROW = [
    ev.KEY_1,
    ev.KEY_2,
    ev.KEY_3,
    ev.KEY_4,
    ev.KEY_5,
    ev.KEY_6,
    ev.KEY_7,
    ev.KEY_8,
    ev.KEY_9,
    ev.KEY_0,
]
_QWERTY_TOP = [
    ev.KEY_Q,
    ev.KEY_W,
    ev.KEY_E,
    ev.KEY_R,
    ev.KEY_T,
    ev.KEY_Y,
    ev.KEY_U,
    ev.KEY_I,
    ev.KEY_O,
    ev.KEY_P,
]
_QWERTY_HOME = [
    ev.KEY_A,
    ev.KEY_S,
    ev.KEY_D,
    ev.KEY_F,
    ev.KEY_G,
    ev.KEY_H,
    ev.KEY_J,
    ev.KEY_K,
    ev.KEY_L,
]
_QWERTY_BOTTOM = [ev.KEY_Z, ev.KEY_X, ev.KEY_C, ev.KEY_V, ev.KEY_B, ev.KEY_N, ev.KEY_M]

_COMMON_KEYS: dict[int, Levels] = {
    ev.KEY_SPACE: (" ", " ", " ", " "),
    ev.KEY_ESC: ("\x1b", "\x1b", "", ""),
    ev.KEY_BACKSPACE: ("\x08", "\x08", "", ""),
}

_KEYPAD_DOT: dict[int, str] = {
    **{code: str(digit) for code, digit in ev.KEYPAD_DIGITS.items()},
    ev.KEY_KPMINUS: "-",
    ev.KEY_KPPLUS: "+",
    ev.KEY_KPSLASH: "/",
    ev.KEY_KPASTERISK: "*",
    ev.KEY_KPDOT: ".",
    ev.KEY_KPEQUAL: "=",
    ev.KEY_KPCOMMA: ",",
}
# German keyboards have a decimal comma on the keypad (XKB kpdl(comma), and Windows likewise).
_KEYPAD_COMMA = {**_KEYPAD_DOT, ev.KEY_KPDOT: ","}


def _letters(codes: list[int], letters: str) -> dict[int, Levels]:
    return _row(codes, letters, letters.upper())


def _with(keys: dict[int, Levels], **altgr: tuple[int, str, str]) -> dict[int, Levels]:
    """Add AltGr levels: name=(key code, AltGr char, Shift+AltGr char)."""
    out = dict(keys)
    for code, third, fourth in altgr.values():
        plain, shifted, _, _ = out.get(code, ("", "", "", ""))
        out[code] = (plain, shifted, third, fourth)
    return out


US = Layout(
    name="us",
    keys={
        **_COMMON_KEYS,
        **_row(_DIGIT_ROW, "1234567890", "!@#$%^&*()"),
        **_letters(_QWERTY_TOP, "qwertyuiop"),
        **_letters(_QWERTY_HOME, "asdfghjkl"),
        **_letters(_QWERTY_BOTTOM, "zxcvbnm"),
        **_row(
            [
                ev.KEY_GRAVE,
                ev.KEY_MINUS,
                ev.KEY_EQUAL,
                ev.KEY_LEFTBRACE,
                ev.KEY_RIGHTBRACE,
                ev.KEY_BACKSLASH,
                ev.KEY_SEMICOLON,
                ev.KEY_APOSTROPHE,
                ev.KEY_COMMA,
                ev.KEY_DOT,
                ev.KEY_SLASH,
                ev.KEY_102ND,
            ],
            "`-=[]\\;',./<",
            '~_+{}|:"<>?>',
        ),
    },
    keypad=_KEYPAD_DOT,
    has_altgr=False,
)

UK = Layout(
    name="uk",
    keys=_with(
        {
            **_COMMON_KEYS,
            **_row(_DIGIT_ROW, "1234567890", '!"£$%^&*()'),
            **_letters(_QWERTY_TOP, "qwertyuiop"),
            **_letters(_QWERTY_HOME, "asdfghjkl"),
            **_letters(_QWERTY_BOTTOM, "zxcvbnm"),
            **_row(
                [
                    ev.KEY_GRAVE,
                    ev.KEY_MINUS,
                    ev.KEY_EQUAL,
                    ev.KEY_LEFTBRACE,
                    ev.KEY_RIGHTBRACE,
                    ev.KEY_BACKSLASH,
                    ev.KEY_SEMICOLON,
                    ev.KEY_APOSTROPHE,
                    ev.KEY_COMMA,
                    ev.KEY_DOT,
                    ev.KEY_SLASH,
                    ev.KEY_102ND,
                ],
                "`-=[]#;',./\\",
                "¬_+{}~:@<>?|",
            ),
        },
        grave=(ev.KEY_GRAVE, "¦", "¦"),
        euro=(ev.KEY_4, "€", ""),
    ),
    keypad=_KEYPAD_DOT,
    has_altgr=True,
)

DE = Layout(
    name="de",
    keys=_with(
        {
            **_COMMON_KEYS,
            **_row(_DIGIT_ROW, "1234567890", '!"§$%&/()='),
            **_letters(_QWERTY_TOP, "qwertzuiop"),
            **_letters(_QWERTY_HOME, "asdfghjkl"),
            **_letters(_QWERTY_BOTTOM, "yxcvbnm"),
            **_row(
                [
                    ev.KEY_GRAVE,
                    ev.KEY_MINUS,
                    ev.KEY_EQUAL,
                    ev.KEY_LEFTBRACE,
                    ev.KEY_RIGHTBRACE,
                    ev.KEY_BACKSLASH,
                    ev.KEY_SEMICOLON,
                    ev.KEY_APOSTROPHE,
                    ev.KEY_COMMA,
                    ev.KEY_DOT,
                    ev.KEY_SLASH,
                    ev.KEY_102ND,
                ],
                "^ß\u00b4ü+#öä,.-<",
                "°?`Ü*'ÖÄ;:_>",
            ),
        },
        two=(ev.KEY_2, "²", ""),
        three=(ev.KEY_3, "³", ""),
        seven=(ev.KEY_7, "{", ""),
        eight=(ev.KEY_8, "[", ""),
        nine=(ev.KEY_9, "]", ""),
        zero=(ev.KEY_0, "}", ""),
        sz=(ev.KEY_MINUS, "\\", ""),
        q=(ev.KEY_Q, "@", ""),
        e=(ev.KEY_E, "€", ""),
        plus=(ev.KEY_RIGHTBRACE, "~", ""),
        m=(ev.KEY_M, "µ", ""),
        less=(ev.KEY_102ND, "|", ""),
    ),
    keypad=_KEYPAD_COMMA,
    has_altgr=True,
    dead=frozenset({(ev.KEY_GRAVE, 0), (ev.KEY_EQUAL, 0), (ev.KEY_EQUAL, 1)}),
)

FR = Layout(
    name="fr",
    keys=_with(
        {
            **_COMMON_KEYS,
            **_row(_DIGIT_ROW, "&é\"'(-è_çà", "1234567890"),
            **_letters(_QWERTY_TOP, "azertyuiop"),
            **_letters(_QWERTY_HOME, "qsdfghjkl"),
            **_letters(_QWERTY_BOTTOM[:-1], "wxcvbn"),
            **_row([ev.KEY_M], ",", "?"),
            **_row(
                [
                    ev.KEY_MINUS,
                    ev.KEY_EQUAL,
                    ev.KEY_LEFTBRACE,
                    ev.KEY_RIGHTBRACE,
                    ev.KEY_BACKSLASH,
                    ev.KEY_SEMICOLON,
                    ev.KEY_APOSTROPHE,
                    ev.KEY_COMMA,
                    ev.KEY_DOT,
                    ev.KEY_SLASH,
                    ev.KEY_102ND,
                ],
                ")=^$*mù;:!<",
                "°+¨£µM%./§>",
            ),
            ev.KEY_GRAVE: ("²", "", "", ""),
        },
        two=(ev.KEY_2, "~", ""),
        three=(ev.KEY_3, "#", ""),
        four=(ev.KEY_4, "{", ""),
        five=(ev.KEY_5, "[", ""),
        six=(ev.KEY_6, "|", ""),
        seven=(ev.KEY_7, "`", ""),
        eight=(ev.KEY_8, "\\", ""),
        nine=(ev.KEY_9, "^", ""),
        zero=(ev.KEY_0, "@", ""),
        paren=(ev.KEY_MINUS, "]", ""),
        equal=(ev.KEY_EQUAL, "}", ""),
        dollar=(ev.KEY_RIGHTBRACE, "¤", ""),
        e=(ev.KEY_E, "€", ""),
    ),
    keypad=_KEYPAD_DOT,
    has_altgr=True,
    dead=frozenset({(ev.KEY_LEFTBRACE, 0), (ev.KEY_LEFTBRACE, 1)}),
)

LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (US, UK, DE, FR)}
"""Every layout by its short name."""


def get_layout(name: str) -> Layout:
    """The layout called ``name``.

    Raises:
        KeyError: no such layout; the message lists the known ones.
    """
    try:
        return LAYOUTS[name]
    except KeyError:
        known = ", ".join(sorted(LAYOUTS))
        raise KeyError(f"unknown keyboard layout {name!r} (known: {known})") from None
