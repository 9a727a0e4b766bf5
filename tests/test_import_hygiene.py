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


def test_central_store_never_loads_the_terminal() -> None:
    # The central store reads data sets (dataset.py) but never the terminal's ledger or screens.
    code = (
        "import sys\n"
        "import putback_tui.central.app, putback_tui.central.cli, putback_tui.central.imports\n"
        "terminal = ('putback_tui.ledger', 'putback_tui.station', 'putback_tui.tui')\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith(terminal))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
