"""Disk and database faults: a full disk (a small tmpfs, and a file-size limit), a lock held
by another program, a damaged file. Each gives a clear error, loses no confirmed entry and
overwrites no file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from putback_tui import logs
from putback_tui.config import Settings
from putback_tui.dataset import DEMO_DIR, Dataset
from putback_tui.ledger import Ledger, LedgerCorrupt, LedgerError, LedgerLocked
from putback_tui.ledger.load import load_dataset
from putback_tui.station import Station
from tests.unavailable import unavailable

SRC = Path(__file__).resolve().parents[2] / "src"


def demo_station(path: Path) -> tuple[Ledger, Station]:
    ledger = Ledger(path)
    load_dataset(ledger, Dataset(DEMO_DIR), "STORE-01")
    station = Station(ledger, Settings())
    station.sign_in("SV-0001")
    station.open_order("D-1002")
    return ledger, station


def scan_until_it_fails(station: Station, limit: int = 100_000) -> tuple[list[str], Exception]:
    """Put back and undo, again and again, until a call raises; the confirmed entry IDs."""
    confirmed: list[str] = []
    for i in range(limit):
        try:
            if i % 2 == 0:
                entry = station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
            else:
                entry = station.undo_last_put_back("D-1002")
        except Exception as exc:
            return confirmed, exc
        confirmed.append(entry.entry_id)
    raise AssertionError(f"{limit} scans and the disk is still not full")


@contextlib.contextmanager
def small_filesystem(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        unavailable("tmpfs", "mounting a small tmpfs needs root and mount(8); the RLIMIT_FSIZE "
                    "test covers a full disk here")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        unavailable("tmpfs", f"mounting a tmpfs is not allowed here ({done.stderr.strip()}); "
                    "the RLIMIT_FSIZE test covers a full disk")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path) -> Path:
    """Fill the file system holding ``directory`` to the last byte."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for chunk in (b"\0" * 4096, b"\0"):
            with contextlib.suppress(OSError):
                while os.write(fd, chunk):
                    pass
    finally:
        os.close(fd)
    return filler


def test_disk_full_gives_a_clear_error_and_loses_no_confirmed_entry(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "small", "2m") as small:
        path = small / "putback.sqlite3"
        ledger, station = demo_station(path)
        filler = fill(small)
        confirmed, error = scan_until_it_fails(station)
        assert isinstance(error, LedgerError), repr(error)
        assert "full" in str(error)
        assert "nothing was saved" in str(error)
        # Every confirmed entry is there, in this connection and in a fresh one.
        assert [e.entry_id for e in ledger.entries()][-len(confirmed):] == confirmed
        ledger.close()
        filler.unlink()
        again = Ledger(path)
        assert [e.entry_id for e in again.entries()][-len(confirmed):] == confirmed
        assert again.check() == []
        assert again.rebuild_stock() == _projections(again)
        # With space again, the terminal carries on.
        st = Station(again, Settings())
        st.sign_in("SV-0001")
        before = len(again.entries())
        with contextlib.suppress(Exception):
            st.undo_last_put_back("D-1002")
        st.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01")
        assert len(again.entries()) > before
        again.close()


def test_disk_full_logs_the_confirmed_entries_and_nothing_of_the_failed_one(
    tmp_path: Path,
) -> None:
    # The log on another file system, as the terminal's (logs.configure, as the app does): a
    # put-back whose commit failed on the full disk was never made, so it has no log line.
    log_file = logs.configure(tmp_path / "logs")
    try:
        with small_filesystem(tmp_path / "small", "2m") as small:
            ledger, station = demo_station(small / "putback.sqlite3")
            station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
            station.undo_last_put_back("D-1002")
            entries_before = [e.entry_id for e in ledger.entries()]
            fill(small)
            confirmed, error = scan_until_it_fails(station)
            assert isinstance(error, LedgerError), repr(error)
            ledger.close()
    finally:
        logs.close()
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    logged = [r["entry_id"] for r in records if "entry_id" in r]
    assert logged == entries_before + confirmed
    assert [r["msg"] for r in records if "entry_id" in r][-2:] == ["entry put_back", "entry undo"]


def test_backup_onto_a_full_disk_fails_clearly_and_leaves_nothing_behind(tmp_path: Path) -> None:
    ledger, station = demo_station(tmp_path / "putback.sqlite3")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    with small_filesystem(tmp_path / "small", "64k") as small:
        dest = small / "backup.sqlite3"
        with pytest.raises(LedgerError, match="full"):
            ledger.backup(dest)
        assert not dest.exists()
        assert not (small / "backup.sqlite3.partial").exists()
        existing = small / "old.sqlite3"
        existing.write_bytes(b"an older backup")
        with pytest.raises(LedgerError, match="exists already"):
            ledger.backup(existing)
        assert existing.read_bytes() == b"an older backup"
    assert len(ledger.entries()) == 1
    ledger.close()


FSIZE_SCRIPT = textwrap.dedent(
    """
    import json, resource, signal, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[3])
    from tests.ledger.test_faults import demo_station, scan_until_it_fails
    path = Path(sys.argv[1])
    ledger, station = demo_station(path)
    # Past the limit a write fails with EFBIG (SIGXFSZ ignored) instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    wal = path.with_name(path.name + "-wal")
    limit = max(path.stat().st_size, wal.stat().st_size) + int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    confirmed, error = scan_until_it_fails(station)
    print(json.dumps({"confirmed": confirmed, "error": type(error).__name__,
                      "message": str(error)}))
    """
)


def test_file_size_limit_gives_a_clear_error_and_loses_no_confirmed_entry(tmp_path: Path) -> None:
    path = tmp_path / "putback.sqlite3"
    # The WAL may grow this much beyond the largest file; then every write fails as on a full disk.
    limit = 2_000_000
    tests_root = str(Path(__file__).resolve().parents[2])
    done = subprocess.run(
        [sys.executable, "-c", FSIZE_SCRIPT, str(path), str(limit), tests_root],
        env={**os.environ, "PYTHONPATH": str(SRC)}, capture_output=True, text=True, check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["error"] in ("LedgerError", "LedgerFull"), result
    assert "full" in result["message"]
    assert "nothing was saved" in result["message"]
    assert len(result["confirmed"]) > 20
    ledger = Ledger(path)
    ids = [e.entry_id for e in ledger.entries()]
    assert ids[-len(result["confirmed"]):] == result["confirmed"]
    assert ledger.check() == []
    assert ledger.rebuild_stock() == _projections(ledger)
    ledger.close()


def test_a_lock_held_by_another_program_loses_no_confirmed_entry(tmp_path: Path) -> None:
    path = tmp_path / "putback.sqlite3"
    ledger, station = demo_station(path)
    ledger.close()
    ledger = Ledger(path, busy_timeout_s=0.05)
    station = Station(ledger, Settings())
    station.sign_in("SV-0001")
    confirmed = [station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01").entry_id]
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        for _ in range(3):
            with pytest.raises(LedgerLocked, match="locked by another program; nothing was saved"):
                station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    confirmed.append(station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01").entry_id)
    assert [e.entry_id for e in ledger.entries()][-2:] == confirmed
    assert ledger.rebuild_stock() == _projections(ledger)
    ledger.close()


def _corrupt_middle(path: Path) -> bytes:
    data = bytearray(path.read_bytes())
    page = 4096
    # Scribble over every page after the first (the header stays valid): b-tree pages, indexes.
    for start in range(page, len(data), page):
        data[start : start + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    return bytes(data)


def test_a_corrupted_ledger_gives_a_clear_error_and_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "putback.sqlite3"
    ledger, station = demo_station(path)
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    ledger.close()  # checkpoints the WAL into the file
    before = _corrupt_middle(path)

    def use_it() -> None:
        damaged = Ledger(path)
        try:
            st = Station(damaged, Settings())
            st.sign_in("SV-0001")
            st.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01")
            damaged.entries()
        finally:
            damaged.close()

    with pytest.raises(LedgerCorrupt, match=r"damaged.*left untouched"):
        use_it()
    assert path.read_bytes() == before


def test_a_ledger_damaged_while_open_gives_a_clear_error_on_the_next_action(
    tmp_path: Path,
) -> None:
    path = tmp_path / "putback.sqlite3"
    ledger, station = demo_station(path)
    ledger.close()
    ledger = Ledger(path)
    station = Station(ledger, Settings())
    station.sign_in("SV-0001")
    ledger.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _corrupt_middle(path)
    with pytest.raises(LedgerCorrupt, match="damaged"):
        station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01")
    ledger.close()


def _projections(ledger: Ledger) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    qoh, atp = ledger.stock()
    return {(s, loc): n for s, loc, n in qoh}, dict(atp)
