"""Read event recordings made with ``evemu-record`` or ``evtest``, and show scans safely.

Both tools print every event of a device as text. The parsers here turn that text back into
:class:`~putback_tui.scanners.events.RawEvent` so that a recording goes through the very decoder
a live scanner does: this is how ``putback scanners replay`` debugs a scanner, and how the tests
run without hardware.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from putback_tui.scanners import events as ev

RecordingFormat = Literal["evemu", "evtest"]
"""The text formats a recording can be in."""


class RecordingError(ValueError):
    """A file is not a recording this module can read; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Recording:
    """The events of one device, as recorded, with what the recording says about the device."""

    format: RecordingFormat
    """Which tool wrote it."""
    events: tuple[ev.RawEvent, ...]
    """Every event, in order."""
    name: str | None = None
    """The device name, if the recording has it."""
    vendor: int | None = None
    """USB (or other bus) vendor ID, if the recording has it."""
    product: int | None = None
    """Product ID, if the recording has it."""


def parse_evemu(text: str) -> Recording:
    """Parse the output of ``evemu-record`` (or ``evemu-describe`` followed by events).

    Raises:
        RecordingError: a line is neither a comment, a device description nor an event.
    """
    events: list[ev.RawEvent] = []
    name: str | None = None
    vendor: int | None = None
    product: int | None = None
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.split("#", 1)[0].strip()
        if not line:
            continue
        tag, _, rest = line.partition(" ")
        try:
            if tag == "E:":
                stamp, kind, code, value = rest.split()
                events.append(ev.RawEvent(int(kind, 16), int(code, 16), int(value), float(stamp)))
            elif tag == "N:":
                # The name may itself hold a '#': take it from the raw line, not the stripped one.
                name = raw_line.strip()[3:].strip()
            elif tag == "I:":
                _bus, vendor_hex, product_hex, _version = rest.split()
                vendor, product = int(vendor_hex, 16), int(product_hex, 16)
            elif tag not in {"P:", "B:", "A:", "L:", "S:"}:
                raise ValueError("unknown line")
        except ValueError:
            raise RecordingError(
                f"line {number}: not an evemu-record line: {raw_line.strip()!r}"
            ) from None
    return Recording("evemu", tuple(events), name, vendor, product)


_EVTEST_EVENT = re.compile(
    r"Event: time (\d+\.\d+), type (\d+) \([^)]*\), code (\d+) \([^)]*\), value (-?[0-9a-fA-F]+)"
)
_EVTEST_SYN = re.compile(r"Event: time (\d+\.\d+), [-+>]+ (\w+) [-+<]+")
_EVTEST_ID = re.compile(
    r"Input device ID: bus 0x[0-9a-f]+ vendor 0x([0-9a-f]+) product 0x([0-9a-f]+)"
)
_EVTEST_NAME = re.compile(r'Input device name: "(.*)"')
_SYN_CODES = {"SYN_REPORT": 0, "SYN_CONFIG": 1, "SYN_MT_REPORT": 2, "SYN_DROPPED": 3}
_MSC_HEX_CODES = {3, 4}  # evtest prints MSC_RAW and MSC_SCAN values in hex, all others in decimal


def parse_evtest(text: str) -> Recording:
    """Parse the output of ``evtest /dev/input/eventN``.

    Lines other than the device header and ``Event:`` lines (the capability list, the device
    menu) are skipped.

    Raises:
        RecordingError: an ``Event:`` line is not in evtest's format.
    """
    events: list[ev.RawEvent] = []
    name: str | None = None
    vendor: int | None = None
    product: int | None = None
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line.startswith("Event:"):
            if match := _EVTEST_NAME.match(line):
                name = match.group(1)
            elif match := _EVTEST_ID.match(line):
                vendor, product = int(match.group(1), 16), int(match.group(2), 16)
            continue
        if match := _EVTEST_EVENT.fullmatch(line):
            kind, code = int(match.group(2)), int(match.group(3))
            base = 16 if kind == ev.EV_MSC and code in _MSC_HEX_CODES else 10
            try:
                value = int(match.group(4), base)
            except ValueError:
                raise RecordingError(f"line {number}: bad value in {line!r}") from None
            events.append(ev.RawEvent(kind, code, value, float(match.group(1))))
        elif (match := _EVTEST_SYN.fullmatch(line)) and match.group(2) in _SYN_CODES:
            code = _SYN_CODES[match.group(2)]
            events.append(ev.RawEvent(ev.EV_SYN, code, 0, float(match.group(1))))
        else:
            raise RecordingError(f"line {number}: not an evtest event line: {line!r}")
    return Recording("evtest", tuple(events), name, vendor, product)


def detect_format(text: str) -> RecordingFormat:
    """Which tool wrote ``text``, from its first telling line.

    Raises:
        RecordingError: neither format is recognised.
    """
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if line.startswith(("# EVEMU", "E: ", "N: ", "I: ")):
            return "evemu"
        if line.startswith(("Event: time", "Input driver version", "Input device ")):
            return "evtest"
    raise RecordingError(
        "not a recording from evemu-record or evtest (no 'E:' or 'Event: time' lines)"
    )


def parse_recording(text: str, fmt: RecordingFormat | Literal["auto"] = "auto") -> Recording:
    """Parse a recording in the given format, or in the one it looks like.

    Raises:
        RecordingError: the text is not a readable recording.
    """
    chosen = detect_format(text) if fmt == "auto" else fmt
    return parse_evemu(text) if chosen == "evemu" else parse_evtest(text)


def read_recording(path: Path, fmt: RecordingFormat | Literal["auto"] = "auto") -> Recording:
    """Read and parse a recording file.

    Raises:
        OSError: the file cannot be read.
        RecordingError: it is not a readable recording.
    """
    return parse_recording(path.read_text(encoding="utf-8", errors="replace"), fmt)


def escape_controls(text: str) -> str:
    r"""``text`` with every control or invisible character written as an escape (GS as ``\x1d``).

    Python's notion of printable decides: control, format, private-use, unassigned and separator
    characters other than the space are escaped. Backslashes are doubled, so the output reads
    back unambiguously. Safe to print to a terminal: no escape sequence in a scan can reach it.
    """
    if text.isprintable() and "\\" not in text:
        return text
    out: list[str] = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char.isprintable():
            out.append(char)
        else:
            point = ord(char)
            if point < 0x100:
                out.append(f"\\x{point:02x}")
            elif point < 0x10000:
                out.append(f"\\u{point:04x}")
            else:
                out.append(f"\\U{point:08x}")
    return "".join(out)
