"""What the power-cut harness found: each a cut that once lost something a command had promised."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from putback_tui.central.server import BackgroundServer
from putback_tui.config import Settings, load_settings, resolve_paths
from putback_tui.ledger import Ledger
from putback_tui.station import Station
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


def _entries(db: Path) -> int:
    ledger = Ledger(db, create=False)
    try:
        return len(ledger.entries())
    finally:
        ledger.close()


_ONE_ACTION = """
import sys, time
from pathlib import Path
from putback_tui.config import Settings
from putback_tui.ledger import Ledger
from putback_tui.station import Station
station = Station(Ledger(Path(sys.argv[1]), create=False), Settings())
station.sign_in("OP-0001")
station.open_order("D-1002")
station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01")
print("confirmed", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("opened_after", [False, True], ids=["cut-at-once", "opened-then-cut"])
def test_a_restore_that_said_restored_survives_a_power_cut(
    powerloss: PowerLossMount, opened_after: bool
) -> None:
    """Cut 19 of the first run: the restored copy was renamed into place, its directory not
    synced, so the cut brought back the ledger it replaced. And the copy itself was never
    synced: once the terminal wrote to it (SQLite syncs the directory for a new WAL), a cut
    left a damaged ledger.
    """
    home = powerloss.mountpoint / "term"
    assert putback(home, "init", "--demo").returncode == 0
    backup = powerloss.mountpoint / "b.sqlite3"
    assert putback(home, "backup", str(backup)).returncode == 0
    db = resolve_paths(home=home).db_path
    in_backup = _entries(db)  # the releases made at load
    ledger = Ledger(db, create=False)
    station = Station(ledger, Settings())
    station.sign_in("OP-0001")
    station.open_order("D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")  # an entry the backup lacks
    ledger.close()
    assert _entries(db) == in_backup + 1
    powerloss.sync()
    done = putback(home, "restore", str(backup))
    assert done.returncode == 0, done.stderr
    assert "Restored" in done.stdout
    made = 0
    if opened_after:
        # The terminal starts on the restored ledger and confirms one action (its first commit
        # creates the WAL, and SQLite syncs the directory for it); then the power goes.
        terminal = subprocess.Popen(
            [sys.executable, "-c", _ONE_ACTION, str(db)], stdout=subprocess.PIPE,
            cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")},
        )
        assert terminal.stdout is not None
        assert terminal.stdout.readline() == b"confirmed\n"
        terminal.kill()
        terminal.wait()
        made = 1
    powerloss.cut("torn", seed=2)
    powerloss.start()
    assert _entries(db) == in_backup + made
    ledger = Ledger(db, create=False)
    assert ledger.check() == []
    ledger.close()


def test_a_freshly_set_up_terminal_keeps_its_ledger_through_a_power_cut(
    powerloss: PowerLossMount,
) -> None:
    """`putback init` made the home and data directories and never synced their parents: the
    ledger inside was durable, its directory's name was not, so a cut took the whole ledger,
    with an entry the station had confirmed.
    """
    home = powerloss.mountpoint / "term"
    assert putback(home, "init", "--demo").returncode == 0
    db = resolve_paths(home=home).db_path
    at_load = _entries(db)  # the releases made at load
    terminal = subprocess.Popen(
        [sys.executable, "-c", _ONE_ACTION, str(db)], stdout=subprocess.PIPE,
        cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src")},
    )
    assert terminal.stdout is not None
    assert terminal.stdout.readline() == b"confirmed\n"
    terminal.kill()
    terminal.wait()
    powerloss.cut("clean")
    powerloss.start()
    assert db.exists()
    assert _entries(db) == at_load + 1
    assert load_settings(home / "config.toml").terminal.id == "PACK-01"
