"""Picking the configured device among those plugged in."""

from __future__ import annotations

import pytest

from putback_tui.scanners.discovery import NoInputDevicesError, list_input_devices, resolve
from tests.scanners.scanner_helpers import SYMBOL_BY_ID, SYMBOL_NAME, InputTree


@pytest.fixture
def tree(input_tree: InputTree) -> InputTree:
    input_tree.plug(2, "AT Translated Set 2 keyboard", 0x0001, 0x0001)
    input_tree.plug(3, "Power Button", 0, 0x0001, keyboard=False)
    input_tree.plug(5, SYMBOL_NAME, 0x05E0, 0x1200, by_id=SYMBOL_BY_ID)
    return input_tree


@pytest.mark.parametrize("selector", ["05e0:1200", "05E0:1200", SYMBOL_BY_ID, SYMBOL_NAME.upper()])
def test_every_selector_form_finds_the_scanner(tree: InputTree, selector: str) -> None:
    found = resolve(selector, list_input_devices(tree.dev, tree.sys))
    assert found is not None
    assert found.path == str(tree.dev / "event5")


@pytest.mark.parametrize("selector", ["event5", "Symbol", "05e0:9999"])
def test_partial_names_and_wrong_ids_find_nothing(tree: InputTree, selector: str) -> None:
    assert resolve(selector, list_input_devices(tree.dev, tree.sys)) is None


def test_paths_to_the_node_and_to_its_by_id_link_find_it(tree: InputTree) -> None:
    devices = list_input_devices(tree.dev, tree.sys)
    for selector in (str(tree.dev / "event5"), str(tree.dev / "by-id" / SYMBOL_BY_ID)):
        found = resolve(selector, devices)
        assert found is not None
        assert found.name == SYMBOL_NAME


def test_the_scanner_looks_like_one_and_the_keyboard_does_not(tree: InputTree) -> None:
    looks = {d.name: d.looks_like_scanner for d in list_input_devices(tree.dev, tree.sys)}
    assert looks == {
        "AT Translated Set 2 keyboard": False,
        "Power Button": False,
        SYMBOL_NAME: True,
    }


def test_two_scanners_of_one_model_go_to_two_settings(tree: InputTree) -> None:
    tree.plug(7, SYMBOL_NAME, 0x05E0, 0x1200)
    devices = list_input_devices(tree.dev, tree.sys)
    first = resolve("05e0:1200", devices)
    assert first is not None
    second = resolve("05e0:1200", devices, taken={first.path})
    assert second is not None
    assert {first.path, second.path} == {str(tree.dev / "event5"), str(tree.dev / "event7")}


def test_no_dev_input_is_reported(input_tree: InputTree) -> None:
    with pytest.raises(NoInputDevicesError):
        list_input_devices(input_tree.dev / "missing", input_tree.sys)
