"""A throwaway PostgreSQL cluster for tests and benchmarks (never for production data).

``initdb`` refuses to run as root, so when run as root the cluster belongs to an unprivileged
system user (created if missing) and every PostgreSQL command runs through ``runuser``. The
cluster listens on a free loopback port and a unix socket inside its own temporary directory,
and :meth:`ThrowawayPostgres.stop` removes everything.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from putback_tui.central.server import free_port

PG_USER = "putback-pg"
"""The OS user owning the cluster when run as root."""


class PostgresUnavailable(Exception):
    """No PostgreSQL server binaries were found, or the cluster did not start."""


def find_bindir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``.

    Raises:
        PostgresUnavailable: none found (PATH, ``PG_BINDIR``, /usr/lib/postgresql/*/bin).
    """
    candidates = [os.environ.get("PG_BINDIR", "")]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for c in candidates:
        if c and (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")


def _ensure_pg_user() -> None:
    """Create :data:`PG_USER` if missing, one process at a time (pytest-xdist's workers each
    start a cluster, and two ``useradd`` at once fail or make a half-written user).
    """
    with open(os.path.join(tempfile.gettempdir(), "putback-pg-useradd.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    PG_USER,
                ],
                check=True,
                capture_output=True,
                stdin=subprocess.DEVNULL,
            )


class ThrowawayPostgres:
    """Start with :meth:`start`, make databases with :meth:`create_database`, then :meth:`stop`.

    Args:
        durable: keep fsync on (benchmarks); tests turn it off for speed.
    """

    def __init__(self, *, durable: bool = False) -> None:
        self.bindir = find_bindir()
        self.durable = durable
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="putback-pg-"))
        self._as_user: list[str] = []
        self._started = False

    @property
    def url(self) -> str:
        """The maintenance database's URL."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        """The URL of database ``name`` in this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self._as_user, *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"{Path(args[0]).name} failed ({result.returncode}): "
                f"{(result.stderr or result.stdout).strip()[-2000:]}"
            )

    def start(self) -> ThrowawayPostgres:
        """Create the cluster and start the server; returns self.

        Raises:
            PostgresUnavailable: a step failed (its output is in the message).
        """
        if os.geteuid() == 0:
            _ensure_pg_user()
            entry = pwd.getpwnam(PG_USER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._as_user = ["runuser", "-u", PG_USER, "--"]
        data, sock = self.root / "data", self.root / "sock"
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        self._run("mkdir", str(sock))
        options = f"-k {sock} -p {self.port} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        self._started = True
        return self

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`create_database` (closing its connections)."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server and remove the cluster's directory."""
        if self._started:
            with contextlib.suppress(PostgresUnavailable):
                self._run(
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.root / "data"),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                )
            self._started = False
        shutil.rmtree(self.root, ignore_errors=True)
