"""`putback scanners list` and `putback scanners replay`, through click's test runner."""

from __future__ import annotations

import json
from functools import partial

import pytest
from click.testing import CliRunner, Result

from putback_tui.scanners.cli import make_scanners_group
from putback_tui.scanners.discovery import list_input_devices
from putback_tui.scanners.settings import ScannerSettings
from tests.scanners.scanner_helpers import RECORDINGS, SYMBOL_BY_ID, SYMBOL_NAME, InputTree


def _run(
    args: list[str], settings: list[ScannerSettings] | None = None, tree: InputTree | None = None
) -> Result:
    if tree is None:
        group = make_scanners_group(lambda: settings or [])
    else:
        lister = partial(list_input_devices, tree.dev, tree.sys)
        group = make_scanners_group(lambda: settings or [], list_devices=lister)
    return CliRunner().invoke(group, args, catch_exceptions=False)


def test_replay_prints_one_scan_per_line_with_control_characters_escaped() -> None:
    result = _run(["replay", str(RECORDINGS / "gs1-altcode.evemu")])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "01095011015300031725123110Abc123\\x1d21s45",
        "010950110153000310L1\\x1d21X",
        "ABÄ1",
    ]


def test_replay_an_evtest_recording_with_a_layout() -> None:
    result = _run(["replay", str(RECORDINGS / "de.evtest"), "--layout", "de"])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["zyZ@ßüÄ-/[]=", "^êá`@,"]
    assert "layout de" in result.stderr


def test_replay_uses_the_configured_scanner_the_recording_comes_from() -> None:
    settings = [ScannerSettings(device="0c2e:0b61", name="packing 3", layout="de")]
    result = _run(["replay", str(RECORDINGS / "de.evtest")], settings)
    assert result.stdout.splitlines()[0] == "zyZ@ßüÄ-/[]="
    assert "packing 3" in result.stderr


def test_replay_json() -> None:
    result = _run(["replay", "--json", str(RECORDINGS / "ctrl.evtest")])
    scans = [json.loads(line) for line in result.stdout.splitlines()]
    assert [scan["text"] for scan in scans] == ["\x0212\x1d34\x04", "a\ufffdb"]


def test_replay_says_when_the_last_scan_had_no_terminator() -> None:
    result = _run(["replay", str(RECORDINGS / "unplug-part1.evemu")])
    assert result.stdout.splitlines() == ["Abc", "12#"]
    assert "no terminator" in result.stderr


def test_replay_of_a_file_in_the_wrong_format_fails_clearly() -> None:
    result = CliRunner().invoke(
        make_scanners_group(list),
        ["replay", "--format", "evemu", str(RECORDINGS / "ctrl.evtest")],
    )
    assert result.exit_code == 1
    assert "line 1: not an evemu-record line" in result.stderr


@pytest.fixture
def tree(input_tree: InputTree) -> InputTree:
    input_tree.plug(2, "AT Translated Set 2 keyboard", 0x0001, 0x0001)
    input_tree.plug(5, SYMBOL_NAME, 0x05E0, 0x1200, by_id=SYMBOL_BY_ID)
    return input_tree


def test_list_shows_devices_ids_links_scanners_and_configuration(tree: InputTree) -> None:
    settings = [
        ScannerSettings(device="05e0:1200", name="left"),
        ScannerSettings(device="Zebra DS2208", name="right"),
    ]
    result = _run(["list"], settings, tree)
    assert result.exit_code == 0
    out = result.stdout
    assert f"{tree.dev}/event2  0001:0001  AT Translated Set 2 keyboard\n    keyboard\n" in out
    assert f"{tree.dev}/event5  05e0:1200  {SYMBOL_NAME}" in out
    assert "looks like a scanner, configured as 'left'" in out
    assert f"{tree.dev}/by-id/{SYMBOL_BY_ID}" in out
    assert "Configured scanner 'right' (Zebra DS2208): not found" in out


def test_list_without_dev_input_says_so_and_succeeds(input_tree: InputTree) -> None:
    group = make_scanners_group(
        list, list_devices=partial(list_input_devices, input_tree.dev / "none", input_tree.sys)
    )
    result = CliRunner().invoke(group, ["list"])
    assert result.exit_code == 0
    assert "No input devices" in result.stdout
