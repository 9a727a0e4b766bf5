"""``--web``: the dashboard served to browsers by textual-serve, one dashboard per browser tab.

textual-serve runs a command per browser connection and shows its screen in the page through
xterm.js. The command here is ``python -m putback_tui.dashboard`` with the address and refresh
on its command line and the token in its environment (a command line is readable by every user
of the machine; the child inherits this process's environment).

textual-serve does not stop those commands when it stops, so each one is told this server's
process ID (``PUTBACK_DASHBOARD_SERVED_BY``) and quits by itself once the server is gone: a
stopped ``--web`` leaves no dashboard behind polling the central store.
"""

from __future__ import annotations

import os
import shlex
import sys

from putback_tui.dashboard.cli import SERVED_BY_ENV, TOKEN_ENV
from putback_tui.extras import require_extra


def command(url: str, refresh_s: float) -> str:
    """The shell command textual-serve runs for each browser (no token in it)."""
    return shlex.join(
        [sys.executable, "-m", "putback_tui.dashboard", "--url", url, "--refresh", f"{refresh_s:g}"]
    )


def serve(url: str, token: str, *, refresh_s: float, host: str, port: int) -> None:
    """Serve the dashboard on http://host:port until interrupted (Ctrl+C or SIGTERM).

    Raises:
        MissingExtraError: the ``web`` extra (textual-serve) is not installed.
    """
    require_extra("web")
    from textual_serve.server import Server

    os.environ[TOKEN_ENV] = token
    os.environ[SERVED_BY_ENV] = str(os.getpid())
    print(f"Serving the dashboard of {url} on http://{host}:{port} (Ctrl+C stops).", flush=True)
    Server(command(url, refresh_s), host=host, port=port, title="putback dashboard").serve()
