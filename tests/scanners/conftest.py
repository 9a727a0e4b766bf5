"""Fixtures for the scanner tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scanners.scanner_helpers import InputTree


@pytest.fixture
def input_tree(tmp_path: Path) -> InputTree:
    tree = InputTree(tmp_path / "dev" / "input", tmp_path / "sys" / "class" / "input")
    tree.dev.mkdir(parents=True)
    tree.sys.mkdir(parents=True)
    return tree
