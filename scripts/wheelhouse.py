"""Fill .venv/wheelhouse: every wheel putback's core needs, per claimed Python version.

The ``web`` extra's wheels too (textual-serve, aiohttp and the compiled parts under it:
multidict, yarl, frozenlist, propcache), so a pin without a wheel for one claimed version fails
here, naming it.

The versions are those of pyproject.toml's ``Programming Language :: Python :: 3.N``
classifiers; each needs an interpreter, found as ``python3.N`` on PATH or under pyenv
(``$PYENV_ROOT/versions/3.N.*``), or named in ``PUTBACK_PYTHON_3_N``. The interpreters found go
to ``wheelhouse/pythons.json`` for the test to read. Downloading goes through the interpreter's
own pip, so each gets the wheels built for it (pydantic-core is compiled per version).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEELHOUSE = ROOT / ".venv" / "wheelhouse"


def claimed_versions(pyproject: dict[str, object]) -> list[str]:
    """The Python versions the classifiers claim, e.g. ["3.11", "3.12"]."""
    classifiers = pyproject["project"]["classifiers"]  # type: ignore[index]
    pattern = re.compile(r"Programming Language :: Python :: (3\.\d+)$")
    return [m.group(1) for c in classifiers if (m := pattern.match(c))]


def runs(python: str) -> bool:
    try:
        done = subprocess.run([python, "-c", "pass"], capture_output=True, timeout=60)
    except OSError:
        return False
    return done.returncode == 0


def find_python(version: str) -> str | None:
    """An interpreter of ``version`` that runs (pyenv's shims exist for versions not selected)."""
    named = os.environ.get(f"PUTBACK_PYTHON_{version.replace('.', '_')}")
    candidates = [named] if named else []
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        candidates.append(sys.executable)
    candidates.append(f"python{version}")
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    pattern = f"versions/{version}.*/bin/python{version}"
    candidates += [str(p) for p in sorted(pyenv_root.glob(pattern))]
    return next((c for c in candidates if runs(c)), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="download again")
    args = parser.parse_args()
    text = (ROOT / "pyproject.toml").read_bytes() + (ROOT / "constraints.txt").read_bytes()
    stamp = hashlib.sha256(text).hexdigest()
    stamp_file = WHEELHOUSE / "stamp"
    if not args.force and stamp_file.exists() and stamp_file.read_text() == stamp:
        return
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requirements = [
        *pyproject["project"]["dependencies"],
        *pyproject["project"]["optional-dependencies"]["web"],
    ]
    pythons: dict[str, str] = {}
    started = time.monotonic()
    for version in claimed_versions(pyproject):
        python = find_python(version)
        if python is None:
            sys.exit(
                f"wheelhouse: pyproject.toml claims Python {version}, but no python{version} "
                f"runs here: install it (or set PUTBACK_PYTHON_{version.replace('.', '_')}), or "
                "drop the classifier."
            )
        pythons[version] = python
        out = WHEELHOUSE / f"py{version}"
        out.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
             "--only-binary=:all:", "-c", str(ROOT / "constraints.txt"), "-d", str(out),
             *requirements],
            capture_output=True, text=True, timeout=900,
        )
        if done.returncode != 0:
            sys.exit(f"wheelhouse: downloading for Python {version} ({python}) failed:\n"
                     f"{done.stderr[-3000:]}")
    (WHEELHOUSE / "pythons.json").write_text(json.dumps(pythons, indent=2) + "\n")
    stamp_file.write_text(stamp)
    print(f"wheelhouse: {', '.join(pythons)} in {time.monotonic() - started:.0f} s "
          f"({WHEELHOUSE})", file=sys.stderr)


if __name__ == "__main__":
    main()
