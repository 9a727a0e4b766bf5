"""ScannerSource: reads the configured HID scanners in background threads and reports scans.

One thread per configured scanner finds its device, grabs it, decodes its events and calls
``on_scan`` for every scan; when the scanner is unplugged it waits for it to come back (under any
node name) and carries on. Every change of a scanner's state goes to ``on_state``. Both callbacks
run in the scanner's thread: the app must hand them over to its own thread (Textual:
``app.call_from_thread``), and must not block in them.
"""

from __future__ import annotations

import errno
import getpass
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from putback_tui.extras import install_hint
from putback_tui.packaged import UDEV_RULE_PATH
from putback_tui.scanners.decoder import ScanDecoder
from putback_tui.scanners.discovery import (
    DeviceInfo,
    NoInputDevicesError,
    list_input_devices,
    resolve,
)
from putback_tui.scanners.events import RawEvent
from putback_tui.scanners.settings import ScannerSettings

log = logging.getLogger("putback.scanners")

UDEV_RULE = UDEV_RULE_PATH
"""Where the udev rule that opens scanners to the putback group lives (inside the package)."""
SCANNER_GROUP = "putback"
"""The group that rule gives scanner devices to."""

# How long one read waits when nothing is happening: bounds how late stop() is noticed.
_READ_TIMEOUT_S = 0.1


def permission_fix(user: str | None = None) -> str:
    """How to give ``user`` (default: this one) the right to read scanners, as one paragraph."""
    if user is None:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "$USER"
    return (
        "Fix: install the udev rule (`putback scanners udev-rule | sudo tee "
        f"/etc/udev/rules.d/{UDEV_RULE.name}`), then run "
        f"`sudo groupadd -f --system {SCANNER_GROUP} && sudo usermod -aG {SCANNER_GROUP} {user} "
        "&& sudo udevadm control --reload && sudo udevadm trigger --subsystem-match=input`, "
        "and log in again (see docs/scanners.md)."
    )


class ScannerStatus(StrEnum):
    """Where a scanner is at, as the status bar shows it."""

    SEARCHING = "searching"
    """No device matches the setting (not plugged in, or a typo in the setting)."""
    CONNECTED = "connected"
    """Open (and grabbed): scans are being read."""
    DISCONNECTED = "disconnected"
    """It was open and went away; it is being looked for again."""
    NO_PERMISSION = "no_permission"
    """The device is there but this user may not read it; the message says how to fix it."""
    ERROR = "error"
    """Anything else that stops reading it (grabbed by another program, no evdev, no /dev/input)."""
    STOPPED = "stopped"
    """The source was stopped; the device is released."""


@dataclass(frozen=True, slots=True)
class ScannerState:
    """A scanner's state, reported whenever it changes."""

    scanner: str
    """The scanner's label (its ``name`` setting, else its ``device`` setting)."""
    status: ScannerStatus
    """What it is doing."""
    message: str
    """One or two sentences for the operator, with the fix where there is one."""
    device: str | None = None
    """The event node in use or in question, if any."""


class EventDevice(Protocol):
    """An open input device, as :class:`ScannerSource` uses it."""

    def read_events(self, timeout: float) -> Sequence[RawEvent]:
        """Wait up to ``timeout`` seconds; return the events that came (maybe none).

        Raises:
            OSError: the device went away or failed.
        """
        ...

    def close(self) -> None:
        """Release the grab and close; never raises."""
        ...


OpenDevice = Callable[[str, bool], EventDevice]
"""Open the node at a path, grabbing it if told to. Raises OSError (PermissionError...)."""
ListDevices = Callable[[], Sequence[DeviceInfo]]
"""List the input devices present now. May raise NoInputDevicesError."""
OnScan = Callable[[str, str], None]
"""Called with (scanned text, scanner label) for every scan."""
OnState = Callable[[ScannerState], None]
"""Called with the new state whenever a scanner's state changes."""


def open_with_evdev(path: str, grab: bool) -> EventDevice:
    """Open (and with ``grab``, grab) the input device at ``path`` with python-evdev.

    The opener the app and ``putback doctor`` use.

    Raises:
        OSError: the device cannot be opened, or evdev is not available (``ENOSYS``).
    """
    # Imported here so that the rest of the package (and the app) works where evdev does not.
    try:
        from putback_tui.scanners.device import open_device
    except ImportError as error:
        raise OSError(errno.ENOSYS, install_hint("scanners", [error.name or "evdev"])) from error
    return open_device(path, grab)


class ScannerSource:
    """Reads every configured HID scanner in its own thread.

    Args:
        scanners: one settings entry per scanner.
        on_scan: called in a scanner thread with (text, scanner label) for each scan.
        on_state: called in a scanner thread with each change of a scanner's state.
        list_devices: lists the input devices (default: /dev/input and sysfs).
        open_device: opens and grabs a device node (default: evdev).
        poll_interval: seconds between looks for a missing device.
    """

    def __init__(
        self,
        scanners: Sequence[ScannerSettings],
        on_scan: OnScan,
        on_state: OnState,
        *,
        list_devices: ListDevices = list_input_devices,
        open_device: OpenDevice = open_with_evdev,
        poll_interval: float = 1.0,
    ) -> None:
        self._scanners = list(scanners)
        self._on_scan = on_scan
        self._on_state = on_state
        self._list_devices = list_devices
        self._open_device = open_device
        self._poll_interval = poll_interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._taken: dict[str, str] = {}  # node path -> label of the scanner that has it
        self._states: dict[str, ScannerState] = {}
        self._threads: list[threading.Thread] = []

    @property
    def states(self) -> dict[str, ScannerState]:
        """The latest state of every scanner, by label (a copy, safe to read from any thread)."""
        with self._lock:
            return dict(self._states)

    def start(self) -> None:
        """Start one reader thread per scanner. Returns at once; states and scans follow.

        Raises:
            RuntimeError: already started.
        """
        if self._threads:
            raise RuntimeError("ScannerSource already started")
        self._stop.clear()
        for settings in self._scanners:
            thread = threading.Thread(
                target=self._run,
                args=(settings,),
                name=f"scanner {settings.label}",
                daemon=True,  # never keep the app alive; the kernel drops the grab at exit anyway
            )
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop reading: release every grab, close the devices, and join the threads.

        A scan in progress is dropped. Blocks up to about ``timeout`` seconds per thread.
        """
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _run(self, settings: ScannerSettings) -> None:
        label = settings.label
        decoder = ScanDecoder.from_settings(settings)
        try:
            while not self._stop.is_set():
                device_path = self._connect_and_read(settings, decoder)
                decoder.reset()
                if device_path is not None:
                    self._release(device_path)
                if not self._stop.is_set():
                    self._stop.wait(self._poll_interval)
        except Exception as error:  # a bug must show in the status bar, not kill it silently
            log.exception("scanner %s: reader thread failed", label)
            self._set_state(ScannerState(label, ScannerStatus.ERROR, f"Scanner failed: {error}"))
            return
        self._set_state(ScannerState(label, ScannerStatus.STOPPED, "Scanner released."))

    def _connect_and_read(self, settings: ScannerSettings, decoder: ScanDecoder) -> str | None:
        """One attempt: find, open, read until it fails. Returns the node it claimed, if any."""
        label = settings.label
        try:
            devices = self._list_devices()
        except NoInputDevicesError as error:
            self._set_state(ScannerState(label, ScannerStatus.ERROR, f"{error}."))
            return None
        with self._lock:
            taken = {path for path, owner in self._taken.items() if owner != label}
            info = resolve(settings.device, devices, taken)
            if info is not None:
                self._taken[info.path] = label
        if info is None:
            self._set_state(
                ScannerState(
                    label,
                    ScannerStatus.SEARCHING,
                    f"Looking for scanner {settings.device!r}: not plugged in? "
                    "`putback scanners list` shows the devices.",
                )
            )
            return None
        try:
            device = self._open_device(info.path, settings.grab)
        except OSError as error:
            self._set_state(self._open_failed(label, info, error))
            return info.path
        try:
            self._set_state(
                ScannerState(
                    label,
                    ScannerStatus.CONNECTED,
                    f"Connected: {info.name or info.path}"
                    + (" (grabbed)." if settings.grab else " (not grabbed: scans also type)."),
                    info.path,
                )
            )
            self._read(device, decoder, settings)
        except OSError as error:
            lost = " A scan in progress was dropped." if decoder.has_pending else ""
            reason = "unplugged" if error.errno in (errno.ENODEV, errno.ENOENT) else str(error)
            self._set_state(
                ScannerState(
                    label,
                    ScannerStatus.DISCONNECTED,
                    f"Scanner {reason}; waiting for it to come back.{lost}",
                    info.path,
                )
            )
        finally:
            device.close()
        return info.path

    @staticmethod
    def _open_failed(label: str, info: DeviceInfo, error: OSError) -> ScannerState:
        where = f"{info.path} ({info.name})" if info.name else info.path
        if isinstance(error, PermissionError) or error.errno in (errno.EACCES, errno.EPERM):
            return ScannerState(
                label,
                ScannerStatus.NO_PERMISSION,
                f"No permission to read the scanner at {where}. {permission_fix()}",
                info.path,
            )
        if error.errno == errno.EBUSY:
            return ScannerState(
                label,
                ScannerStatus.ERROR,
                f"The scanner at {where} is grabbed by another program (another putback?). "
                "Close it, or set grab = false for this scanner.",
                info.path,
            )
        if error.errno in (errno.ENODEV, errno.ENOENT):
            return ScannerState(
                label,
                ScannerStatus.DISCONNECTED,
                f"The scanner at {where} went away while opening; waiting for it to come back.",
                info.path,
            )
        return ScannerState(
            label, ScannerStatus.ERROR, f"Cannot open the scanner at {where}: {error}", info.path
        )

    def _read(self, device: EventDevice, decoder: ScanDecoder, settings: ScannerSettings) -> None:
        label = settings.label
        silence = settings.silence_ms / 1000.0
        last_event = time.monotonic()
        dropped = decoder.dropped_scans
        while not self._stop.is_set():
            timeout = _READ_TIMEOUT_S
            waiting = decoder.has_pending and silence > 0
            if waiting:
                timeout = min(timeout, max(0.0, last_event + silence - time.monotonic()))
            events = device.read_events(timeout)
            if events:
                last_event = time.monotonic()
                scans = decoder.feed_all(events)
            elif waiting and time.monotonic() - last_event >= silence:
                scans = decoder.finish()
            else:
                continue
            if decoder.dropped_scans != dropped:
                dropped = decoder.dropped_scans
                log.warning("scanner %s: events were lost (SYN_DROPPED); scan dropped", label)
            for scan in scans:
                try:
                    self._on_scan(scan.text, label)
                except Exception:  # the app's bug must not stop the scanner
                    log.exception("scanner %s: on_scan failed", label)

    def _release(self, path: str) -> None:
        with self._lock:
            self._taken.pop(path, None)

    def _set_state(self, state: ScannerState) -> None:
        with self._lock:
            if self._states.get(state.scanner) == state:
                return
            self._states[state.scanner] = state
        # Outside the lock: the callback may wait for the UI thread, which may read .states.
        try:
            self._on_state(state)
        except Exception:  # the app's bug must not stop the scanner
            log.exception("scanner %s: on_state failed", state.scanner)
