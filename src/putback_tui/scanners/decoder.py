"""Key events to scans: a pure function of the event stream, the same for devices and recordings.

The decoder keeps the state a keyboard driver would (held modifiers, Caps Lock, a dead key
waiting for its letter, the digits of an Alt code) and ends a scan at a terminator key or after
a silence. It never touches a device and never looks at the clock: silence is measured between
event timestamps, and whoever feeds it live events calls :meth:`ScanDecoder.finish` when the
device has been quiet long enough.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, NamedTuple

from putback_tui.scanners import events as ev
from putback_tui.scanners.layouts import COMBINING_ACCENTS, US, Layout, get_layout

if TYPE_CHECKING:
    from putback_tui.scanners.settings import ScannerSettings, Terminator

UNDECODABLE = "\ufffd"
"""Put in the text for a key press that types nothing known (an arrow, F5, Alt+letter), so that a
scan with a lost character is visibly wrong and refused, never silently shortened."""

_SHIFTS = frozenset({ev.KEY_LEFTSHIFT, ev.KEY_RIGHTSHIFT})
_CTRLS = frozenset({ev.KEY_LEFTCTRL, ev.KEY_RIGHTCTRL})
_METAS = frozenset({ev.KEY_LEFTMETA, ev.KEY_RIGHTMETA})
_MODIFIERS = _SHIFTS | _CTRLS | _METAS | {ev.KEY_LEFTALT, ev.KEY_RIGHTALT}
# Keys that change state the decoder does not need (Num Lock is taken as on: a scanner that
# sends keypad digits means digits).
_IGNORED_KEYS = frozenset({ev.KEY_NUMLOCK, ev.KEY_SCROLLLOCK})
_TERMINATOR_KEYS: dict[Terminator, int] = {
    "enter": ev.KEY_ENTER,
    "keypad_enter": ev.KEY_KPENTER,
    "tab": ev.KEY_TAB,
}
_TEXT_KEYS = {ev.KEY_ENTER: "\r", ev.KEY_KPENTER: "\r", ev.KEY_TAB: "\t"}


class Scan(NamedTuple):
    """One decoded scan."""

    text: str
    """The scanned text, prefix and suffix removed; control characters (GS ``\\x1d``) kept."""
    started: float
    """Timestamp of the scan's first key event."""
    ended: float
    """Timestamp of the event that ended it (the terminator, or the last key before silence)."""


def control_character(char: str) -> str | None:
    """The control character Ctrl plus ``char`` types (Ctrl+A is SOH, Ctrl+] is GS), or None."""
    if len(char) != 1:
        return None
    upper = char.upper()
    if len(upper) == 1 and "@" <= upper <= "_":
        return chr(ord(upper) - 0x40)
    return None


def alt_code_character(digits: str) -> str:
    """The character that Alt plus these keypad digits types, as Windows defines it.

    Below 32 the code is the control character itself (scanners send GS as Alt+029). From 128
    to 255 a leading zero selects Windows-1252, no leading zero the DOS code page 437. Codes above
    255 wrap around modulo 256, as Windows does.
    """
    value = int(digits)
    if value < 128:
        return chr(value)
    codepage = "cp1252" if digits.startswith("0") else "cp437"
    return bytes([value % 256]).decode(codepage, errors="replace")


class ScanDecoder:
    """Turns the key events of one device into scans.

    Feed every event in order with :meth:`feed`; scans come back as they end. Events are decoded
    one SYN frame at a time: a modifier pressed in the same frame as a key, even after it, applies
    to that key, as it does in the HID report the frame came from.

    After a ``SYN_DROPPED`` (the kernel's buffer overflowed, events were lost) the scan in
    progress is thrown away rather than delivered with characters missing; :attr:`dropped_scans`
    counts those.
    """

    def __init__(
        self,
        layout: Layout | str = "us",
        *,
        terminators: Collection[Terminator] = ("enter", "keypad_enter", "tab"),
        silence_ms: int = 100,
        prefix: str = "",
        suffix: str = "",
    ) -> None:
        self.layout = get_layout(layout) if isinstance(layout, str) else layout
        self._terminators = frozenset(_TERMINATOR_KEYS[name] for name in terminators)
        self._silence = silence_ms / 1000.0
        self._prefix = prefix
        self._suffix = suffix
        self.dropped_scans = 0
        """Scans discarded because the kernel reported lost events (SYN_DROPPED) during them."""
        self.reset()

    @classmethod
    def from_settings(cls, settings: ScannerSettings) -> ScanDecoder:
        """A decoder set up as ``settings`` says."""
        return cls(
            settings.layout,
            terminators=settings.terminators,
            silence_ms=settings.silence_ms,
            prefix=settings.prefix,
            suffix=settings.suffix,
        )

    def reset(self) -> None:
        """Forget everything: the scan in progress, held keys, Caps Lock. For a new device."""
        self._frame: list[ev.RawEvent] = []
        self._dropping = False
        self._held: set[int] = set()
        self._caps_lock = False
        self._dead = ""
        self._alt_digits = ""
        self._text: list[str] = []
        self._started = 0.0
        self._last_key = 0.0
        self._damaged = False

    @property
    def has_pending(self) -> bool:
        """Whether a scan is in progress (typed but not yet ended)."""
        return bool(self._text or self._frame or self._dead or self._alt_digits)

    def feed(self, event: ev.RawEvent) -> list[Scan]:
        """Take one event; return the scans it ended (usually none, at most a few)."""
        kind = event.type
        if kind == ev.EV_KEY:
            if not self._dropping:
                self._frame.append(event)
            return []
        if kind != ev.EV_SYN:
            return []  # MSC_SCAN, LEDs and anything else carry nothing a scan needs
        if event.code == ev.SYN_REPORT:
            if self._dropping:
                # Keys may have been pressed or released in the lost events: start clean.
                self._dropping = False
                self._held.clear()
                self._alt_digits = ""
                return []
            return self._decode_frame()
        if event.code == ev.SYN_DROPPED:
            self._dropping = True
            self._damaged = True
            self._frame.clear()
        return []

    def feed_all(self, events: Iterable[ev.RawEvent]) -> list[Scan]:
        """Feed many events; return every scan they ended."""
        scans: list[Scan] = []
        for event in events:
            if event.type == ev.EV_KEY:
                if not self._dropping:
                    self._frame.append(event)
            else:
                scans.extend(self.feed(event))
        return scans

    def finish(self) -> list[Scan]:
        """End the scan in progress, as a silence or the end of a recording does.

        Events not yet closed by a SYN_REPORT are decoded first. Returns the scans ended (none if
        nothing was typed).
        """
        scans = self._decode_frame()
        scan = self._end_scan(self._last_key)
        if scan is not None:
            scans.append(scan)
        return scans

    def discard(self) -> None:
        """Drop the scan in progress and all key state, e.g. when the device went away mid-scan.

        A half scan is never delivered: a truncated code could be another valid code.
        """
        self.reset()

    def _decode_frame(self) -> list[Scan]:
        frame = self._frame
        if not frame:
            return []
        self._frame = []
        scans: list[Scan] = []
        last = len(frame) - 1
        for index, event in enumerate(frame):
            value = event.value
            if value not in (ev.KEY_PRESSED, ev.KEY_RELEASED):
                continue  # autorepeat: the scanner did not press the key again
            if (
                self._silence
                and (self._text or self._dead)
                and (event.timestamp - self._last_key > self._silence)
            ):
                scan = self._end_scan(self._last_key)
                if scan is not None:
                    scans.append(scan)
            self._last_key = event.timestamp
            code = event.code
            if code in _MODIFIERS:
                if value == ev.KEY_PRESSED:
                    self._held.add(code)
                else:
                    self._held.discard(code)
                    if code in (ev.KEY_LEFTALT, ev.KEY_RIGHTALT):
                        self._alt_released(event.timestamp)
                continue
            if value == ev.KEY_RELEASED:
                continue
            held = self._held
            if index < last:
                held = held | self._modifiers_pressed_later(frame, index)
            scan = self._press(code, event.timestamp, held)
            if scan is not None:
                scans.append(scan)
        return scans

    @staticmethod
    def _modifiers_pressed_later(frame: list[ev.RawEvent], index: int) -> set[int]:
        code = frame[index].code
        later: set[int] = set()
        for event in frame[index + 1 :]:
            if event.code == code and event.value == ev.KEY_RELEASED:
                break
            if event.code in _MODIFIERS and event.value == ev.KEY_PRESSED:
                later.add(event.code)
        return later

    def _alt_released(self, timestamp: float) -> None:
        if ev.KEY_LEFTALT in self._held or ev.KEY_RIGHTALT in self._held:
            return  # the other Alt is still down: the code goes on
        if self._alt_digits:
            self._type(alt_code_character(self._alt_digits), timestamp)
            self._alt_digits = ""

    def _press(self, code: int, timestamp: float, held: set[int]) -> Scan | None:
        if code in self._terminators:
            return self._end_scan(timestamp)
        if code == ev.KEY_CAPSLOCK:
            self._caps_lock = not self._caps_lock
            return None
        if code in _IGNORED_KEYS or code in _METAS:
            return None
        layout = self.layout
        shift = not held.isdisjoint(_SHIFTS)
        ctrl = not held.isdisjoint(_CTRLS)
        if layout.has_altgr:
            # Windows sends AltGr as Ctrl+Alt, and so do scanners set up for Windows.
            altgr = ev.KEY_RIGHTALT in held or (ctrl and ev.KEY_LEFTALT in held)
            alt = ev.KEY_LEFTALT in held and not altgr
        else:
            altgr = False
            alt = ev.KEY_LEFTALT in held or ev.KEY_RIGHTALT in held
        if alt:
            digit = ev.KEYPAD_DIGITS.get(code)
            if digit is None:
                self._type(UNDECODABLE, timestamp)
            else:
                self._alt_digits += str(digit)
            return None
        if ctrl and not altgr:
            char = control_character(layout.char(code, shift, False)) or control_character(
                US.char(code, shift, False)
            )
            self._type(char or UNDECODABLE, timestamp)
            return None
        keypad = layout.keypad.get(code)
        if keypad is not None:
            self._type(keypad, timestamp)
            return None
        text_key = _TEXT_KEYS.get(code)
        if text_key is not None:
            self._type(text_key, timestamp)
            return None
        if self._caps_lock and not altgr and self._is_letter(code):
            shift = not shift
        char = layout.char(code, shift, altgr)
        if not char:
            self._type(UNDECODABLE, timestamp)
        elif layout.is_dead(code, shift, altgr):
            self._dead_key(char, timestamp)
        else:
            self._type(char, timestamp)
        return None

    def _is_letter(self, code: int) -> bool:
        """Whether Caps Lock applies to the key: it types a letter, and Shift its capital."""
        plain = self.layout.char(code, False, False)
        return plain.isalpha() and self.layout.char(code, True, False) == plain.upper()

    def _dead_key(self, accent: str, timestamp: float) -> None:
        if not self._text and not self._dead:
            self._started = timestamp
        pending = self._dead
        self._dead = ""
        if pending:
            self._type(pending, timestamp)
            if pending == accent:
                return  # pressed twice: the accent itself
        self._dead = accent

    def _type(self, char: str, timestamp: float) -> None:
        if not self._text and not self._dead:
            self._started = timestamp
        accent = self._dead
        if accent:
            self._dead = ""
            if char == " ":
                char = accent
            else:
                composed = unicodedata.normalize("NFC", char + COMBINING_ACCENTS[accent])
                char = composed if len(composed) == 1 else accent + char
        self._text.append(char)

    def _end_scan(self, timestamp: float) -> Scan | None:
        if self._dead:
            self._text.append(self._dead)
            self._dead = ""
        text = "".join(self._text)
        self._text.clear()
        damaged, self._damaged = self._damaged, False
        if damaged and text:
            self.dropped_scans += 1
            return None
        if self._prefix and text.startswith(self._prefix):
            text = text[len(self._prefix) :]
        if self._suffix and text.endswith(self._suffix):
            text = text[: -len(self._suffix)]
        if not text:
            return None
        return Scan(text, self._started, timestamp)


def decode(events: Iterable[ev.RawEvent], settings: ScannerSettings) -> list[Scan]:
    """Decode a whole recording into its scans; the end of the recording ends the last one."""
    decoder = ScanDecoder.from_settings(settings)
    scans = decoder.feed_all(events)
    scans.extend(decoder.finish())
    return scans
