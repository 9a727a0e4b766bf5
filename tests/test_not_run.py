"""A missing PostgreSQL fails the run with its reason unless someone asked to skip it, and the end
of every run says what did not run and why.

Each case runs pytest on one PostgreSQL-parametrised test in a child process whose PostgreSQL
"binaries" fail at once (``PG_BINDIR`` points at two scripts that exit 1), as on a machine where
the throwaway cluster cannot start.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ONE_TEST = "tests/central/test_storage.py::test_changes_an_entry_carries_are_not_believed"


@pytest.fixture
def broken_postgres() -> Iterator[Path]:
    # Outside tmp_path (mode 0700): as root, the cluster's commands run as an unprivileged user.
    bindir = Path(tempfile.mkdtemp(prefix="putback-no-pg-"))
    bindir.chmod(0o755)
    for name in ("initdb", "pg_ctl"):
        script = bindir / name
        script.write_text("#!/bin/sh\necho 'simulated: no PostgreSQL on this machine' >&2\n"
                          "exit 1\n")
        script.chmod(0o755)
    yield bindir
    shutil.rmtree(bindir)


def run_pytest(bindir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("CI", "PUTBACK_ALLOW_SKIP")}
    environ.update(PG_BINDIR=str(bindir), **env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", ONE_TEST, "-p", "no:cacheprovider", "-q"],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=240, check=False,
    )


def test_a_missing_postgresql_fails_the_run_with_its_reason(broken_postgres: Path) -> None:
    done = run_pytest(broken_postgres)
    assert done.returncode == 1, done.stdout
    assert "1 passed, 1 error" in done.stdout  # SQLite ran; PostgreSQL did not, and said so
    assert "postgres is needed and missing" in done.stdout
    assert "simulated: no PostgreSQL on this machine" in done.stdout
    assert "PUTBACK_ALLOW_SKIP=postgres" in done.stdout


def test_ci_fails_it_too(broken_postgres: Path) -> None:
    done = run_pytest(broken_postgres, CI="true")
    assert done.returncode == 1, done.stdout
    assert "Tests needing it fail in CI" in done.stdout


def test_asked_to_skip_it_skips_and_says_so_at_the_end(broken_postgres: Path) -> None:
    done = run_pytest(broken_postgres, PUTBACK_ALLOW_SKIP="postgres")
    assert done.returncode == 0, done.stdout
    not_run = done.stdout.split("not run")[1]
    assert "1 skipped: postgres: no PostgreSQL for the throwaway cluster" in not_run
    assert "simulated: no PostgreSQL on this machine" in not_run
    # pytest's own closing line stays the last line (CI logs and .ci/run read it).
    assert done.stdout.strip().splitlines()[-1].startswith("1 passed, 1 skipped")


def test_a_run_where_everything_ran_says_nothing_was_left_out() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_deploy.py", "-p", "no:cacheprovider", "-q",
         "-k", "udev_rule"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stdout
    assert "nothing skipped or deselected" not in done.stdout  # -k left some out
    assert "deselected (by -k / -m on the command line)" in done.stdout.split("not run")[1]
    whole = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_deploy.py", "-p", "no:cacheprovider", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert whole.returncode == 0, whole.stdout
    assert "nothing skipped or deselected" in whole.stdout.split("not run")[1]
