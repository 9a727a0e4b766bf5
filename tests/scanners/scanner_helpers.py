"""Helpers for the scanner tests: decode a recording, and a /dev/input + sysfs tree of our own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from putback_tui.scanners.decoder import ScanDecoder
from putback_tui.scanners.recordings import read_recording
from putback_tui.scanners.settings import ScannerSettings

RECORDINGS = Path(__file__).parent / "recordings"

SYMBOL_NAME = "Symbol Technologies, Inc, 2008 Symbol Bar Code Scanner"
SYMBOL_BY_ID = "usb-Symbol_Technologies__Inc__2008_Symbol_Bar_Code_Scanner_S_N-event-kbd"
# A keyboard's sysfs key bitmap (64-bit words, most significant first): Esc to the keypad.
KEYBOARD_KEYS = "1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe"


def replay(name: str, **settings: Any) -> list[str]:
    """Decode a recording from tests/scanners/recordings as a scanner with these settings would."""
    recording = read_recording(RECORDINGS / name)
    decoder = ScanDecoder.from_settings(ScannerSettings(device="test", **settings))
    scans = decoder.feed_all(recording.events)
    scans.extend(decoder.finish())
    return [scan.text for scan in scans]


@dataclass
class InputTree:
    """A /dev/input and /sys/class/input of our own, where devices are plugged and unplugged."""

    dev: Path
    sys: Path

    def plug(
        self,
        number: int,
        name: str,
        vendor: int,
        product: int,
        *,
        by_id: str | None = None,
        keyboard: bool = True,
    ) -> str:
        node = self.dev / f"event{number}"
        node.write_bytes(b"")
        device = self.sys / f"event{number}" / "device"
        (device / "id").mkdir(parents=True)
        (device / "capabilities").mkdir()
        (device / "name").write_text(name + "\n")
        (device / "id" / "vendor").write_text(f"{vendor:04x}\n")
        (device / "id" / "product").write_text(f"{product:04x}\n")
        (device / "capabilities" / "key").write_text((KEYBOARD_KEYS if keyboard else "0") + "\n")
        if by_id:
            (self.dev / "by-id").mkdir(exist_ok=True)
            (self.dev / "by-id" / by_id).symlink_to(f"../event{number}")
        return str(node)

    def unplug(self, number: int) -> None:
        node = self.dev / f"event{number}"
        for link in (self.dev / "by-id").glob("*") if (self.dev / "by-id").is_dir() else ():
            if link.is_symlink() and link.resolve() == node.resolve():
                link.unlink()
        node.unlink()
        device = self.sys / f"event{number}" / "device"
        for path in sorted(device.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        device.rmdir()
        (self.sys / f"event{number}").rmdir()
