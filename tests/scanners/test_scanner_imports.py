"""Only scanners/device.py imports evdev; nothing in scanners imports Textual."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def test_decoding_replay_and_source_work_without_evdev_or_textual() -> None:
    code = (
        "import sys\n"
        "import putback_tui.scanners.cli, putback_tui.scanners.source\n"
        "import putback_tui.scanners.decoder, putback_tui.scanners.recordings\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'evdev', 'textual', 'rich'})\n"
        "print(bad)\n"
    )
    path = os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert result.stdout.strip() == "[]"
