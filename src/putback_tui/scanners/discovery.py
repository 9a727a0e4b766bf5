"""Find input devices and pick the one a scanner setting names, from /dev/input and sysfs.

Everything here reads plain files (``/sys/class/input/eventN/device/...`` and the
``/dev/input/by-id`` links), so it works without permission to open the devices (that is when
a user most needs to see them) and without evdev; both folders are parameters, so the tests give
it a tree of their own.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from putback_tui.scanners import events as ev

DEV_INPUT = Path("/dev/input")
"""Where the kernel's event device nodes are."""
SYS_CLASS_INPUT = Path("/sys/class/input")
"""Where sysfs describes them."""

# USB vendor IDs of barcode scanner makers: Symbol/Zebra, Metrologic/Honeywell, Hand Held
# Products (Honeywell), PSC and Datalogic, Newland, Opticon.
SCANNER_VENDORS = frozenset({0x05E0, 0x0C2E, 0x0536, 0x05F9, 0x080C, 0x1EAB, 0x065A})
_SCANNER_WORDS = re.compile(
    r"scanner|barcode|bar code|honeywell|zebra|symbol|datalogic|newland|metrologic|opticon",
    re.IGNORECASE,
)
_VENDOR_PRODUCT = re.compile(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{4})")
_LONG_BITS = struct.calcsize("l") * 8  # sysfs prints capability bitmaps in words of a C long


class NoInputDevicesError(FileNotFoundError):
    """There is no /dev/input at all (a container, or not Linux): no HID scanner can work here."""


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What is known about one ``/dev/input/eventN`` node without opening it."""

    path: str
    """The event node, e.g. ``/dev/input/event5``."""
    name: str
    """The name the device gives itself."""
    vendor: int = 0
    """Vendor ID (USB idVendor for USB devices)."""
    product: int = 0
    """Product ID."""
    links: tuple[str, ...] = ()
    """Stable links to the node under ``/dev/input/by-id`` and ``/dev/input/by-path``."""
    is_keyboard: bool = False
    """Whether it has Enter, digit and letter keys, as every keyboard-emulating scanner has."""
    readable: bool = True
    """Whether this process may open it (false: the udev rule or group is missing)."""

    @property
    def vendor_product(self) -> str:
        """IDs as ``vvvv:pppp`` in hex, the form the settings accept."""
        return f"{self.vendor:04x}:{self.product:04x}"

    @property
    def looks_like_scanner(self) -> bool:
        """A guess: a keyboard made by a scanner maker, or one whose name says scanner."""
        return self.is_keyboard and (
            self.vendor in SCANNER_VENDORS or bool(_SCANNER_WORDS.search(self.name))
        )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _hex(text: str) -> int:
    try:
        return int(text, 16)
    except ValueError:
        return 0


def _has_keys(bitmap: str, codes: Iterable[int]) -> bool:
    words = bitmap.split()
    if not words:
        return False
    value = 0
    for word in words:  # most significant word first
        value = (value << _LONG_BITS) | _hex(word)
    return all(value >> code & 1 for code in codes)


def _node_number(path: Path) -> int:
    digits = path.name.removeprefix("event")
    return int(digits) if digits.isdigit() else -1


def list_input_devices(
    dev_dir: Path = DEV_INPUT, sys_dir: Path = SYS_CLASS_INPUT
) -> list[DeviceInfo]:
    """Every ``eventN`` node, in node order, described from sysfs.

    Raises:
        NoInputDevicesError: ``dev_dir`` does not exist.
    """
    if not dev_dir.is_dir():
        raise NoInputDevicesError(f"{dev_dir} does not exist: this machine has no input devices")
    links: dict[str, list[str]] = {}
    for folder in ("by-id", "by-path"):
        try:
            entries = sorted((dev_dir / folder).iterdir())
        except OSError:
            continue
        for link in entries:
            if link.is_symlink():
                links.setdefault(os.path.realpath(link), []).append(str(link))
    devices = []
    nodes = sorted(
        (node for node in dev_dir.glob("event*") if _node_number(node) >= 0), key=_node_number
    )
    for node in nodes:
        info = sys_dir / node.name / "device"
        devices.append(
            DeviceInfo(
                path=str(node),
                name=_read(info / "name"),
                vendor=_hex(_read(info / "id" / "vendor")),
                product=_hex(_read(info / "id" / "product")),
                links=tuple(links.get(os.path.realpath(node), ())),
                is_keyboard=_has_keys(
                    _read(info / "capabilities" / "key"), (ev.KEY_ENTER, ev.KEY_1, ev.KEY_A)
                ),
                readable=os.access(node, os.R_OK),
            )
        )
    return devices


def matches(selector: str, device: DeviceInfo) -> bool:
    """Whether the ``device`` setting ``selector`` names this device.

    A selector is a path (the node or a link to it), the file name of a by-id or by-path link,
    ``vvvv:pppp`` in hex, or else the device name (compared without regard to case).
    """
    if match := _VENDOR_PRODUCT.fullmatch(selector):
        return (int(match.group(1), 16), int(match.group(2), 16)) == (
            device.vendor,
            device.product,
        )
    if selector.startswith("/"):
        return (
            selector == device.path
            or selector in device.links
            or os.path.realpath(selector) == os.path.realpath(device.path)
        )
    if any(os.path.basename(link) == selector for link in device.links):
        return True
    return selector.casefold() == device.name.casefold()


def resolve(
    selector: str, devices: Iterable[DeviceInfo], taken: Collection[str] = ()
) -> DeviceInfo | None:
    """The device ``selector`` names, skipping nodes in ``taken`` (used by other scanners).

    When several match (two scanners of one model, or one scanner with several nodes), keyboard
    nodes come first, then the lowest node number.
    """
    candidates = [d for d in devices if d.path not in taken and matches(selector, d)]
    if not candidates:
        return None
    return min(candidates, key=lambda d: (not d.is_keyboard, _node_number(Path(d.path))))
