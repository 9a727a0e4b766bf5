"""A FUSE filesystem that forgets, at a power cut, everything that was not synced.

Test support only (never shipped). It passes every call through to a backing directory, so
reads, locks and shared memory (``mmap`` of SQLite's ``-shm``: no ``direct_io`` here) behave as
on a local disk, and it remembers what a power cut would take away:

* for each file, every write and truncate since the file was last ``fsync``-ed, with the bytes
  it overwrote (an undo log, kept in memory); ``fsync`` or ``fdatasync`` of the file forgets
  them (they are on the platter now);
* for each directory, the names it held when it was last ``fsync``-ed (by inode): a create,
  rename or unlink since then is not on the platter. A file unlinked or renamed over while its
  name is still on the platter is kept aside (the "grave") so a cut can put it back.

A **cut** (command ``CUT clean SEED`` on stdin) undoes every unsynced write, newest first, and
puts every directory back to the names it had when last synced: created-but-unsynced names
vanish, unsynced renames and unlinks are undone. ``CUT torn SEED`` keeps, for each file, a
random prefix of its unsynced writes, and tears the next one (keeps a random whole number of
512-byte sectors of it), as SQLite's own crash tests and LazyFS model a disk that wrote part of
its cache before the power went. Then the filesystem refuses every further write (``EIO``) until
it is unmounted; mounting the backing directory again is the reboot.

Run as ``python -m tests.powerfs.fs BACKING MOUNTPOINT`` (root, ``/dev/fuse``, libfuse 3);
:mod:`tests.powerfs.mount` starts, cuts and stops it for the tests and the harness. Commands on
stdin, one per line, each answered with one line on stdout: ``CUT clean|torn SEED``,
``SYNC`` (everything durable, like ``sync`` at the end of a set-up), ``STATS``.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import stat
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mfusepy as fuse

SECTOR = 512


@dataclass(frozen=True)
class Undo:
    """One unsynced write (or truncate) of a file, and what it overwrote."""

    offset: int
    length: int
    """Bytes written (0 for a truncate)."""
    old: bytes
    """The bytes that were at ``offset`` (for a truncate: the bytes cut away)."""
    old_size: int
    truncate: bool = False


class PowerLossFS(fuse.Operations):  # type: ignore[misc]
    """Passthrough to ``backing`` that can forget what was not synced (see the module doc)."""

    use_ns = True

    def __init__(self, backing: Path) -> None:
        self.root = str(backing.resolve())
        self.grave = self.root + ".powerfs-grave"
        shutil.rmtree(self.grave, ignore_errors=True)
        os.mkdir(self.grave)
        self.mutex = threading.RLock()
        self.frozen = False
        self.fh_ino: dict[int, int] = {}
        self.undo: dict[int, list[Undo]] = {}
        self.durable: dict[int, dict[str, tuple[int, bool]]] = {}
        """Directory inode -> the names it held when last synced: name -> (inode, is a dir)."""
        self.refs: Counter[int] = Counter()
        """How many synced names point at each inode (the root counts once)."""
        self.root_ino = os.lstat(self.root).st_ino
        self.stats: Counter[str] = Counter()
        self.sync_all()

    # -- the model ---------------------------------------------------------------------------

    def _p(self, path: str) -> str:
        return self.root + path

    def _writable(self) -> None:
        if self.frozen:
            raise fuse.FuseOSError(errno.EIO)

    def sync_all(self) -> None:
        """Everything as it is now is on the platter (the state at mount time)."""
        with self.mutex:
            self.undo.clear()
            self.durable.clear()
            self.refs.clear()
            self.refs[self.root_ino] = 1
            for dirpath, _dirs, _files in os.walk(self.root):
                self._commit_dir(dirpath)
            self._bury_unreferenced()

    def _listing(self, dirpath: str) -> dict[str, tuple[int, bool]]:
        out = {}
        for name in os.listdir(dirpath):
            st = os.lstat(os.path.join(dirpath, name))
            out[name] = (st.st_ino, stat.S_ISDIR(st.st_mode))
        return out

    def _commit_dir(self, dirpath: str) -> None:
        ino = os.lstat(dirpath).st_ino
        new = self._listing(dirpath)
        old = self.durable.get(ino, {})
        self.refs.update(i for i, _ in new.values())
        self.refs.subtract(i for i, _ in old.values())
        self.durable[ino] = new
        for child, is_dir in new.values():
            if is_dir:
                self.durable.setdefault(child, {})
        self._bury_unreferenced()

    def _bury_unreferenced(self) -> None:
        """Forget for good the inodes no synced name points at any more (and their names)."""
        while True:
            dead = [i for i, n in self.refs.items() if n <= 0]
            if not dead:
                return
            for ino in dead:
                del self.refs[ino]
                for child, _ in self.durable.pop(ino, {}).values():
                    self.refs[child] -= 1
                grave = os.path.join(self.grave, str(ino))
                if os.path.isdir(grave) and not os.path.islink(grave):
                    shutil.rmtree(grave)
                elif os.path.lexists(grave):
                    os.unlink(grave)
                self.undo.pop(ino, None)

    def _remove(self, p: str) -> None:
        """Unlink or rmdir ``p``, keeping it aside if a synced name still points at it."""
        st = os.lstat(p)
        if self.refs.get(st.st_ino, 0) > 0:
            if stat.S_ISDIR(st.st_mode) and os.listdir(p):
                raise fuse.FuseOSError(errno.ENOTEMPTY)
            os.rename(p, os.path.join(self.grave, str(st.st_ino)))
        else:
            if stat.S_ISDIR(st.st_mode):
                os.rmdir(p)
            else:
                os.unlink(p)
            self.undo.pop(st.st_ino, None)

    def _record(self, fd: int, ino: int, entry: Undo) -> None:
        if os.fstat(fd).st_nlink == 0 and stat.S_ISREG(os.fstat(fd).st_mode):
            return  # unlinked for good: nothing of it survives a cut anyway
        self.undo.setdefault(ino, []).append(entry)

    def _truncate(self, fd: int, ino: int, length: int) -> None:
        size = os.fstat(fd).st_size
        old = os.pread(fd, size - length, length) if length < size else b""
        self._record(fd, ino, Undo(length, 0, old, size, truncate=True))
        os.ftruncate(fd, length)

    def cut(self, mode: str, seed: int) -> dict[str, int]:
        """Lose what was not synced (``mode`` clean or torn); refuse writes from now on."""
        rng = random.Random(seed)
        with self.mutex:
            self.frozen = True
            where = self._where()
            kept = torn = undone = 0
            for ino, entries in sorted(self.undo.items()):
                path = where.get(ino)
                if path is None or not entries or os.path.isdir(path):
                    continue
                keep = rng.randint(0, len(entries)) if mode == "torn" else 0
                fd = os.open(path, os.O_RDWR)
                try:
                    for e in reversed(entries[keep + 1 :]):
                        _undo(fd, e, 0)
                    if keep < len(entries):
                        e = entries[keep]
                        sectors = -(-e.length // SECTOR)
                        part = SECTOR * rng.randrange(sectors) if (
                            mode == "torn" and sectors and not e.truncate) else 0
                        _undo(fd, e, part)
                        torn += part > 0
                    kept += keep
                    undone += len(entries) - keep
                finally:
                    os.close(fd)
            self.undo.clear()
            # Names: rebuild the tree from the synced listings, moving each inode into place.
            old_root = self.root + ".powerfs-old"
            shutil.rmtree(old_root, ignore_errors=True)
            os.rename(self.root, old_root)
            where = {i: p.replace(self.root, old_root, 1) if p.startswith(self.root + "/")
                     or p == self.root else p for i, p in where.items()}
            os.mkdir(self.root)
            shutil.copymode(old_root, self.root)
            placed: set[int] = set()
            self._rebuild(self.root_ino, self.root, where, placed)
            shutil.rmtree(old_root)
            shutil.rmtree(self.grave)
            os.mkdir(self.grave)
            return {"writes_kept": kept, "writes_undone": undone, "writes_torn": torn,
                    "names": len(placed)}

    def _where(self) -> dict[int, str]:
        where = {self.root_ino: self.root}
        for top in (self.root, self.grave):
            for dirpath, dirs, files in os.walk(top):
                for name in dirs + files:
                    p = os.path.join(dirpath, name)
                    where[os.lstat(p).st_ino] = p
        return where

    def _rebuild(self, dir_ino: int, target: str, where: dict[int, str], placed: set[int]) -> None:
        for name, (ino, is_dir) in sorted(self.durable.get(dir_ino, {}).items()):
            src = where.get(ino)
            if src is None:
                raise RuntimeError(f"synced inode {ino} ({name}) is nowhere")
            dst = os.path.join(target, name)
            if is_dir:
                os.mkdir(dst)
                shutil.copymode(src, dst)
                self._rebuild(ino, dst, where, placed)
            elif ino in placed:
                shutil.copy2(src, dst)  # a second synced name of one file: a copy will do
            else:
                os.rename(src, dst)
                where[ino] = dst
            placed.add(ino)

    # -- FUSE operations ---------------------------------------------------------------------

    def init(self, path: str) -> None:
        print("READY", flush=True)

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        st = os.fstat(fh) if fh else os.lstat(self._p(path))
        return {k: getattr(st, k) for k in (
            "st_mode", "st_nlink", "st_uid", "st_gid", "st_size", "st_blocks", "st_rdev")} | {
            "st_atime": st.st_atime_ns, "st_mtime": st.st_mtime_ns, "st_ctime": st.st_ctime_ns}

    def access(self, path: str, amode: int) -> int:
        if not os.access(self._p(path), amode):
            raise fuse.FuseOSError(errno.EACCES)
        return 0

    def readdir(self, path: str, fh: int) -> list[str]:
        return [".", "..", *os.listdir(self._p(path))]

    def readlink(self, path: str) -> str:
        return os.readlink(self._p(path))

    def statfs(self, path: str) -> dict[str, int]:
        sv = os.statvfs(self._p(path))
        return {k: getattr(sv, k) for k in (
            "f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files",
            "f_flag", "f_frsize", "f_namemax")}

    def chmod(self, path: str, mode: int) -> int:
        self._writable()
        os.chmod(self._p(path), mode)
        return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        self._writable()
        os.chown(self._p(path), uid, gid)
        return 0

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        self._writable()
        os.utime(self._p(path), ns=times)
        return 0

    def mkdir(self, path: str, mode: int) -> int:
        with self.mutex:
            self._writable()
            os.mkdir(self._p(path), mode)
        return 0

    def rmdir(self, path: str) -> int:
        with self.mutex:
            self._writable()
            self._remove(self._p(path))
        return 0

    def unlink(self, path: str) -> int:
        with self.mutex:
            self._writable()
            self._remove(self._p(path))
        return 0

    def symlink(self, target: str, source: str) -> int:
        with self.mutex:
            self._writable()
            os.symlink(source, self._p(target))
        return 0

    def link(self, target: str, source: str) -> int:
        raise fuse.FuseOSError(errno.EPERM)  # hard links are not modelled

    def rename(self, old: str, new: str) -> int:
        with self.mutex:
            self._writable()
            src, dst = self._p(old), self._p(new)
            src_dir = stat.S_ISDIR(os.lstat(src).st_mode)
            if os.path.lexists(dst):
                if os.lstat(src).st_ino == os.lstat(dst).st_ino:
                    return 0
                dst_dir = stat.S_ISDIR(os.lstat(dst).st_mode)
                if src_dir and not dst_dir:
                    raise fuse.FuseOSError(errno.ENOTDIR)
                if dst_dir and not src_dir:
                    raise fuse.FuseOSError(errno.EISDIR)
                self._remove(dst)
            os.rename(src, dst)
            self.stats["renames"] += 1
        return 0

    def open(self, path: str, flags: int) -> int:
        with self.mutex:
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC):
                self._writable()
            # O_APPEND is left to the kernel, which sends the offset with every write: the undo
            # log needs the real offset, and Linux pwrite ignores it on an O_APPEND descriptor.
            fd = os.open(self._p(path), flags & ~(os.O_TRUNC | os.O_APPEND | os.O_CREAT))
            ino = os.fstat(fd).st_ino
            self.fh_ino[fd] = ino
            if flags & os.O_TRUNC:
                self._truncate(fd, ino, 0)
            return fd

    def create(self, path: str, mode: int, flags: int = os.O_WRONLY) -> int:
        with self.mutex:
            self._writable()
            p = self._p(path)
            existed = os.path.lexists(p)
            fd = os.open(p, (flags | os.O_CREAT) & ~(os.O_TRUNC | os.O_APPEND), mode)
            ino = os.fstat(fd).st_ino
            self.fh_ino[fd] = ino
            if existed and flags & os.O_TRUNC:
                self._truncate(fd, ino, 0)
            self.stats["creates"] += 1
            return fd

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return os.pread(fh, size, offset)

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        with self.mutex:
            self._writable()
            size = os.fstat(fh).st_size
            old = os.pread(fh, len(data), offset) if offset < size else b""
            self._record(fh, self.fh_ino[fh], Undo(offset, len(data), old, size))
            self.stats["writes"] += 1
            return os.pwrite(fh, data, offset)

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        with self.mutex:
            self._writable()
            if fh is not None and fh in self.fh_ino:
                self._truncate(fh, self.fh_ino[fh], length)
                return 0
            fd = os.open(self._p(path), os.O_RDWR)
            try:
                self._truncate(fd, os.fstat(fd).st_ino, length)
            finally:
                os.close(fd)
        return 0

    def flush(self, path: str, fh: int) -> int:
        return 0

    def release(self, path: str, fh: int) -> int:
        with self.mutex:
            self.fh_ino.pop(fh, None)
            os.close(fh)
        return 0

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        with self.mutex:
            self._writable()
            self.undo.pop(self.fh_ino[fh], None)
            self.stats["fsyncs"] += 1
        return 0

    def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
        with self.mutex:
            self._writable()
            self._commit_dir(self._p(path))
            self.stats["dir_fsyncs"] += 1
        return 0


def _undo(fd: int, e: Undo, keep: int) -> None:
    """Undo ``e`` on ``fd``, except its first ``keep`` bytes (a torn write)."""
    if e.truncate:
        os.ftruncate(fd, e.old_size)
        if e.old:
            os.pwrite(fd, e.old, e.offset)
        return
    if keep < len(e.old):
        os.pwrite(fd, e.old[keep:], e.offset + keep)
    os.ftruncate(fd, e.old_size if keep == 0 else max(e.old_size, e.offset + keep))


def _control(fs: PowerLossFS) -> None:
    for line in sys.stdin:
        cmd, *args = line.split()
        try:
            if cmd == "CUT":
                answer: Any = fs.cut(args[0], int(args[1]))
            elif cmd == "SYNC":
                fs.sync_all()
                answer = {}
            elif cmd == "STATS":
                with fs.mutex:
                    answer = {**fs.stats, "unsynced_files": len(fs.undo),
                              "unsynced_writes": sum(map(len, fs.undo.values())),
                              "unsynced_bytes": sum(len(e.old) + e.length
                                                    for es in fs.undo.values() for e in es)}
            else:
                answer = {"error": f"unknown command {cmd}"}
            print("OK " + json.dumps(answer), flush=True)
        except Exception as exc:  # the harness reads the reason; the mount stays up
            print("ERR " + json.dumps(repr(exc)), flush=True)


def main() -> None:
    backing, mountpoint = Path(sys.argv[1]), sys.argv[2]
    fs = PowerLossFS(backing)
    threading.Thread(target=_control, args=(fs,), daemon=True).start()
    # hard_remove: unlink an open file at once (no .fuse_hidden renames in the model).
    # No direct_io: SQLite's WAL maps its -shm file, which needs the page cache.
    # (libfuse 3.14 prints "Ignoring invalid max threads value" for mfusepy's default: harmless.)
    fuse.FUSE(fs, mountpoint, foreground=True, hard_remove=True, fsname="powerloss")


if __name__ == "__main__":
    main()
