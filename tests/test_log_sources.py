"""What the terminal's parts warn about reaches the log file that `putback logs` reads."""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import putback_tui
from putback_tui import logs
from putback_tui.central import app as central_app
from putback_tui.scanners import source
from putback_tui.sync import claims, worker


@pytest.mark.parametrize(
    "module",
    [worker, claims, source, central_app],
    ids=["sync worker", "claims", "scanners", "central store"],
)
def test_a_warning_of_each_part_is_in_the_log_file(tmp_path: Path, module: ModuleType) -> None:
    # The sync worker (entries taken back, a refused changes page), the claims keeper, the
    # scanners ("events were lost (SYN_DROPPED); scan dropped") and the embedded central store
    # warned into loggers the log file never heard: `putback logs` showed none of it.
    logs.configure(tmp_path)
    try:
        module.log.warning("scanner %s: events were lost (SYN_DROPPED); scan dropped", "HID-1")
    finally:
        logs.close()
    [line] = (tmp_path / logs.LOG_NAME).read_text().splitlines()
    assert json.loads(line)["msg"] == "scanner HID-1: events were lost (SYN_DROPPED); scan dropped"


def test_every_logger_of_the_package_is_under_the_log_files_logger() -> None:
    for info in pkgutil.walk_packages(putback_tui.__path__, "putback_tui."):
        if info.name.endswith(".__main__"):  # runs the command line when imported
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:  # an extra this machine lacks (evdev off Linux, say)
            continue
    names = [n for n in logging.Logger.manager.loggerDict if n.startswith("putback_tui")]
    assert names == [], f"loggers whose lines never reach the log file: {names}"
