"""`putback scanners ...`: list the input devices, and replay recordings through the decoder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import click

from putback_tui.domain.wording import plural
from putback_tui.packaged import UDEV_RULE_PATH
from putback_tui.scanners.decoder import ScanDecoder
from putback_tui.scanners.discovery import (
    DeviceInfo,
    NoInputDevicesError,
    list_input_devices,
    matches,
    resolve,
)
from putback_tui.scanners.layouts import LAYOUTS
from putback_tui.scanners.recordings import (
    Recording,
    RecordingError,
    RecordingFormat,
    escape_controls,
    read_recording,
)
from putback_tui.scanners.settings import ScannerSettings
from putback_tui.scanners.source import ListDevices, permission_fix


def _assign(
    scanners: list[ScannerSettings], devices: list[DeviceInfo]
) -> tuple[dict[str, ScannerSettings], list[ScannerSettings]]:
    """Which device each configured scanner would get, as the app assigns them, and the missing."""
    assigned: dict[str, ScannerSettings] = {}
    missing = []
    for settings in scanners:
        info = resolve(settings.device, devices, taken=assigned)
        if info is None:
            missing.append(settings)
        else:
            assigned[info.path] = settings
    return assigned, missing


def _settings_for(recording: Recording, scanners: list[ScannerSettings]) -> ScannerSettings | None:
    """The configured scanner the recording was made from, judging by its name and IDs."""
    info = DeviceInfo(
        path="",
        name=recording.name or "",
        vendor=recording.vendor or 0,
        product=recording.product or 0,
    )
    for settings in scanners:
        if not settings.device.startswith("/") and matches(settings.device, info):
            return settings
    return None


def make_scanners_group(
    get_settings: Callable[[], list[ScannerSettings]],
    *,
    list_devices: ListDevices = list_input_devices,
) -> click.Group:
    """The ``scanners`` command group.

    Args:
        get_settings: returns the configured scanners; called only by commands that need them.
        list_devices: lists the input devices (the tests pass one that reads a tree of theirs).
    """

    @click.group(name="scanners")
    def scanners() -> None:
        """HID barcode scanners: see which devices there are, debug a scanner's decoding."""

    @scanners.command(name="list")
    def list_command() -> None:
        """List the input devices: names, IDs, links, which look like scanners, which are set up.

        Exits 0 even when there are no input devices at all, saying so.
        """
        configured = get_settings()
        try:
            devices = list(list_devices())
        except NoInputDevicesError as error:
            click.echo(f"No input devices: {error}. HID scanners cannot be used here.")
            for settings in configured:
                click.echo(f"Configured scanner {settings.label!r} ({settings.device}): not found")
            return
        if not devices:
            click.echo("No input devices found.")
        assigned, missing = _assign(configured, devices)
        for info in devices:
            notes = []
            if info.looks_like_scanner:
                notes.append("looks like a scanner")
            elif info.is_keyboard:
                notes.append("keyboard")
            if info.path in assigned:
                notes.append(f"configured as {assigned[info.path].label!r}")
            if not info.readable:
                notes.append("no permission")
            click.echo(f"{info.path}  {info.vendor_product}  {escape_controls(info.name)}")
            if notes:
                click.echo(f"    {', '.join(notes)}")
            for link in info.links:
                click.echo(f"    {link}")
        for settings in missing:
            click.echo(f"Configured scanner {settings.label!r} ({settings.device}): not found")
        if any(not info.readable and info.path in assigned for info in devices):
            click.echo(permission_fix())

    @scanners.command(name="replay")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--layout",
        type=click.Choice(sorted(LAYOUTS)),
        help="Keyboard layout the scanner emulates (default: that of the configured scanner the "
        "recording comes from, else us).",
    )
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["auto", "evemu", "evtest"]),
        default="auto",
        show_default=True,
        help="Which tool made the recording.",
    )
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per scan.")
    def replay_command(
        file: Path, layout: str | None, fmt: RecordingFormat | Literal["auto"], as_json: bool
    ) -> None:
        r"""Decode a recording made with evemu-record or evtest, one scan per line.

        Control characters are shown escaped (GS as \x1d, a backslash as \\). Notes about
        the decoding go to stderr.
        """
        try:
            recording = read_recording(file, fmt)
        except (OSError, RecordingError) as error:
            raise click.ClickException(f"{file}: {error}") from error
        settings = _settings_for(recording, get_settings())
        source = f"configured scanner {settings.label!r}" if settings else "defaults"
        if settings is None:
            settings = ScannerSettings(device=recording.name or str(file))
        if layout is not None:
            settings = settings.model_copy(update={"layout": layout})
        decoder = ScanDecoder.from_settings(settings)
        scans = decoder.feed_all(recording.events)
        unterminated = decoder.finish()
        for scan in [*scans, *unterminated]:
            if as_json:
                click.echo(
                    json.dumps({"text": scan.text, "start": scan.started, "end": scan.ended})
                )
            else:
                click.echo(escape_controls(scan.text))
        device = f" of {escape_controls(recording.name)!r}" if recording.name else ""
        click.echo(
            f"{plural(len(scans) + len(unterminated), 'scan')} from the {recording.format} "
            f"recording{device}, layout {settings.layout} ({source}).",
            err=True,
        )
        if unterminated:
            click.echo("The last scan had no terminator: the recording's end ended it.", err=True)
        if decoder.dropped_scans:
            click.echo(
                f"{plural(decoder.dropped_scans, 'scan')} dropped: the kernel lost events "
                "(SYN_DROPPED).",
                err=True,
            )

    @scanners.command(name="udev-rule")
    def udev_rule_command() -> None:
        """Print the udev rule that lets the putback group read scanners (and no other keyboard).

        Install it: putback scanners udev-rule | sudo tee /etc/udev/rules.d/70-putback-scanner.rules
        """
        click.echo(UDEV_RULE_PATH.read_text(encoding="utf-8"), nl=False)

    return scanners
