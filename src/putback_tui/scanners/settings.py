"""Settings of one HID scanner: which device it is, its layout and how a scan ends."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from putback_tui.scanners.layouts import LayoutName

Terminator = Literal["enter", "keypad_enter", "tab"]
"""A key that ends a scan."""


class ScannerSettings(BaseModel):
    """One HID scanner read through evdev. A terminal may have several."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    device: str = Field(min_length=1)
    """Which input device: a path (``/dev/input/event5``), a ``/dev/input/by-id/`` name with or
    without the folder (``usb-Symbol_Technologies_..._Scanner-event-kbd``), the device name as
    ``putback scanners list`` shows it, or ``vendor:product`` in hex (``05e0:1200``). The first
    matching device that is not already taken by another configured scanner is used."""

    name: str | None = None
    """A short label for the status bar (``"left scanner"``); the device setting if unset."""

    layout: LayoutName = "us"
    """The keyboard layout the scanner is set up to emulate: ``us``, ``uk``, ``de`` or ``fr``."""

    terminators: tuple[Terminator, ...] = ("enter", "keypad_enter", "tab")
    """Keys that end a scan. A terminator key is not part of the scan; Enter or Tab left out of
    this list is kept in the scanned text as ``\\r`` or ``\\t``."""

    silence_ms: int = Field(default=100, ge=0, le=10_000)
    """A scan also ends after this many milliseconds without a key (0: only terminators end a
    scan). Scanners type a character every 1 to 8 ms; keep this well above that, or a scanner
    that pauses mid-code would have its scan cut in two."""

    prefix: str = ""
    """Text the scanner is set up to send before each code, removed from the start of a scan."""

    suffix: str = ""
    """Text the scanner is set up to send after each code, removed from the end of a scan."""

    grab: bool = True
    """Take the device for this program alone, so scans do not also type into a console or
    another window. Leave on except to debug."""

    @field_validator("device")
    @classmethod
    def _strip_device(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("device must name an input device")
        return value

    @model_validator(mode="after")
    def _scans_can_end(self) -> ScannerSettings:
        if not self.terminators and self.silence_ms == 0:
            raise ValueError("a scan could never end: give terminators, or a silence_ms above 0")
        return self

    @property
    def label(self) -> str:
        """The name shown to the operator for this scanner."""
        return self.name or self.device
