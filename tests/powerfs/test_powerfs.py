"""The power-loss filesystem keeps what was synced and loses the rest at a cut."""

from __future__ import annotations

import mmap
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.powerfs.mount import PowerLossMount


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(path: Path, data: bytes, *, sync: bool) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        if sync:
            os.fsync(f.fileno())


def test_synced_data_survives_a_cut(powerloss: PowerLossMount) -> None:
    mnt = powerloss.mountpoint
    _write(mnt / "kept", b"written and synced", sync=True)
    _fsync_dir(mnt)
    powerloss.cut()
    powerloss.start()
    assert (mnt / "kept").read_bytes() == b"written and synced"


def test_unsynced_data_does_not_survive_a_cut(powerloss: PowerLossMount) -> None:
    mnt = powerloss.mountpoint
    _write(mnt / "file", b"synced", sync=True)
    _fsync_dir(mnt)
    with (mnt / "file").open("ab") as f:
        f.write(b" and then more, never synced")
    with (mnt / "file").open("r+b") as f:
        f.write(b"SYNCED")  # an overwrite, not synced either
    _write(mnt / "new", b"created, synced, but its name never was", sync=True)
    assert (mnt / "file").read_bytes() == b"SYNCED and then more, never synced"
    powerloss.cut()
    powerloss.start()
    assert (mnt / "file").read_bytes() == b"synced"
    assert not (mnt / "new").exists()


def test_a_rename_without_a_directory_sync_is_undone_by_a_cut(
    powerloss: PowerLossMount,
) -> None:
    mnt = powerloss.mountpoint
    _write(mnt / "config.toml", b"old", sync=True)
    _fsync_dir(mnt)
    _write(mnt / "config.toml.tmp", b"new", sync=True)
    os.replace(mnt / "config.toml.tmp", mnt / "config.toml")
    assert (mnt / "config.toml").read_bytes() == b"new"
    powerloss.cut()
    powerloss.start()
    assert (mnt / "config.toml").read_bytes() == b"old"
    assert sorted(os.listdir(mnt)) == ["config.toml"]


def test_a_rename_followed_by_a_directory_sync_survives_a_cut(
    powerloss: PowerLossMount,
) -> None:
    mnt = powerloss.mountpoint
    (mnt / "sub").mkdir()
    _fsync_dir(mnt)
    _write(mnt / "sub" / "a", b"old", sync=True)
    _fsync_dir(mnt / "sub")
    _write(mnt / "sub" / "b", b"new", sync=True)
    os.replace(mnt / "sub" / "b", mnt / "sub" / "a")
    _fsync_dir(mnt / "sub")
    os.unlink(mnt / "sub" / "a")  # not synced: the cut brings it back
    powerloss.cut()
    powerloss.start()
    assert (mnt / "sub" / "a").read_bytes() == b"new"
    assert os.listdir(mnt / "sub") == ["a"]


def test_a_torn_cut_keeps_a_prefix_of_the_writes_and_tears_the_next(
    powerloss: PowerLossMount,
) -> None:
    mnt = powerloss.mountpoint
    _write(mnt / "f", b"", sync=True)
    _fsync_dir(mnt)
    with (mnt / "f").open("r+b", buffering=0) as f:
        for i in range(8):
            f.write(bytes([65 + i]) * 4096)
    results = powerloss.cut("torn", seed=3)
    powerloss.start()
    data = (mnt / "f").read_bytes()
    assert results["writes_kept"] + results["writes_undone"] == 8
    # Whole writes in order, then part of one (whole sectors), then nothing.
    assert len(data) % 512 == 0
    for i in range(len(data) // 4096):
        assert data[i * 4096 : (i + 1) * 4096] == bytes([65 + i]) * 4096
    tail = data[len(data) // 4096 * 4096 :]
    assert tail == bytes([65 + len(data) // 4096]) * len(tail)


_WRITER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA synchronous=FULL")
db.execute("BEGIN")
db.executemany("INSERT INTO t VALUES (?)", [(-i,) for i in range(1, 5000)])
db.execute("PRAGMA cache_spill=1")
print("written", flush=True)
time.sleep(60)
"""


def test_sqlite_wal_maps_its_shared_memory_and_keeps_committed_rows(
    powerloss: PowerLossMount,
) -> None:
    """WAL needs a shared mmap of -shm: no direct_io, so the page cache makes it work."""
    mnt = powerloss.mountpoint
    db = sqlite3.connect(mnt / "t.sqlite3", isolation_level=None)
    assert db.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (x)")
    for i in range(50):
        db.execute("INSERT INTO t VALUES (?)", (i,))
    other = sqlite3.connect(mnt / "t.sqlite3")  # a second connection reads through the -shm
    assert other.execute("SELECT COUNT(*) FROM t").fetchone() == (50,)
    with (mnt / "t.sqlite3-shm").open("r+b") as f, mmap.mmap(f.fileno(), 0) as m:
        assert len(m) >= 32768
    other.close()
    db.close()
    # A writer killed in the middle of a transaction, its pages in the WAL but never committed.
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(mnt / "t.sqlite3")], stdout=subprocess.PIPE
    )
    assert writer.stdout is not None
    assert writer.stdout.readline() == b"written\n"
    writer.kill()
    writer.wait()
    powerloss.cut("torn", seed=5)
    powerloss.start()
    db = sqlite3.connect(mnt / "t.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT COUNT(*), MIN(x) FROM t").fetchone() == (50, 0)
    db.close()
