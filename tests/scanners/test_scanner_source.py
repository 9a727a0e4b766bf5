"""ScannerSource with the real discovery, decoder and reconnect logic; only opening is faked.

There is no /dev/input here: the device tree is built in tmp_path, and opening a node returns a
device that plays a recording, and can fail as an unplugged device does (OSError ENODEV).
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial

import pytest

from putback_tui.scanners import events as ev
from putback_tui.scanners.discovery import list_input_devices
from putback_tui.scanners.recordings import read_recording
from putback_tui.scanners.settings import ScannerSettings
from putback_tui.scanners.source import ScannerSource, ScannerState, ScannerStatus
from tests.scanners.scanner_helpers import RECORDINGS, SYMBOL_BY_ID, SYMBOL_NAME, InputTree


def frames(recording: str) -> list[list[ev.RawEvent]]:
    """A recording cut into SYN frames, as a device's reads return them."""
    out: list[list[ev.RawEvent]] = [[]]
    for event in read_recording(RECORDINGS / recording).events:
        out[-1].append(event)
        if event.type == ev.EV_SYN:
            out.append([])
    return [frame for frame in out if frame]


class PlayedDevice:
    """A device node that plays recorded reads, then idles, or fails like an unplugged one."""

    def __init__(self, reads: list[list[ev.RawEvent]], unplug: Callable[[], None] | None = None):
        self.reads = list(reads)
        self.unplug = unplug
        self.closed = threading.Event()

    def read_events(self, timeout: float) -> list[ev.RawEvent]:
        if self.reads:
            return self.reads.pop(0)
        if self.unplug is not None:
            self.unplug()
            raise OSError(errno.ENODEV, "No such device")
        time.sleep(min(timeout, 0.01))
        return []

    def close(self) -> None:
        self.closed.set()


class Recorder:
    """Collects what the source reports, from its threads."""

    def __init__(self) -> None:
        self.scans: list[tuple[str, str]] = []
        self.states: list[ScannerState] = []
        self.lock = threading.Lock()

    def on_scan(self, text: str, scanner: str) -> None:
        with self.lock:
            self.scans.append((text, scanner))

    def on_state(self, state: ScannerState) -> None:
        with self.lock:
            self.states.append(state)

    def statuses(self, scanner: str) -> list[ScannerStatus]:
        with self.lock:
            return [s.status for s in self.states if s.scanner == scanner]

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 10  # a deadline against hanging, not a measurement
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"gave up waiting for {what}; scans={self.scans} states={self.states}")
            time.sleep(0.005)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def _source(
    tree: InputTree,
    recorder: Recorder,
    open_device: Callable[[str, bool], PlayedDevice],
    *scanners: ScannerSettings,
) -> ScannerSource:
    return ScannerSource(
        scanners,
        recorder.on_scan,
        recorder.on_state,
        list_devices=partial(list_input_devices, tree.dev, tree.sys),
        open_device=open_device,
        poll_interval=0.01,
    )


@pytest.fixture
def running() -> Iterator[list[ScannerSource]]:
    sources: list[ScannerSource] = []
    yield sources
    for source in sources:
        source.stop()


def test_scanner_unplugged_mid_scan_is_found_again_on_its_new_node(
    input_tree: InputTree, recorder: Recorder, running: list[ScannerSource]
) -> None:
    input_tree.plug(5, SYMBOL_NAME, 0x05E0, 0x1200, by_id=SYMBOL_BY_ID)
    opened: list[tuple[str, bool]] = []
    devices: dict[str, PlayedDevice] = {}

    def replug() -> None:
        input_tree.unplug(5)
        input_tree.plug(9, SYMBOL_NAME, 0x05E0, 0x1200, by_id=SYMBOL_BY_ID)

    def open_device(path: str, grab: bool) -> PlayedDevice:
        opened.append((path, grab))
        if path.endswith("event5"):
            devices[path] = PlayedDevice(frames("unplug-part1.evemu"), unplug=replug)
        else:
            devices[path] = PlayedDevice(frames("unplug-part2.evemu"))
        return devices[path]

    source = _source(
        input_tree, recorder, open_device, ScannerSettings(device=SYMBOL_BY_ID, name="left")
    )
    running.append(source)
    source.start()
    recorder.wait_for(lambda: len(recorder.scans) == 2, "two scans")

    # The half scan "12#" typed before the unplug is not delivered; Shift, held at the
    # moment of the unplug, is not stuck afterwards.
    assert recorder.scans == [("Abc", "left"), ("xyz1", "left")]
    assert [path.rsplit("/", 1)[1] for path, _ in opened] == ["event5", "event9"]
    assert all(grab for _, grab in opened)
    assert recorder.statuses("left") == [
        ScannerStatus.CONNECTED,
        ScannerStatus.DISCONNECTED,
        ScannerStatus.CONNECTED,
    ]
    assert recorder.states[-1].device == str(input_tree.dev / "event9")

    source.stop()
    assert all(device.closed.is_set() for device in devices.values())  # grab released
    assert recorder.statuses("left")[-1] == ScannerStatus.STOPPED


def test_missing_scanner_is_searched_for_until_plugged_in(
    input_tree: InputTree, recorder: Recorder, running: list[ScannerSource]
) -> None:
    source = _source(
        input_tree,
        recorder,
        lambda path, grab: PlayedDevice(frames("us-basic.evemu")),
        ScannerSettings(device="05e0:1200"),
    )
    running.append(source)
    source.start()
    recorder.wait_for(lambda: ScannerStatus.SEARCHING in recorder.statuses("05e0:1200"), "search")
    input_tree.plug(4, SYMBOL_NAME, 0x05E0, 0x1200)
    recorder.wait_for(lambda: len(recorder.scans) == 3, "scans")
    assert [text for text, _ in recorder.scans] == ["AAaa00", "Order-123/X", "@ #_.,;'="]
    assert recorder.statuses("05e0:1200")[:2] == [ScannerStatus.SEARCHING, ScannerStatus.CONNECTED]


def test_no_permission_says_how_to_fix_it(
    input_tree: InputTree, recorder: Recorder, running: list[ScannerSource]
) -> None:
    input_tree.plug(5, SYMBOL_NAME, 0x05E0, 0x1200)

    def open_device(path: str, grab: bool) -> PlayedDevice:
        raise PermissionError(errno.EACCES, "Permission denied", path)

    source = _source(input_tree, recorder, open_device, ScannerSettings(device=SYMBOL_NAME))
    running.append(source)
    source.start()
    recorder.wait_for(lambda: bool(recorder.states), "a state")
    state = recorder.states[0]
    assert state.status == ScannerStatus.NO_PERMISSION
    assert "event5" in state.message
    assert "70-putback-scanner.rules" in state.message
    assert "usermod -aG putback" in state.message


def test_a_scanner_grabbed_by_another_program_is_reported(
    input_tree: InputTree, recorder: Recorder, running: list[ScannerSource]
) -> None:
    input_tree.plug(5, SYMBOL_NAME, 0x05E0, 0x1200)

    def open_device(path: str, grab: bool) -> PlayedDevice:
        raise OSError(errno.EBUSY, "Device or resource busy")

    source = _source(input_tree, recorder, open_device, ScannerSettings(device="05e0:1200"))
    running.append(source)
    source.start()
    recorder.wait_for(lambda: bool(recorder.states), "a state")
    assert recorder.states[0].status == ScannerStatus.ERROR
    assert "grabbed by another program" in recorder.states[0].message


def test_two_scanners_of_one_model_each_read_their_own_device(
    input_tree: InputTree, recorder: Recorder, running: list[ScannerSource]
) -> None:
    input_tree.plug(5, SYMBOL_NAME, 0x05E0, 0x1200)
    input_tree.plug(6, SYMBOL_NAME, 0x05E0, 0x1200)
    plays = {"event5": "keypad.evtest", "event6": "us-basic.evemu"}
    source = _source(
        input_tree,
        recorder,
        lambda path, grab: PlayedDevice(frames(plays[path.rsplit("/", 1)[1]])),
        ScannerSettings(device="05e0:1200", name="A"),
        ScannerSettings(device="05e0:1200", name="B"),
    )
    running.append(source)
    source.start()
    recorder.wait_for(lambda: len(recorder.scans) == 4, "four scans")
    # Which scanner setting gets which node is first come, first served; each gets one.
    by_scanner = sorted(
        [text for text, scanner in recorder.scans if scanner == name] for name in ("A", "B")
    )
    assert by_scanner == [["1234567890-+/*."], ["AAaa00", "Order-123/X", "@ #_.,;'="]]


def test_a_scan_without_terminator_ends_after_the_silence(
    input_tree: InputTree, recorder: Recorder, running: list[ScannerSource]
) -> None:
    input_tree.plug(5, SYMBOL_NAME, 0x05E0, 0x1200)
    reads = frames("unplug-part2.evemu")[:-2]  # "xyz1" without its Enter
    source = _source(
        input_tree, recorder, lambda path, grab: PlayedDevice(reads),
        ScannerSettings(device=SYMBOL_NAME, silence_ms=20),
    )
    running.append(source)
    source.start()
    recorder.wait_for(lambda: bool(recorder.scans), "the scan")
    assert recorder.scans == [("xyz1", SYMBOL_NAME)]


def test_a_failing_on_scan_does_not_stop_the_scanner(
    input_tree: InputTree, recorder: Recorder, running: list[ScannerSource]
) -> None:
    input_tree.plug(5, SYMBOL_NAME, 0x05E0, 0x1200)
    seen: list[str] = []

    def on_scan(text: str, scanner: str) -> None:
        seen.append(text)
        if len(seen) == 1:
            raise RuntimeError("bug in the app")

    source = ScannerSource(
        [ScannerSettings(device=SYMBOL_NAME)],
        on_scan,
        recorder.on_state,
        list_devices=partial(list_input_devices, input_tree.dev, input_tree.sys),
        open_device=lambda path, grab: PlayedDevice(frames("us-basic.evemu")),
        poll_interval=0.01,
    )
    running.append(source)
    source.start()
    recorder.wait_for(lambda: len(seen) == 3, "all scans")
    assert seen == ["AAaa00", "Order-123/X", "@ #_.,;'="]


def test_no_dev_input_at_all_is_an_error_state(
    input_tree: InputTree, recorder: Recorder, running: list[ScannerSource]
) -> None:
    source = ScannerSource(
        [ScannerSettings(device="05e0:1200")],
        recorder.on_scan,
        recorder.on_state,
        list_devices=partial(list_input_devices, input_tree.dev / "gone", input_tree.sys),
        poll_interval=0.01,
    )
    running.append(source)
    source.start()
    recorder.wait_for(lambda: bool(recorder.states), "a state")
    assert recorder.states[0].status == ScannerStatus.ERROR
    assert "no input devices" in recorder.states[0].message
