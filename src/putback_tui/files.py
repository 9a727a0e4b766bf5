"""Files putback owns: written whole or not at all, never through a planted link, never clobbered.

Every file the terminal writes for itself (the configuration, a backup, a restored ledger) goes
through this module, so one set of rules holds everywhere:

- **A fresh temporary, exclusively.** The new content goes into a temporary file created in the
  destination's own directory with ``O_CREAT | O_EXCL | O_NOFOLLOW`` and mode 0600: if anything
  (a file, a symbolic link another user planted) already has that name, the open fails instead of
  writing through it. Temporaries have random names; we only ever delete a temporary we created.
- **Durable before visible.** The temporary is written, ``fsync``-ed, renamed into place, and then
  the *directory* is ``fsync``-ed, so that after a power cut the name points either at the whole
  old file or at the whole new one, and a completed rename is not lost. :func:`fsync_directory`
  is called after every rename and every link this module makes.
- **Never over what is there, when asked.** :func:`place_new` moves a finished file to a name that
  must not exist yet (a hard link, which the kernel refuses atomically if the name is taken, then
  the temporary's name is removed); :func:`write_atomic` replaces on purpose (the config file).
- **For writers that open by name** (SQLite's backup, for one), :func:`private_directory` makes a
  fresh 0700 directory beside the destination: no other user can create, rename or link anything
  inside it, so the names SQLite opens there are ours.
- **Refuse places other users control.** :func:`directory_problem` and :func:`link_problem` say,
  with the fix in words, when a directory putback keeps files in can be written by other users, or
  belongs to another user, or when a file is a symbolic link into such a place. The CLI refuses to
  run on such paths and ``putback doctor`` reports them (:func:`path_problems` is the one list).
"""

from __future__ import annotations

import errno
import os
import pwd
import secrets
import shutil
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def fsync_directory(directory: Path) -> None:
    """Make the names in ``directory`` (a rename, a new link, a new entry) durable.

    A rename is only a change to the directory: until the directory is synced, a power cut can
    bring back the old name (found by ``scripts/powercut``). A file system that cannot sync a
    directory (``EINVAL``, as some network ones answer) is taken at its word, as SQLite does.

    Raises:
        OSError: the directory cannot be opened or synced.
    """
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def make_dirs(directory: Path, mode: int = 0o777) -> None:
    """Create ``directory`` and its missing parents, each one's name synced in its parent.

    ``Path.mkdir(parents=True)`` alone leaves a new directory's name in its parent's cache: a
    power cut then takes the directory, and every file in it however well synced (found by
    ``scripts/powercut``: a freshly set-up terminal lost its ledger).

    Raises:
        OSError: a directory cannot be created or synced.
    """
    missing = []
    d = directory
    while not d.exists():
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode)
        except FileExistsError:
            continue  # made meanwhile by someone else, who syncs it
        fsync_directory(d.parent)


def _temporary_name(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.{secrets.token_hex(6)}.tmp")


def create_exclusive(path: Path, mode: int = 0o600) -> int:
    """Create ``path`` as a new file and return a descriptor open for writing.

    Never follows a symbolic link and never opens a file that exists already (``O_EXCL``).

    Raises:
        FileExistsError: anything, a link included, has that name already.
        OSError: the directory is missing or not writable.
    """
    return os.open(path, _CREATE_FLAGS, mode)


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data``: readers see the whole old file or the whole new one.

    The data goes into a fresh temporary beside ``path`` (see the module docstring), which is
    synced, renamed over ``path`` and followed by a sync of the directory. If ``path`` is a
    symbolic link, the link itself is replaced, never the file it points to.

    Raises:
        OSError: the directory is missing or not writable, or the disk is full; ``path`` is then
            unchanged and no temporary is left behind.
    """
    tmp = _temporary_name(path)
    fd = create_exclusive(tmp, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            tmp.unlink()
        raise
    fsync_directory(path.parent)


def place_new(source: Path, dest: Path) -> None:
    """Give the finished file ``source`` the name ``dest``, which must not exist yet.

    ``source`` must be on the same file system (in practice: in the same directory, or in a
    :func:`private_directory` inside it). The file is linked under ``dest`` (the kernel refuses
    atomically if the name is taken), ``source``'s name is removed, and both directories synced.

    Raises:
        FileExistsError: ``dest`` exists (nothing was changed).
        OSError: any other failure; ``source`` is left where it was.
    """
    try:
        os.link(source, dest, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:
        # A file system without hard links (vfat on a USB stick): check, then rename. Only a
        # process racing us for the same new name could slip in between.
        if os.path.lexists(dest):
            raise FileExistsError(17, "File exists", str(dest)) from None
        os.rename(source, dest)
    else:
        source.unlink()
    fsync_directory(dest.parent)
    if source.parent != dest.parent:
        fsync_directory(source.parent)


@contextmanager
def private_directory(parent: Path) -> Iterator[Path]:
    """A fresh directory in ``parent`` that only this user can enter (mode 0700).

    For writers that open files by name (SQLite): nobody else can plant a link inside it. It is
    removed on exit with whatever is still in it, which is only ever what we put there.

    Raises:
        OSError: ``parent`` is missing or not writable.
    """
    path = parent / f".putback-{secrets.token_hex(6)}.tmp"
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def copy_into(source: Path, dest: Path) -> None:
    """Copy ``source`` to the new file ``dest`` (created exclusively, 0600) and sync it.

    Raises:
        FileExistsError: ``dest`` exists. OSError: reading or writing failed.
    """
    fd = create_exclusive(dest)
    with os.fdopen(fd, "wb") as out, source.open("rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())


def open_by(
    paths: Iterable[Path], proc_dir: Path = Path("/proc"), *, own_pid: int | None = None
) -> list[tuple[int, str]]:
    """Processes (that this user may see) with any of ``paths`` open: (pid, command line).

    Read from ``/proc/PID/fd``; this process (``own_pid``, default ours) is left out.
    """
    targets = {os.path.realpath(p) for p in paths}
    me = own_pid if own_pid is not None else os.getpid()
    found = []
    try:
        pids = [p for p in proc_dir.iterdir() if p.name.isdigit()]
    except OSError:
        return []
    for pid_dir in pids:
        pid = int(pid_dir.name)
        if pid == me:
            continue
        try:
            fds = list((pid_dir / "fd").iterdir())
        except OSError:
            continue  # another user's process, or gone
        if not any(_link_target(fd) in targets for fd in fds):
            continue
        try:
            raw = (pid_dir / "cmdline").read_bytes()
            command = raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            command = ""
        found.append((pid, command or f"pid {pid}"))
    return found


def _link_target(fd: Path) -> str | None:
    try:
        return os.readlink(fd)  # /proc's fd links hold the absolute, resolved path
    except OSError:
        return None


# -- who controls a path ------------------------------------------------------------------------


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _trusted(uid: int) -> bool:
    return uid in (os.geteuid(), 0)


def directory_problem(directory: Path) -> str | None:
    """Why another user could swap files in ``directory``, with the fix; None if it is safe.

    Unsafe: writable by group or others (sticky or not: they could create the file before us),
    or owned by a user other than us and root. A directory that does not exist is not a problem
    (it will be created, owner-only).
    """
    try:
        st = directory.stat()
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return None
    me = _user(os.geteuid())
    if not _trusted(st.st_uid):
        return (
            f"{directory} belongs to {_user(st.st_uid)}, who could replace the files putback "
            f"keeps there. Fix: `chown {me} {directory}`, or use a directory of your own "
            "(--home DIR)."
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (
            f"{directory} can be written by other users (mode {stat.filemode(st.st_mode)}), "
            f"who could plant files or links there. Fix: `chmod go-w {directory}`."
        )
    return None


def link_problem(path: Path) -> str | None:
    """Why ``path``, a symbolic link, leads somewhere another user controls; None if it is safe.

    A path that is not a link is no problem here (its directory is checked on its own).
    """
    if not path.is_symlink():
        return None
    target = path.resolve()
    with suppress(OSError):
        owner = target.lstat().st_uid
        if not _trusted(owner):
            return (
                f"{path} is a link to {target}, which belongs to {_user(owner)}. Fix: replace "
                f"the link with a file of your own (`rm {path}`, then copy the file there)."
            )
    for directory in (target.parent, *target.parent.parents):
        problem = directory_problem(directory)
        if problem is not None and not _sticky_root_dir(directory):
            return f"{path} is a link to {target}; {problem}"
    return None


def _sticky_root_dir(directory: Path) -> bool:
    # /tmp-like ancestors (root's, sticky) are fine: others cannot rename what is in them.
    try:
        st = directory.stat()
    except OSError:
        return False
    return st.st_uid == 0 and bool(st.st_mode & stat.S_ISVTX)


def path_problems(directories: Iterable[Path], files: Iterable[Path]) -> list[str]:
    """Every problem with the directories putback keeps files in and the files it opens."""
    problems = [p for d in dict.fromkeys(directories) if (p := directory_problem(d))]
    problems += [p for f in dict.fromkeys(files) if (p := link_problem(f))]
    return problems
