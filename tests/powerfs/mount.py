"""Start, cut and stop the power-loss filesystem of :mod:`tests.powerfs.fs` from a test.

``PowerLossMount(backing, mountpoint).start()`` mounts it (one process, ``python -m
tests.powerfs.fs``); ``cut()`` loses what was not synced and unmounts (the power went: every
process using the mount must be dead by then); ``start()`` again is the reboot. ``available()``
says whether this machine can mount FUSE at all (root, ``/dev/fuse``, libfuse 3, mfusepy).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def available() -> str | None:
    """None if a FUSE mount can be made here, else the reason why not."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    if os.geteuid() != 0:
        return "mounting FUSE needs root here"
    if shutil.which("fusermount3") is None:
        return "fusermount3 missing (Debian package fuse3)"
    try:
        import mfusepy  # noqa: F401
    except (ImportError, OSError) as exc:
        return f"mfusepy cannot load libfuse: {exc}"
    return None


class PowerLossMount:
    """One power-loss filesystem over ``backing``, mounted at ``mountpoint``."""

    def __init__(self, backing: Path, mountpoint: Path) -> None:
        self.backing = backing
        self.mountpoint = mountpoint
        self.proc: subprocess.Popen[str] | None = None
        self.cuts = 0

    def start(self, timeout_s: float = 30.0) -> PowerLossMount:
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.powerfs.fs", str(self.backing), str(self.mountpoint)],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "READY":
            self.proc.kill()
            raise RuntimeError(f"the power-loss filesystem did not mount: {line!r}")
        deadline = time.monotonic() + timeout_s
        while not os.path.ismount(self.mountpoint):
            if time.monotonic() > deadline:
                raise RuntimeError("the power-loss filesystem did not appear")
            time.sleep(0.01)
        return self

    def command(self, line: str) -> dict[str, Any]:
        assert self.proc is not None
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline()
        kind, _, body = answer.partition(" ")
        if kind != "OK":
            raise RuntimeError(f"{line}: {answer.strip()}")
        result: dict[str, Any] = json.loads(body)
        return result

    def sync(self) -> None:
        """Everything written so far is on the platter (as ``sync`` would leave it)."""
        self.command("SYNC")

    def stats(self) -> dict[str, Any]:
        return self.command("STATS")

    def cut(self, mode: str = "clean", seed: int = 0) -> dict[str, Any]:
        """The power goes: what was not synced is lost, then the filesystem is unmounted.

        Every process with a file open on the mount must be dead (or have closed it) first.
        """
        result = self.command(f"CUT {mode} {seed}")
        self.cuts += 1
        self.stop()
        return result

    def stop(self) -> None:
        if self.proc is None:
            return
        deadline = time.monotonic() + 10
        while os.path.ismount(self.mountpoint):
            done = subprocess.run(["fusermount3", "-u", str(self.mountpoint)],
                                  capture_output=True, text=True, check=False)
            if done.returncode == 0:
                break
            if time.monotonic() > deadline:
                # Detach it anyway (the daemon ends once the last file is closed): a failed test
                # must not leave a mount behind.
                subprocess.run(["fusermount3", "-uz", str(self.mountpoint)], check=False)
                self.proc = None
                raise RuntimeError(f"cannot unmount {self.mountpoint}: {done.stderr.strip()}")
            time.sleep(0.05)  # a process that was killed may still be letting go of a file
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(30)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
