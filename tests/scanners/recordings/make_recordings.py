"""Write the test recordings, in the exact text formats of evemu-record and evtest.

The recordings in this folder were made with this script, not with hardware: each one types
given key strokes as a HID keyboard's kernel driver reports them (an MSC_SCAN with the HID usage
before each key event, a SYN_REPORT after each report). Key codes and names come from
``evdev.ecodes``, not from the decoder's own tables, so the tests check the decoder against the
kernel's numbering. The expected texts live in the tests, written by hand.

Run ``.venv/bin/python tests/scanners/recordings/make_recordings.py`` after changing it, and
commit the files it writes.

Stroke language: strokes are separated by spaces; ``LEFTSHIFT+A`` holds Left Shift while A is
pressed (key names are evdev's without ``KEY_``); ``ALT:029`` types Alt + keypad 0, 2, 9 with
one report per key, ``ALT1:029`` sends all the keypad keys of the code in one SYN frame;
``A*3`` holds A for three autorepeat events; ``PAUSE`` waits 300 ms; ``LED`` inserts an LED
event from the host (Caps Lock light), which the decoder must ignore.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from evdev import ecodes

HERE = Path(__file__).parent
EVTEST_EPOCH = 1_700_000_000.0
FRAME_S = 0.004  # a scanner reports a key every few milliseconds
SCAN_GAP_S = 0.8  # between two scans: an operator aims the next code

# HID keyboard usages (USB HID Usage Tables, page 7), for the MSC_SCAN events.
_USAGES = {
    **{f"KEY_{c}": 0x04 + i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")},
    **{f"KEY_{d}": 0x1E + i for i, d in enumerate("123456789")},
    "KEY_0": 0x27, "KEY_ENTER": 0x28, "KEY_ESC": 0x29, "KEY_BACKSPACE": 0x2A, "KEY_TAB": 0x2B,
    "KEY_SPACE": 0x2C, "KEY_MINUS": 0x2D, "KEY_EQUAL": 0x2E, "KEY_LEFTBRACE": 0x2F,
    "KEY_RIGHTBRACE": 0x30, "KEY_BACKSLASH": 0x32, "KEY_SEMICOLON": 0x33,
    "KEY_APOSTROPHE": 0x34, "KEY_GRAVE": 0x35, "KEY_COMMA": 0x36, "KEY_DOT": 0x37,
    "KEY_SLASH": 0x38, "KEY_CAPSLOCK": 0x39, "KEY_F5": 0x3E, "KEY_KPSLASH": 0x54,
    "KEY_KPASTERISK": 0x55, "KEY_KPMINUS": 0x56, "KEY_KPPLUS": 0x57, "KEY_KPENTER": 0x58,
    **{f"KEY_KP{d}": 0x59 + i for i, d in enumerate("123456789")},
    "KEY_KP0": 0x62, "KEY_KPDOT": 0x63, "KEY_102ND": 0x64,
    "KEY_LEFTCTRL": 0xE0, "KEY_LEFTSHIFT": 0xE1, "KEY_LEFTALT": 0xE2,
    "KEY_RIGHTCTRL": 0xE4, "KEY_RIGHTSHIFT": 0xE5, "KEY_RIGHTALT": 0xE6,
}


@dataclass(frozen=True)
class Device:
    name: str
    vendor: int
    product: int


SYMBOL = Device("Symbol Technologies, Inc, 2008 Symbol Bar Code Scanner", 0x05E0, 0x1200)
HONEYWELL = Device("Honeywell Imaging & Mobility 1900", 0x0C2E, 0x0B61)
DATALOGIC = Device("Datalogic ADC, Inc. Handheld Barcode Scanner", 0x05F9, 0x2206)
GENERIC = Device("USBKey Module", 0x1A2C, 0x4C5E)

Event = tuple[float, int, int, int]  # timestamp, type, code, value


def _key(name: str) -> int:
    code = ecodes.ecodes[f"KEY_{name}"]
    assert isinstance(code, int)
    return code


def _key_events(name: str, value: int, t: float) -> list[Event]:
    code = _key(name)
    return [(t, ecodes.EV_MSC, ecodes.MSC_SCAN, 0x70000 + _USAGES[f"KEY_{name}"]),
            (t, ecodes.EV_KEY, code, value)]


def _syn(t: float) -> Event:
    return (t, ecodes.EV_SYN, ecodes.SYN_REPORT, 0)


def type_strokes(scans: list[str], style: str = "separate") -> list[Event]:
    """Events for some scans, each a string of strokes.

    Styles of reporting a stroke with modifiers: ``separate`` (modifier, key and releases each
    in their own report), ``same_frame`` (modifiers and key pressed in one report, released in
    the next), ``key_first`` (as same_frame, but the key's event before the modifier's, as some
    report descriptors order them), ``one_frame`` (press and release all in one SYN frame).
    """
    events: list[Event] = []
    t = 0.0

    def frame(*parts: list[Event]) -> None:
        nonlocal t
        for part in parts:
            events.extend((t, kind, code, value) for _, kind, code, value in part)
        events.append(_syn(t))
        t += FRAME_S

    for scan in scans:
        for stroke in scan.split():
            if stroke == "PAUSE":
                t += 0.3
                continue
            if stroke == "LED":
                events.append((t, ecodes.EV_LED, ecodes.LED_CAPSL, 1))
                events.append(_syn(t))
                continue
            if stroke.startswith(("ALT:", "ALT1:")):
                mode, digits = stroke.split(":")
                frame(_key_events("LEFTALT", 1, t))
                keypad = [(f"KP{d}") for d in digits]
                if mode == "ALT1":
                    frame(*[_key_events(k, v, t) for k in keypad for v in (1, 0)])
                else:
                    for k in keypad:
                        frame(_key_events(k, 1, t))
                        frame(_key_events(k, 0, t))
                frame(_key_events("LEFTALT", 0, t))
                continue
            *mods, key = stroke.split("+")
            repeats = 0
            if "*" in key:
                key, count = key.split("*")
                repeats = int(count)
            down = [_key_events(m, 1, t) for m in mods]
            up = [_key_events(m, 0, t) for m in reversed(mods)]
            press, release = _key_events(key, 1, t), _key_events(key, 0, t)
            if not mods or style == "separate":
                for part in down:
                    frame(part)
                frame(press)
            elif style == "key_first":
                frame(press, *down)
            elif style == "one_frame":
                frame(*down, press, release, *up)
                continue
            else:
                frame(*down, press)
            for _ in range(repeats):
                frame([(t, ecodes.EV_KEY, _key(key), 2)])
            if not mods or style == "separate":
                frame(release)
                for part in up:
                    frame(part)
            else:
                frame(release, *up)
        t += SCAN_GAP_S
    return events


def _code_name(kind: int, code: int) -> str:
    names = ecodes.bytype[kind][code]
    return names[0] if isinstance(names, list | tuple) else names


def write_evemu(path: Path, device: Device, events: list[Event]) -> None:
    """As ``evemu-record`` (evemu 2.7) prints a recording: header, description, events."""
    lines = [
        "# EVEMU 1.3",
        "# Kernel: 6.1.0-18-amd64",
        "# DMI: dmi:bvnLENOVO:bvrM1AKT4DA:svnLENOVO:pn10T7S0H700:",
        "# Input device name: " f'"{device.name}"',
        f"# Input device ID: bus 0x03 vendor {device.vendor:#x} product {device.product:#x}"
        " version 0x111",
        "# Supported events:",
        "#   Event type 0 (EV_SYN)",
        "#     Event code 0 (SYN_REPORT)",
        "#   Event type 1 (EV_KEY)",
        "#     Event code 1 (KEY_ESC)",
        "#     Event code 2 (KEY_1)",
        "#   Event type 4 (EV_MSC)",
        "#     Event code 4 (MSC_SCAN)",
        "#   Event type 17 (EV_LED)",
        "#     Event code 1 (LED_CAPSL)",
        "# Properties:",
        f"N: {device.name}",
        f"I: 0003 {device.vendor:04x} {device.product:04x} 0111",
        "P: 00 00 00 00 00 00 00 00",
        "B: 00 13 00 02 00 00 00 00 00",
        "B: 01 fe ff ff ff ff ff ff ff",
        "B: 01 ff ff ef ff df ff ff fe",
        "B: 04 10 00 00 00 00 00 00 00",
        "B: 11 07 00 00 00 00 00 00 00",
        "################################",
        "#      Waiting for events      #",
        "################################",
    ]
    last_ms = 0
    for t, kind, code, value in events:
        stamp = f"E: {int(t)}.{round((t - int(t)) * 1e6):06d} {kind:04x} {code:04x} {value:04d}\t"
        if kind == ecodes.EV_SYN:
            now_ms = round(t * 1000)
            lines.append(
                stamp + f"# ------------ SYN_REPORT (0) ---------- {now_ms - last_ms:+d}ms"
            )
            last_ms = now_ms
        else:
            lines.append(stamp + f"# {ecodes.EV[kind]} / {_code_name(kind, code):<20} {value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_evtest(path: Path, device: Device, events: list[Event]) -> None:
    """As ``evtest /dev/input/eventN`` prints it (evtest 1.35)."""
    lines = [
        "Input driver version is 1.0.1",
        f"Input device ID: bus 0x3 vendor {device.vendor:#x} product {device.product:#x}"
        " version 0x111",
        f'Input device name: "{device.name}"',
        "Supported events:",
        "  Event type 0 (EV_SYN)",
        "  Event type 1 (EV_KEY)",
        "    Event code 1 (KEY_ESC)",
        "    Event code 2 (KEY_1)",
        "    Event code 30 (KEY_A)",
        "  Event type 4 (EV_MSC)",
        "    Event code 4 (MSC_SCAN)",
        "  Event type 17 (EV_LED)",
        "    Event code 1 (LED_CAPSL) state 0",
        "Key repeat handling:",
        "  Repeat type 20 (EV_REP)",
        "    Repeat code 0 (REP_DELAY)",
        "      Value    250",
        "    Repeat code 1 (REP_PERIOD)",
        "      Value     33",
        "Properties:",
        "Testing ... (interrupt to exit)",
    ]
    for t, kind, code, value in events:
        t += EVTEST_EPOCH
        stamp = f"Event: time {int(t)}.{round((t - int(t)) * 1e6):06d}, "
        if kind == ecodes.EV_SYN:
            lines.append(stamp + "-------------- SYN_REPORT ------------")
            continue
        shown = f"{value:02x}" if kind == ecodes.EV_MSC and code == ecodes.MSC_SCAN else value
        lines.append(
            stamp + f"type {kind} ({ecodes.EV[kind]}), code {code} ({_code_name(kind, code)}), "
            f"value {shown}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _shifted(keys: str) -> str:
    return " ".join(f"LEFTSHIFT+{k}" for k in keys.split())


def recordings() -> Iterator[tuple[str, Device, list[Event]]]:
    """(file name, device, events) for every recording the tests use."""
    # US: capitals after a separate Shift event, doubled letters and digits, symbols.
    yield "us-basic.evemu", SYMBOL, type_strokes([
        "LEFTSHIFT+A LEFTSHIFT+A A A 0 0 ENTER",
        "LEFTSHIFT+O R D E R MINUS 1 2 3 SLASH RIGHTSHIFT+X ENTER",
        "LEFTSHIFT+2 SPACE LEFTSHIFT+3 LEFTSHIFT+MINUS DOT COMMA SEMICOLON APOSTROPHE EQUAL ENTER",
    ])
    # The same scans with modifiers in the key's own SYN frame, before and after the key.
    for style in ("same_frame", "key_first", "one_frame"):
        yield f"us-{style.replace('_', '-')}.evtest", HONEYWELL, type_strokes(
            ["LEFTSHIFT+A LEFTSHIFT+A A A 0 0 ENTER", "LEFTSHIFT+A B LEFTSHIFT+C D ENTER"],
            style,
        )
    # Caps Lock on: letters capital, digits not; Shift inverts; off again.
    yield "us-capslock.evtest", DATALOGIC, type_strokes([
        "CAPSLOCK LED A B 1 LEFTSHIFT+C LEFTSHIFT+1 CAPSLOCK D ENTER",
    ])
    # UK: " and @ and £ swap places with US, # and \ have their own keys, AltGr+4 is the euro.
    yield "uk.evemu", SYMBOL, type_strokes([
        "LEFTSHIFT+2 LEFTSHIFT+APOSTROPHE LEFTSHIFT+3 BACKSLASH 102ND LEFTSHIFT+GRAVE "
        "RIGHTALT+4 ENTER",
    ])
    # German: Y and Z swapped, AltGr for @ and brackets, umlauts, the ß key, dead circumflex.
    yield "de.evtest", HONEYWELL, type_strokes([
        "Y Z LEFTSHIFT+Y RIGHTALT+Q MINUS LEFTBRACE LEFTSHIFT+APOSTROPHE SLASH "
        "LEFTSHIFT+7 RIGHTALT+8 RIGHTALT+9 LEFTSHIFT+0 ENTER",
        "GRAVE SPACE GRAVE E EQUAL A LEFTSHIFT+EQUAL SPACE LEFTCTRL+LEFTALT+Q KPDOT ENTER",
    ])
    # French AZERTY: digits need Shift, A/Q and Z/W swapped, M beside L, AltGr+0 is @.
    yield "fr.evemu", DATALOGIC, type_strokes([
        f"{_shifted('1 2 3 0')} Q A W Z SEMICOLON RIGHTALT+0 2 M LEFTSHIFT+M ENTER",
        "LEFTBRACE E LEFTSHIFT+LEFTBRACE I KPDOT ENTER",
    ])
    # Keypad: digits, operators, dot; keypad Enter ends the scan.
    yield "keypad.evtest", GENERIC, type_strokes([
        "KP1 KP2 KP3 KP4 KP5 KP6 KP7 KP8 KP9 KP0 KPMINUS KPPLUS KPSLASH KPASTERISK KPDOT KPENTER",
    ])
    # GS1-128 with GS sent as Alt+029: one report per keypad key, then all in one frame; and
    # a scanner in Alt-code mode for every character (Alt+065 is A, Alt+0196 is Ä).
    yield "gs1-altcode.evemu", HONEYWELL, type_strokes([
        "0 1 0 9 5 0 1 1 0 1 5 3 0 0 0 3 1 7 2 5 1 2 3 1 1 0 LEFTSHIFT+A B C 1 2 3 ALT:029 "
        "2 1 S 4 5 ENTER",
        "0 1 0 9 5 0 1 1 0 1 5 3 0 0 0 3 1 0 LEFTSHIFT+L 1 ALT1:029 2 1 LEFTSHIFT+X ENTER",
        "ALT:065 ALT1:066 ALT:0196 ALT:049 ENTER",
    ])
    # Ctrl + letter and bracket: Ctrl+] is GS, Ctrl+B is STX, Ctrl+D EOT; an F5 key nobody maps.
    yield "ctrl.evtest", SYMBOL, type_strokes([
        "LEFTCTRL+B 1 2 LEFTCTRL+RIGHTBRACE 3 4 RIGHTCTRL+D ENTER",
        "A F5 B ENTER",
    ])
    # Autorepeat and LED events, Tab as terminator, and a scan ended by silence alone.
    yield "repeat-tab-silence.evemu", GENERIC, type_strokes([
        "A*3 B B*2 TAB",
        "LED X Y ENTER ENTER",
        "1 2 3",
        "4 5 6 TAB",
    ])
    # Prefix "<" and suffix ">" configured on the scanner, and a Tab inside the code.
    yield "prefix-suffix.evtest", DATALOGIC, type_strokes([
        "LEFTSHIFT+COMMA C O D E TAB 9 LEFTSHIFT+DOT ENTER",
    ])
    # A device that disappears mid-scan: the first part ends with Shift held, halfway through
    # a code; the second is what the scanner sends once plugged back in.
    yield "unplug-part1.evemu", SYMBOL, type_strokes([
        "LEFTSHIFT+A B C ENTER",
        "1 2 LEFTSHIFT+3",
    ])[:-6]
    yield "unplug-part2.evemu", SYMBOL, type_strokes(["X Y Z 1 ENTER"])


def main() -> None:
    for name, device, events in recordings():
        writer = write_evemu if name.endswith(".evemu") else write_evtest
        writer(HERE / name, device, events)
        print(f"wrote {name}: {len(events)} events")


if __name__ == "__main__":
    main()
