"""A process that imports the terminal and the central store once, then forks one per request.

Restarting a killed process from scratch costs a second of imports (FastAPI, pydantic, httpx),
which would make a thousand kills take most of an hour. The harness asks this zygote instead:
each request line on stdin is JSON ``{"role": "terminal" | "central", "argv": [...],
"log": PATH}``; the zygote forks, the child runs the role with those arguments, and the zygote
answers ``PID n`` on stdout, and ``EXIT n status`` when a child ends (reaped here). The zygote
itself never opens a database or starts a thread, so forking it is safe; each child is a
separate process with its own files, killed with SIGKILL like any other.
"""

from __future__ import annotations

import json
import os
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
    # One os.write per line, no lock: the SIGCHLD handler may run in the middle of a _say.
    os.write(1, (line + "\n").encode())


def _reap(_signum: int, _frame: object) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _say(f"EXIT {pid} {os.waitstatus_to_exitcode(status)}")


def _child(role: str, argv: list[str], log: str) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
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
    signal.signal(signal.SIGCHLD, _reap)
    _say("ZYGOTE")
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request["role"], request["argv"], request["log"])
        _say(f"PID {pid}")


if __name__ == "__main__":
    main()
