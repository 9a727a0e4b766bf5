"""A process that imports the terminal and the central store once, then forks one per request.

Restarting a killed process from scratch costs a second of imports (FastAPI, pydantic, httpx),
which would make a thousand kills take most of an hour. The harness asks this zygote instead:
each request line on stdin is JSON ``{"role": "terminal" | "central", "argv": [...],
"log": PATH}``; the zygote forks, the child runs the role with those arguments, and the zygote
answers ``PID n`` on stdout, and ``EXIT n status`` when a child ends (reaped here). The zygote
itself never opens a database or starts a thread, so forking it is safe; each child is a
separate process with its own files, killed with SIGKILL like any other.

The zygote waits in ``select`` on stdin and on a wakeup pipe that the SIGCHLD handler's C part
writes to (``signal.set_wakeup_fd``), and reaps in its loop. Reaping in a Python handler while
blocked in stdin's ``read`` lost a child's end now and then: a SIGCHLD that came after the
interpreter's last check for signals but before ``read`` began left the handler waiting for the
next request line, so the harness waited for an ``EXIT`` that never came ("did not die").
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys

# Imported before any fork, so children start warm.
import uvicorn  # noqa: F401

import putback_tui.central.app
import putback_tui.central.cli
import putback_tui.cli
import putback_tui.logs
import putback_tui.sync.cli
import putback_tui.sync.client
import tests.crash.terminal
import tests.powerfs.terminal


def _say(line: str) -> None:
    # One os.write per line: a line is never cut or mixed with another.
    os.write(1, (line + "\n").encode())


def _reap() -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _say(f"EXIT {pid} {os.waitstatus_to_exitcode(status)}")


def _on_sigchld(_signum: int, _frame: object) -> None:
    """Nothing: the loop reaps. A handler must be set for SIGCHLD to reach the wakeup pipe."""


def _child(role: str, argv: list[str], log: str, wakeup: tuple[int, int]) -> None:
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in wakeup:
        os.close(fd)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.setsid()
    code = 0
    try:
        if role == "terminal":
            sys.argv = ["terminal", *argv]
            tests.crash.terminal.main()
        elif role == "powerterm":
            sys.argv = ["powerterm", *argv]
            tests.powerfs.terminal.main()
        else:
            putback_tui.cli.cli.main(args=argv, prog_name="putback", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    putback_tui.logs.close()  # the log's last lines, as the interpreter's exit would write them
    os._exit(code)


def main() -> None:
    wakeup = os.pipe()
    for fd in wakeup:
        os.set_blocking(fd, False)
    signal.signal(signal.SIGCHLD, _on_sigchld)
    signal.set_wakeup_fd(wakeup[1], warn_on_full_buffer=False)
    stdin = sys.stdin.fileno()
    pending = b""
    _say("ZYGOTE")
    while True:
        # A child that ended at any moment since the last reap has written to the pipe, so
        # select returns at once.
        _reap()
        ready, _, _ = select.select([stdin, wakeup[0]], [], [])
        if wakeup[0] in ready:
            while True:
                try:
                    if not os.read(wakeup[0], 512):
                        break
                except BlockingIOError:
                    break
        if stdin not in ready:
            continue
        chunk = os.read(stdin, 65536)
        if not chunk:
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            request = json.loads(line)
            pid = os.fork()
            if pid == 0:
                _child(request["role"], request["argv"], request["log"], wakeup)
            _say(f"PID {pid}")


if __name__ == "__main__":
    main()
