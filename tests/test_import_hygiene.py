"""The core never imports Textual: checked in a fresh interpreter, as the contracts promise."""

from __future__ import annotations

import subprocess
import sys


def test_core_modules_do_not_import_textual_or_rich() -> None:
    code = (
        "import sys\n"
        "import putback_tui.station, putback_tui.cli, putback_tui.dataset, putback_tui.barcodes\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
