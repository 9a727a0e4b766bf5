"""Backup while the terminal writes, restore beside (never over) what is there, config views."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from click.testing import CliRunner

from putback_tui.cli import cli
from putback_tui.config import reference, resolve_paths
from putback_tui.ledger import Ledger
from putback_tui.station import Station


def test_backup_while_writing_is_consistent(
    station: Station, demo_ledger: Ledger, tmp_path: Path
) -> None:
    """A writer commits put-backs and undos while backups are taken: every copy is sound and
    its stock equals its own rebuild from its entries.
    """
    station.open_order("D-1002")
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01")
            station.undo_last_put_back("D-1002")

    writer = threading.Thread(target=write)
    writer.start()
    try:
        copies = [tmp_path / f"copy{i}.sqlite3" for i in range(5)]
        counts = [demo_ledger.backup(c) for c in copies]
    finally:
        stop.set()
        writer.join()
    for copy, count in zip(copies, counts, strict=True):
        ledger = Ledger(copy, create=False)
        assert ledger.check() == []
        assert len(ledger.entries()) == count
        qoh, atp = ledger.stock()
        rebuilt_qoh, rebuilt_atp = ledger.rebuild_stock()
        assert {(s, loc): n for s, loc, n in qoh} == rebuilt_qoh
        assert dict(atp) == rebuilt_atp
        ledger.close()
    assert counts == sorted(counts)


def test_backup_never_overwrites(isolated_home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["init", "--demo"])
    dest = tmp_path / "b.sqlite3"
    dest.write_text("precious")
    result = runner.invoke(cli, ["backup", str(dest)])
    assert result.exit_code == 1
    assert "exists already" in result.output
    assert dest.read_text() == "precious"


def test_restore_keeps_the_replaced_database_beside_it(isolated_home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(cli, ["init", "--demo"])
    backup = tmp_path / "b.sqlite3"
    assert runner.invoke(cli, ["backup", str(backup)]).exit_code == 0
    result = runner.invoke(cli, ["restore", str(backup)])
    assert result.exit_code == 0, result.output
    assert "Kept the previous database as" in result.output
    db = resolve_paths().db_path
    assert len(list(db.parent.glob("putback.sqlite3.replaced-*"))) == 1
    assert Ledger(db, create=False).check() == []


def test_restore_refuses_a_file_that_is_not_a_ledger(isolated_home: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "x.sqlite3"
    conn = sqlite3.connect(bogus)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    result = CliRunner().invoke(cli, ["restore", str(bogus)])
    assert result.exit_code == 1
    assert "not a putback ledger" in result.output


def test_config_show_redacts_the_token(isolated_home: Path) -> None:
    isolated_home.mkdir(parents=True)
    (isolated_home / "config.toml").write_text(
        '[sync]\nurl = "http://127.0.0.1:1"\ntoken = "abc123secret"\n'
    )
    result = CliRunner().invoke(cli, ["config", "show"])
    assert result.exit_code == 0
    assert "abc123secret" not in result.output
    assert 'token = "********"' in result.output


def test_configuration_reference_in_docs_is_generated_from_the_model() -> None:
    """docs/configuration.md cannot drift: regenerate it with `putback config reference`."""
    doc = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
    assert doc.read_text() == reference()


TERMINAL = """
import os, signal, sys
from pathlib import Path
from putback_tui.config import Settings
from putback_tui.ledger import Ledger
from putback_tui.station import Station

path = Path(sys.argv[1])
ledger = Ledger(path, create=False)            # the station's connection
station = Station(ledger, Settings())
station.sign_in("OP-0001")
worker_ledger = Ledger(path, create=False)     # the sync worker opens its own, as it starts
print("ready", flush=True)
sys.stdin.readline()                           # meanwhile: `putback backup` in another process
view = station.open_order("D-1002")
entry = station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
print("confirmed", entry.entry_id, flush=True)  # the screen would say so now
os.kill(os.getpid(), signal.SIGKILL)           # then the power goes (or the process is killed)
"""


def test_a_put_back_confirmed_after_a_backup_by_another_process_survives_a_kill(
    demo_ledger: Ledger, tmp_path: Path
) -> None:
    """A terminal runs with a second connection (its sync worker's); `putback backup` runs in
    another process and ends; a put-back is then confirmed and the terminal killed. The
    put-back is in the ledger afterwards. (Before the fix, opening the worker's connection read
    the file's header with an ordinary open and close, which dropped the station's SQLite locks
    on it: the backup's connection, closing, then took itself for the last one and deleted the
    write-ahead log the terminal went on writing, so the confirmed put-back was lost.)
    """
    path = demo_ledger.path
    demo_ledger.close()
    terminal = subprocess.Popen(
        [sys.executable, "-c", TERMINAL, str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert terminal.stdout is not None
    assert terminal.stdin is not None
    try:
        assert terminal.stdout.readline().strip() == "ready"
        backup = subprocess.run(
            [sys.executable, "-c",
             "import sys; from pathlib import Path; from putback_tui.ledger import Ledger; "
             "led = Ledger(Path(sys.argv[1]), create=False); led.backup(Path(sys.argv[2])); "
             "led.close()", str(path), str(tmp_path / "b.sqlite3")],
            capture_output=True, text=True,
        )
        assert backup.returncode == 0, backup.stderr
        terminal.stdin.write("go\n")
        terminal.stdin.flush()
        said = terminal.stdout.readline().split()
        assert said[:1] == ["confirmed"], said
    finally:
        if terminal.poll() is None:
            terminal.stdin.close()
        terminal.wait(30)
    assert terminal.returncode == -signal.SIGKILL
    after = Ledger(path, create=False)
    try:
        assert said[1] in {e.entry_id for e in after.entries()}
    finally:
        after.close()
