"""Keyboard-wedge input as pure logic: keys become scans at the terminator; double reads drop.

Kept free of Textual so the rules can be tested (and reasoned about) without an event loop:
the App feeds it characters and terminators with their arrival times and acts on what it says.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BUFFER = 65_536
"""Characters kept for one scan. Beyond this the rest is dropped (and counted), so a stuck key
or a pasted file cannot grow memory without bound; the scan is refused as too long anyway."""


@dataclass(frozen=True)
class Completed:
    """A scan ended by its terminator."""

    text: str
    """The characters received, without the terminator."""
    length: int
    """How many characters arrived, including any dropped beyond ``MAX_BUFFER``."""
    burst: bool
    """True when every key came within the wedge gap of the one before: a scanner, not a hand."""


class WedgeBuffer:
    """Collects keys until Enter or Tab; tells scanner bursts from slow typing.

    A terminator that arrives with nothing buffered, within ``max_gap_s`` of the end of a scan,
    is the second half of a CR LF (or Tab Enter) suffix: it is swallowed, so it can never reach a
    focused widget as a key press.
    """

    def __init__(self, max_gap_s: float) -> None:
        self.max_gap_s = max_gap_s
        self._chars: list[str] = []
        self._length = 0
        self._burst = True
        self._last_key_at: float | None = None
        self._ended_at: float | None = None

    @property
    def text(self) -> str:
        """What has been typed so far (not yet terminated)."""
        return "".join(self._chars)

    def __bool__(self) -> bool:
        return self._length > 0

    def feed(self, char: str, at: float) -> None:
        """Add one printable character received at monotonic time ``at`` (seconds)."""
        last = self._last_key_at
        if self._length and last is not None and at - last > self.max_gap_s:
            self._burst = False
        if self._length < MAX_BUFFER:
            self._chars.append(char)
        self._length += 1
        self._last_key_at = at

    def terminate(self, at: float) -> Completed | None:
        """End the scan at a terminator received at ``at``.

        Returns:
            The completed scan, or None when nothing was buffered (the terminator is then the
            operator's own key, unless :meth:`swallows` says otherwise).
        """
        if not self._length:
            return None
        gap_ok = self._last_key_at is None or at - self._last_key_at <= self.max_gap_s
        done = Completed(self.text, self._length, self._burst and gap_ok and self._length > 1)
        self.clear()
        self._ended_at = at
        return done

    def swallows(self, at: float) -> bool:
        """True when an empty terminator at ``at`` belongs to the scan that just ended."""
        return self._ended_at is not None and at - self._ended_at <= self.max_gap_s

    def backspace(self) -> None:
        """Take back the last character (a person correcting what they typed)."""
        if self._chars:
            self._chars.pop()
            self._length = len(self._chars)

    def clear(self) -> None:
        """Forget what was typed."""
        self._chars.clear()
        self._length = 0
        self._burst = True
        self._last_key_at = None


class DoubleReadFilter:
    """Drops a second read of the same text within the window, and counts what it dropped.

    Every read of the text, dropped or not, restarts the window: a scanner that keeps firing at
    one label while the trigger is held yields a single scan.
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self.dropped = 0
        """Double reads ignored since start."""
        self._last: tuple[str, float] | None = None

    def accept(self, text: str, at: float) -> bool:
        """True for a scan to act on; False (and counted) for a double read."""
        last = self._last
        self._last = (text, at)
        if last is not None and last[0] == text and at - last[1] < self.window_s:
            self.dropped += 1
            return False
        return True
