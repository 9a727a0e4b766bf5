"""The one module that touches evdev: open a scanner's event node, grab it, read its events."""

from __future__ import annotations

import contextlib
import select
import time

import evdev

from putback_tui.scanners.events import RawEvent

_SETTLE_S = 1.0


def to_raw(event: evdev.InputEvent) -> RawEvent:
    """The decoder's view of an evdev event (type, code, value, timestamp in seconds)."""
    return RawEvent(event.type, event.code, event.value, event.timestamp())


class EvdevDevice:
    """An open input device, read as :class:`RawEvent` batches.

    Opening it grabs it (unless told not to): while grabbed, its keys reach no console, window
    or other program. Closing releases the grab; so does the kernel if the process dies.
    """

    def __init__(self, path: str, *, grab: bool) -> None:
        """Open ``path`` and, if ``grab``, take it for this process alone.

        Raises:
            PermissionError: this user may not read the device.
            FileNotFoundError: the node is gone (unplugged since it was listed).
            OSError: any other failure; errno EBUSY means another program has grabbed it.
        """
        self.path = path
        self._device = evdev.InputDevice(path)
        try:
            if grab:
                self._wait_for_keys_up()
                self._device.grab()
        except BaseException:
            self._device.close()
            raise

    def _wait_for_keys_up(self) -> None:
        # A key held down while the grab starts never has its release seen by the console,
        # which then repeats it or keeps the modifier stuck. Wait (briefly) for all keys up.
        deadline = time.monotonic() + _SETTLE_S
        while self._device.active_keys() and time.monotonic() < deadline:
            time.sleep(0.01)

    def read_events(self, timeout: float) -> list[RawEvent]:
        """Wait up to ``timeout`` seconds for events; return those available (maybe none).

        Raises:
            OSError: the device went away (errno ENODEV) or failed.
        """
        ready, _, _ = select.select([self._device.fd], [], [], timeout)
        if not ready:
            return []
        try:
            return [to_raw(event) for event in self._device.read()]
        except BlockingIOError:
            return []

    def close(self) -> None:
        """Release the grab and close the device; never raises (it may already be gone)."""
        # Not grabbed, or unplugged: either way nothing is held, and closing is all that is left.
        with contextlib.suppress(OSError):
            self._device.ungrab()
        with contextlib.suppress(OSError):
            self._device.close()


def open_device(path: str, grab: bool) -> EvdevDevice:
    """Open and (if ``grab``) grab the event node at ``path``; see :class:`EvdevDevice`."""
    return EvdevDevice(path, grab=grab)
