"""The worklist read in a helper process, so that no thread of the app's competes with a scan.

A read of a long list (600 waiting orders: about 30 ms of Python) in a thread of the app's own
holds Python's interpreter lock while it runs; a scan arriving then waits up to one switch
interval (5 ms) for the lock before its first key is even handled, and the collections the
read's objects trigger run on its time too. Those waits made the slowest scans of the latency
benchmark. The helper does the same read (:func:`~putback_tui.worklist.build_worklist` on a
read-only snapshot of the ledger file) in a process of its own, at a lower priority, and sends
the rows back as plain tuples; the app's reader thread only waits on the pipe (the lock free)
and turns the tuples into rows, a hundred at a time, pausing between them for scans.

Like the reader thread, the helper gives way to scans: the app's scan gate
(``putback_tui.tui.worklist_feed.ScanGate``) mirrors "a scan is being handled" into one byte of
memory the two processes share, and the helper, between orders and inside long queries, sleeps
while it is set (at most :data:`GATE_MAX_WAIT_S` per read), so the scan has the machine's cores
to itself too (two cores, often two threads of one).

What keeps it safe:

- **Read-only.** The helper opens the ledger file read-only (:func:`read_snapshot`): it can
  neither change it nor hold a write up; it records nothing. Offline it works as before: it
  reads the local file only.
- **Never a stray process.** The helper reads its requests on standard input and exits when it
  ends: when the app closes it (:meth:`WorklistProcess.close`, which kills it if it does not
  exit at once), and when the app dies however it dies (killed, crashed: the kernel closes the
  pipe). It ignores Ctrl+C (the app decides when it stops) and writes nothing to the terminal.
- **Never a missing list.** When the helper cannot be started, dies, or answers with an error,
  the read is done in the app's thread as before (:class:`HelperFailed` tells the caller to);
  the next read starts a new helper, and after :data:`MAX_FAILURES` failures in a row the app
  reads in its thread for good.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from putback_tui.domain.models import constructed
from putback_tui.domain.sla import PrioritySettings, SlaSettings
from putback_tui.ledger import read_snapshot
from putback_tui.worklist import (
    PAUSE_EVERY_STEPS,
    Pause,
    Worklist,
    WorklistRow,
    build_worklist,
    progress_handler,
)

HELPER_NICE = 10
"""How much lower the helper's scheduling priority is than the app's: on a busy machine the
app (the scans) goes first, the list a moment later."""

MAX_FAILURES = 3
"""Failed reads in a row after which the app stops starting helpers and reads in its thread."""

CHUNK_ROWS = 100
"""Rows per piece of an answer: the app's reader pauses for scans between pieces."""

ANSWER_TIMEOUT_S = 30.0
"""How long a read waits for the helper's answer before it gives up on that helper (a read
takes tens of milliseconds)."""

CLOSE_WAIT_S = 2.0
"""How long :meth:`WorklistProcess.close` waits for the helper to exit before killing it."""

GATE_MAX_WAIT_S = 2.0
"""The longest one read of the helper waits for scans in all (as the reader thread's)."""

GATE_POLL_S = 0.0005
"""How often a waiting helper with no wake-up pipe looks at the shared byte again."""

GATE_WAKE_S = 0.05
"""How long a waiting helper sleeps on its wake-up pipe before it looks at the byte again (the
app writes to the pipe when the scan is shown: this is only a safety net)."""

Gate = mmap.mmap | bytearray
"""The shared byte (a bytearray in tests of the helper's loop in this process)."""

FIELDS = tuple(WorklistRow.model_fields)
"""A row's fields, in the order of the tuples the helper sends."""

_HEAD = struct.Struct(">I")


class HelperFailed(Exception):
    """The helper could not answer (not started, died, or failed): read in the thread instead."""


# -- the wire: length-prefixed pickles on the helper's standard input and output ----------------


def _send(stream: IO[bytes], message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEAD.pack(len(data)) + data)
    stream.flush()


def _exactly(stream: IO[bytes], n: int) -> bytes:
    data = b""
    while len(data) < n:
        more = stream.read(n - len(data))
        if not more:
            raise EOFError("the pipe was closed")
        data += more
    return data


def _receive(stream: IO[bytes]) -> Any:
    (n,) = _HEAD.unpack(_exactly(stream, _HEAD.size))
    return pickle.loads(_exactly(stream, n))  # our own process, on our own pipe


def _exactly_within(fd: int, n: int, deadline: float) -> bytes:
    data = b""
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError("the helper did not answer in time")
        more = os.read(fd, n - len(data))
        if not more:
            raise EOFError("the pipe was closed")
        data += more
    return data


def _receive_within(fd: int, timeout_s: float) -> Any:
    """One message from the raw pipe ``fd``, or TimeoutError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    (n,) = _HEAD.unpack(_exactly_within(fd, _HEAD.size, deadline))
    return pickle.loads(_exactly_within(fd, n, deadline))  # our own helper, on our own pipe


def encode(worklist: Worklist) -> tuple[int, int, list[bytes]]:
    """A worklist as the helper sends it: the counts, and the rows as tuples in pieces."""
    rows = [tuple(r.__dict__[f] for f in FIELDS) for r in worklist.rows]
    pieces = [
        pickle.dumps(rows[i : i + CHUNK_ROWS], protocol=pickle.HIGHEST_PROTOCOL)
        for i in range(0, len(rows), CHUNK_ROWS)
    ]
    return worklist.waiting, worklist.overdue, pieces


def decode(answer: tuple[int, int, list[bytes]], pause: Pause) -> Worklist:
    """The worklist from :func:`encode`'s answer, pausing (for scans) before each piece."""
    waiting, overdue, pieces = answer
    rows: list[WorklistRow] = []
    for piece in pieces:
        pause()
        rows += [
            constructed(WorklistRow, dict(zip(FIELDS, values, strict=True)))
            for values in pickle.loads(piece)
        ]
    return constructed(Worklist, {"rows": rows, "waiting": waiting, "overdue": overdue})


# -- the helper (its own process) ---------------------------------------------------------------


def gate_pause(gate: Gate, wake: int | None = None, max_wait_s: float = GATE_MAX_WAIT_S) -> Pause:
    """A pause function for one read: waits while ``gate[0]`` is set (a scan is handled).

    At most ``max_wait_s`` over all its calls, like the reader thread's
    (``ScanGate.pause``): keys typed with no Enter after them hold a read up only briefly. It
    sleeps on the pipe ``wake`` (the app writes to it when the scan is shown), so a waiting
    helper takes no turn on a core while the scan is handled; without one it looks again every
    :data:`GATE_POLL_S`.
    """
    view = memoryview(gate)
    left = max_wait_s

    def pause() -> None:
        nonlocal left
        while view[0] and left > 0:
            start = time.monotonic()
            if wake is None:
                time.sleep(GATE_POLL_S)
            elif select.select([wake], [], [], min(left, GATE_WAKE_S))[0]:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake, 4096)
            left -= max(time.monotonic() - start, GATE_POLL_S)

    return pause


def serve(
    requests: IO[bytes], answers: IO[bytes], gate: Gate | None = None, wake: int | None = None
) -> None:
    """Answer read requests until ``requests`` ends (the app closed it, or died).

    The first message is the set-up: (ledger file, facility, SLA settings, priority settings).
    Each request is (now, limit); each answer ("ok", encoded worklist) or ("error", text).

    Args:
        requests: Where the requests come from (the helper's standard input).
        answers: Where the answers go (its standard output).
        gate: Memory shared with the app: its first byte is set while a scan is handled.
        wake: A pipe the app writes to when a scan's outcome is shown.
    """
    path, facility, sla, priority = _receive(requests)
    while True:
        try:
            now, limit = _receive(requests)
        except EOFError:
            return
        pause = gate_pause(gate, wake) if gate is not None else None
        try:
            with read_snapshot(path) as tx:
                if pause is not None:
                    tx.conn.set_progress_handler(progress_handler(pause), PAUSE_EVERY_STEPS)
                worklist = build_worklist(
                    tx, facility, sla=sla, priority=priority, now=now, limit=limit, pause=pause
                )
            answer: tuple[str, object] = ("ok", encode(worklist))
        except Exception as exc:  # the app reads in its thread instead, and reports it there
            answer = ("error", f"{type(exc).__name__}: {exc}")
        _send(answers, answer)


def main() -> None:
    """The helper process's entry point (``python -m putback_tui.worklist_process``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the app's to handle
    with contextlib.suppress(OSError):
        os.nice(HELPER_NICE)
    answers = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the answers
    gate = wake = None
    if len(sys.argv) > 2:  # the shared gate's and the wake-up pipe's file descriptors
        with contextlib.suppress(OSError, ValueError):
            gate = mmap.mmap(int(sys.argv[1]), 1)
            wake = int(sys.argv[2])
    with contextlib.suppress(EOFError, BrokenPipeError):
        serve(sys.stdin.buffer, answers, gate, wake)


# -- the app's side -----------------------------------------------------------------------------


class WorklistProcess:
    """The app's handle on its helper: starts it, asks it for the list, restarts it, stops it.

    One read at a time (the worklist feed's reader thread); :meth:`close` may come from another
    thread, and after it no helper is ever started again.
    """

    def __init__(
        self,
        path: Path,
        facility: str,
        sla: SlaSettings,
        priority: PrioritySettings,
        *,
        command: list[str] | None = None,
    ) -> None:
        """Describe the helper; nothing starts until :meth:`start` or the first :meth:`read`.

        Args:
            path: The ledger file (read read-only).
            facility: This terminal's facility.
            sla: The SLA clocks.
            priority: The score's weights.
            command: The helper's command line (default: this Python, ``-m`` this module).
        """
        self.setup = (path.resolve(), facility, sla, priority)  # the same file from any cwd
        self.command = command or [sys.executable, "-m", __name__]
        self.starts = 0
        """Helpers started so far."""
        self.failures = 0
        """Failed reads in a row (0 after each answer)."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._gate_fd: int | None = None
        self.gate: mmap.mmap | None = None
        """One byte shared with every helper this handle starts: set it (1) while a scan is
        handled, and the helper waits (None where shared memory is not to be had: the helper
        then runs on, as before)."""
        self._wake: tuple[int, int] | None = None
        """The wake-up pipe (read end for the helpers, write end for :meth:`scan_busy`)."""
        with contextlib.suppress(OSError, AttributeError):  # memfd: Linux
            fd = os.memfd_create("putback-worklist-gate", os.MFD_CLOEXEC)
            os.ftruncate(fd, 1)
            self.gate = mmap.mmap(fd, 1)
            self._gate_fd = fd
            self._wake = os.pipe()
            for end in self._wake:
                os.set_blocking(end, False)

    def scan_busy(self, busy: bool) -> None:
        """Tell the helper a scan is being handled (it waits) or is on screen (it goes on)."""
        gate = self.gate
        if gate is None or gate.closed:
            return
        gate[0] = 1 if busy else 0
        if not busy and self._wake is not None:
            with contextlib.suppress(OSError):  # full (it is awake anyway), or closed
                os.write(self._wake[1], b"\0")

    @property
    def usable(self) -> bool:
        """False once closed, or after :data:`MAX_FAILURES` failed reads in a row."""
        return not self._closed and self.failures < MAX_FAILURES

    @property
    def pid(self) -> int | None:
        """The running helper's process ID (None: none running)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def start(self) -> None:
        """Start the helper now (it loads while the app goes on), unless one runs or closed.

        A helper that cannot be started counts as a failed read (the next read tries again).
        """
        with self._lock:
            if not self.usable:
                return
            try:
                self._ensure_started()
            except OSError:
                self.failures += 1
                self._stop()

    def read(self, now: datetime, limit: int | None = None, pause: Pause | None = None) -> Worklist:
        """The worklist at ``now``, read by the helper (started first if none runs).

        Args:
            now: The moment ages and SLA clocks are measured at.
            limit: Most rows to return (None: all).
            pause: Called before each piece of the answer is turned into rows.

        Raises:
            HelperFailed: no answer (read in the thread instead); a dead helper is replaced
                at the next read.
        """
        with self._lock:
            if not self.usable:
                raise HelperFailed("the helper is closed or gave up")
            try:
                proc = self._ensure_started()
                assert proc.stdin is not None
                assert proc.stdout is not None
                _send(proc.stdin, (now, limit))
                status, answer = _receive_within(proc.stdout.fileno(), ANSWER_TIMEOUT_S)
            except (OSError, EOFError, ValueError, pickle.UnpicklingError, struct.error) as exc:
                self.failures += 1
                self._stop()
                raise HelperFailed(f"the helper stopped: {exc}") from exc
        if status != "ok":
            self.failures += 1
            raise HelperFailed(str(answer))
        self.failures = 0
        return decode(answer, pause or _no_pause)

    def close(self) -> None:
        """Stop the helper (it exits when its input ends; killed if it does not at once)."""
        self._closed = True
        proc = self._proc
        if proc is not None:
            _end(proc)  # without the lock: a read under way then fails, and lets it go
        with self._lock:
            self._stop()
            if self.gate is not None:
                self.gate.close()
            for fd in (self._gate_fd, *(self._wake or ())):
                if fd is not None:
                    os.close(fd)
            self._gate_fd = self._wake = None

    def _ensure_started(self) -> subprocess.Popen[bytes]:
        if self._closed:
            raise OSError("closed")
        proc = self._proc
        if proc is not None and proc.poll() is None:
            return proc
        self._stop()
        package_root = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        gate = () if self._gate_fd is None or self._wake is None else (self._gate_fd, self._wake[0])
        proc = subprocess.Popen(
            [*self.command, *(str(fd) for fd in gate)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # never over the app's screen
            env=env,
            close_fds=True,
            pass_fds=gate,
        )
        self._proc = proc
        self.starts += 1
        assert proc.stdin is not None
        _send(proc.stdin, self.setup)
        return proc

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _end(proc)
            if proc.stdout is not None:
                proc.stdout.close()


def _end(proc: subprocess.Popen[bytes]) -> None:
    """End a helper: close its input, wait briefly, kill it if it is still there, reap it.

    Its output is closed last, once it has exited: a read of it under way in another thread
    then returns (end of file) instead of holding the close up.
    """
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    try:
        proc.wait(CLOSE_WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _no_pause() -> None:
    pass


if __name__ == "__main__":
    main()
