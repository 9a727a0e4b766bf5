"""What the power-cut harness found: each a cut that once lost something a command had promised."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from putback_tui.central.server import BackgroundServer
from putback_tui.config import load_settings
from tests.central_support import Central
from tests.powerfs.mount import ROOT, PowerLossMount

# One engine is enough: the promise is the terminal's files, not the central store's.
sqlite_only = pytest.mark.parametrize("store", ["sqlite"], indirect=True)


def putback(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``putback --home HOME ARGS`` in its own process (the mount must outlive no open file)."""
    return subprocess.run(
        [sys.executable, "-c", "from putback_tui.cli import main; main()", "--home", str(home),
         *args],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")},
    )


@sqlite_only
def test_a_connect_that_said_connected_survives_a_power_cut(
    powerloss: PowerLossMount, server: BackgroundServer, central: Central
) -> None:
    """Cut 1 of the first run: the new configuration was renamed into place, its directory not
    synced, so the cut brought back the one without the token.
    """
    home = powerloss.mountpoint / "term"
    assert putback(home, "init", "--demo").returncode == 0
    powerloss.sync()
    done = putback(home, "connect", server.url, "--token", central.tokens["PACK-01"])
    assert done.returncode == 0, done.stderr
    assert "Connected" in done.stdout
    powerloss.cut("clean")
    powerloss.start()
    settings = load_settings(home / "config.toml")
    assert settings.sync.url == server.url
    assert settings.sync.token is not None
    assert settings.sync.token.get_secret_value() == central.tokens["PACK-01"]


def test_a_backup_that_said_backed_up_survives_a_power_cut(powerloss: PowerLossMount) -> None:
    """Cut 3 of the first run: the finished copy was renamed into place, its directory not
    synced, so the cut took the backup away.
    """
    home = powerloss.mountpoint / "term"
    assert putback(home, "init", "--demo").returncode == 0
    powerloss.sync()
    dest = powerloss.mountpoint / "b.sqlite3"
    done = putback(home, "backup", str(dest))
    assert done.returncode == 0, done.stderr
    assert "Backed up" in done.stdout
    powerloss.cut("torn", seed=1)
    powerloss.start()
    checked = putback(home, "restore", str(dest))  # restore checks the copy before using it
    assert checked.returncode == 0, checked.stderr
