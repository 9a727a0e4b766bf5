"""Files putback owns: never written through a planted link, never over another file, never lost.

Each test plays the other user (or the careless administrator) of issue #14 against the real
command line, on real files; we run as root, so "another user" is uid 65534 (nobody).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from putback_tui import files
from putback_tui.central.server import BackgroundServer
from putback_tui.cli import cli
from putback_tui.config import Settings, resolve_paths
from putback_tui.ledger import Ledger
from putback_tui.station import Station
from tests.central_support import Central

NOBODY = 65534


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def others_file(tmp_path: Path, name: str = "victim", text: str = "theirs\n") -> Path:
    """A 0666 file in a directory of another user's."""
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    victim = theirs / name
    victim.write_text(text)
    victim.chmod(0o666)
    os.chown(victim, NOBODY, NOBODY)
    os.chown(theirs, NOBODY, NOBODY)
    return victim


# -- 1. the configuration file -------------------------------------------------------------------


def test_connect_refuses_a_home_others_can_write_and_never_writes_through_a_planted_link(
    server: BackgroundServer, central: Central, tmp_path: Path
) -> None:
    home = tmp_path / "term"
    assert run("--home", str(home), "init", "--demo").exit_code == 0
    victim = others_file(tmp_path)
    planted = home / "config.toml.tmp"  # the name the old code wrote through
    planted.symlink_to(victim)
    token = central.tokens["PACK-01"]

    home.chmod(0o777)
    refused = run("--home", str(home), "connect", server.url, "--token", token)
    assert refused.exit_code == 1
    assert "can be written by other users" in refused.output
    assert f"chmod go-w {home}" in refused.output
    assert "pbk_" not in victim.read_text()

    home.chmod(0o700)
    done = run("--home", str(home), "connect", server.url, "--token", token)
    assert done.exit_code == 0, done.output
    config = home / "config.toml"
    assert not config.is_symlink()
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert token in config.read_text()
    assert victim.read_text() == "theirs\n"
    assert planted.is_symlink()  # not ours: left alone


def test_a_config_that_links_to_another_users_file_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "term"
    assert run("--home", str(home), "init", "--demo").exit_code == 0
    victim = others_file(tmp_path, "config.toml", '[terminal]\nfacility = "STORE-01"\n')
    (home / "config.toml").unlink()
    (home / "config.toml").symlink_to(victim)
    result = run("--home", str(home), "stock")
    assert result.exit_code == 1
    assert f"is a link to {victim}" in result.output
    assert "belongs to nobody" in result.output
    doctor = run("--home", str(home), "doctor")
    assert doctor.exit_code == 1
    assert any(
        line.startswith("FAIL  files") or line.startswith("FAIL files")
        for line in doctor.output.splitlines()
    ), doctor.output


def test_doctor_names_a_data_directory_others_can_write(tmp_path: Path) -> None:
    home = tmp_path / "term"
    assert run("--home", str(home), "init", "--demo").exit_code == 0
    (home / "data").chmod(0o777)
    doctor = run("--home", str(home), "doctor", "--json")
    assert doctor.exit_code == 1
    assert '"name": "files"' in doctor.output
    assert f"chmod go-w {home / 'data'}" in doctor.output


def test_exclusive_creation_never_follows_or_reuses_a_name(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("keep")
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(FileExistsError):
        files.create_exclusive(link)
    new = tmp_path / "new"
    new.write_text("finished")
    with pytest.raises(FileExistsError):
        files.place_new(new, target)
    assert target.read_text() == "keep"
    files.write_atomic(link, b"mine")  # replaces the link itself, not what it points to
    assert not link.is_symlink()
    assert link.read_bytes() == b"mine"
    assert target.read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "new", "target"]


# -- 2. restore ----------------------------------------------------------------------------------


LOAD = 2
"""Entries `init --demo` makes: the releases of D-1001 and D-1003, known exceptions."""


@pytest.fixture
def terminal(isolated_home: Path, tmp_path: Path) -> Path:
    """A demo terminal and a backup of it, taken before one put-back.

    The backup holds the releases made at load (D-1001, D-1003): ``LOAD`` entries.
    """
    assert run("init", "--demo").exit_code == 0
    backup = tmp_path / "empty.sqlite3"
    assert run("backup", str(backup)).exit_code == 0
    ledger = Ledger(resolve_paths().db_path, create=False)
    station = Station(ledger, Settings())
    station.sign_in("OP-0001")
    station.open_order("D-1002")
    station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01")
    ledger.close()
    return backup


def entry_counts(directory: Path, pattern: str) -> list[int]:
    counts = []
    for path in sorted(directory.glob(pattern)):
        if path.name.endswith(("-wal", "-shm")):
            continue
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        counts.append(conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0])
        conn.close()
    return counts


def test_two_restores_in_a_row_keep_both_replaced_ledgers(terminal: Path) -> None:
    db = resolve_paths().db_path
    first = run("restore", str(terminal))
    second = run("restore", str(terminal))
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    # The ledger with the put-back and the first restored one are both still there.
    assert sorted(entry_counts(db.parent, "putback.sqlite3.replaced-*")) == [LOAD, LOAD + 1]


def test_restoring_the_live_database_onto_itself_is_refused(terminal: Path) -> None:
    db = resolve_paths().db_path
    result = run("restore", str(db))
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert "is the live database itself" in result.output
    assert entry_counts(db.parent, "putback.sqlite3") == [LOAD + 1]
    assert not list(db.parent.glob("*.replaced-*"))


def test_restore_is_refused_while_another_process_has_the_ledger_open(terminal: Path) -> None:
    db = resolve_paths().db_path
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from putback_tui.ledger import Ledger; "
            "ledger = Ledger(Path(sys.argv[1]), create=False); print('open', flush=True); "
            "sys.stdin.read()",
            str(db),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "open"
        result = run("restore", str(terminal))
    finally:
        holder.communicate("")
    assert result.exit_code == 1
    assert f"(pid {holder.pid})" in result.output
    assert "Quit the app" in result.output
    assert entry_counts(db.parent, "putback.sqlite3") == [LOAD + 1]
    assert run("restore", str(terminal)).exit_code == 0  # once it has let go


def test_restore_never_changes_the_backup_file(terminal: Path) -> None:
    before = digest(terminal)
    assert run("restore", str(terminal)).exit_code == 0
    assert digest(terminal) == before
    assert not Path(f"{terminal}-wal").exists()


def test_restoring_a_file_that_is_not_a_database_blames_the_file(
    isolated_home: Path, tmp_path: Path
) -> None:
    assert run("init", "--demo").exit_code == 0
    notes = tmp_path / "notes.txt"
    notes.write_text("not a backup")
    result = run("restore", str(notes))
    assert result.exit_code == 1
    assert f"{notes} is not a putback backup" in result.output
    assert "restore it from a backup" not in result.output


# -- 3. backup's temporary -----------------------------------------------------------------------


def test_backup_never_writes_through_a_planted_partial_link(
    isolated_home: Path, tmp_path: Path
) -> None:
    assert run("init", "--demo").exit_code == 0
    other = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE precious (x)")
    conn.execute("INSERT INTO precious VALUES (42)")
    conn.commit()
    conn.close()
    before = digest(other)
    dest = tmp_path / "b1.sqlite3"
    Path(f"{dest}.partial").symlink_to(other)
    result = run("backup", str(dest))
    assert result.exit_code == 0, result.output
    assert digest(other) == before
    assert Path(f"{dest}.partial").is_symlink()
    assert entry_counts(tmp_path, "b1.sqlite3") == [LOAD]


def test_backup_leaves_an_unrelated_partial_file_alone(isolated_home: Path, tmp_path: Path) -> None:
    assert run("init", "--demo").exit_code == 0
    dest = tmp_path / "b1.sqlite3"
    unrelated = Path(f"{dest}.partial")
    unrelated.write_text("somebody's download")
    assert run("backup", str(dest)).exit_code == 0
    assert unrelated.read_text() == "somebody's download"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".putback-")] == []


def test_backup_into_a_missing_directory_says_so(isolated_home: Path, tmp_path: Path) -> None:
    assert run("init", "--demo").exit_code == 0
    dest = tmp_path / "nodir" / "bk.sqlite3"
    result = run("backup", str(dest))
    assert result.exit_code == 1
    assert f"the directory {dest.parent} does not exist" in result.output
    assert "unable to open database file" not in result.output
