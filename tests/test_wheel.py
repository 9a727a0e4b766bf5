"""The package as a user gets it: the sdist and the wheel built from the checkout, the wheel
installed into a fresh venv outside the checkout, and the commands of a first look run there.

No network: the venvs install from the wheelhouse that ``scripts/wheelhouse`` (run by
``scripts/test``) downloads once, with pip's own configuration switched off, so nothing but the
wheelhouse and the built wheel can be installed. The Python versions are those pyproject.toml
claims in its classifiers: each gets a venv and ``putback --version``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import putback_tui

ROOT = Path(__file__).resolve().parents[1]
WHEELHOUSE = ROOT / ".venv" / "wheelhouse"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
CLAIMED = [
    c.rsplit(" :: ", 1)[1]
    for c in PYPROJECT["project"]["classifiers"]
    if c.startswith("Programming Language :: Python :: 3.")
]
PACKAGED = [
    "putback_tui/data/demo/dataset.json",
    "putback_tui/data/demo/order_lines.csv",
    "putback_tui/data/deploy/70-putback-scanner.rules",
    "putback_tui/data/deploy/putback-sync.service",
    "putback_tui/data/deploy/putback-kiosk@.service",
    "putback_tui/data/deploy/putback-kiosk",
    "putback_tui/data/deploy/putback",
    "putback_tui/tui/putback.tcss",
]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no PUTBACK_*, no PYTHONPATH, no pip configuration."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PUTBACK_", "PIP_", "PYTHON", "VIRTUAL_ENV"))
    }
    env["PIP_CONFIG_FILE"] = os.devnull  # the machine's index, links and constraints: none
    return {**env, **extra}


def run(
    *args: str | Path, cwd: Path, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=clean_env(**(env or {})), capture_output=True,
        text=True, timeout=600,
    )
    if check:
        assert out.returncode == 0, f"{args}: {out.stdout}\n{out.stderr}"
    return out


def pythons() -> dict[str, str]:
    manifest = WHEELHOUSE / "pythons.json"
    if not manifest.exists():
        pytest.fail("no wheelhouse: run scripts/wheelhouse (scripts/test does) first")
    found: dict[str, str] = json.loads(manifest.read_text())
    return found


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, and the wheel built from the sdist (so the sdist must hold everything)."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT, cwd=out)
    return out


def fresh_venv(python: str, dist: Path, where: Path) -> Path:
    """A venv at ``where`` with the built wheel and only its core dependencies."""
    version = run(python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])", cwd=where)
    run(python, "-m", "venv", where / "venv", cwd=where)
    run(
        where / "venv" / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-index",
        "--find-links", WHEELHOUSE / f"py{version.stdout.strip()}",
        dist / f"putback-{VERSION}-py3-none-any.whl",
        cwd=where,
    )
    return where / "venv" / "bin"


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel in a fresh venv of this Python (the first one claimed), outside the checkout."""
    where = tmp_path_factory.mktemp("venv")
    assert not where.is_relative_to(ROOT)
    return fresh_venv(pythons()[CLAIMED[0]], dist, where)


def test_sdist_and_wheel_carry_the_data_the_licence_and_the_metadata(dist: Path) -> None:
    wheel = zipfile.ZipFile(dist / f"putback-{VERSION}-py3-none-any.whl")
    names = wheel.namelist()
    for path in PACKAGED:
        assert path in names
    metadata = wheel.read(f"putback-{VERSION}.dist-info/METADATA").decode()
    assert "Name: putback\n" in metadata
    assert "License-Expression: MIT" in metadata
    assert f"putback-{VERSION}.dist-info/licenses/LICENSE" in names
    for version in CLAIMED:
        assert f"Classifier: Programming Language :: Python :: {version}" in metadata
    assert "Provides-Extra: central" in metadata
    assert "Provides-Extra: scanners" in metadata
    # A terminal installs none of the central store's or the scanners' packages.
    core = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    for name in ("fastapi", "uvicorn", "psycopg", "evdev"):
        assert all("extra ==" in line for line in core if name in line), name
    with tarfile.open(dist / f"putback-{VERSION}.tar.gz") as sdist:
        members = {m.split("/", 1)[1] for m in sdist.getnames() if "/" in m}
    for path in PACKAGED:
        assert f"src/{path}" in members
    assert "LICENSE" in members


def test_installed_wheel_runs_the_first_commands_outside_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    where = run(installed / "python", "-c", "import putback_tui; print(putback_tui.__file__)",
                cwd=tmp_path)
    assert "site-packages" in where.stdout
    assert not Path(where.stdout.strip()).is_relative_to(ROOT)
    putback = installed / "putback"
    home = tmp_path / "H"

    init = run(putback, "--home", home, "init", "--demo", cwd=tmp_path)
    assert "Loaded demo for STORE-01" in init.stdout

    stock = json.loads(run(putback, "--home", home, "stock", "--json", cwd=tmp_path).stdout)
    assert stock["facility"] == "STORE-01"
    assert {"sku": "TSHIRT-BLK-M", "location": "A-01-01", "qoh": 10} in stock["qoh"]
    assert {"sku": "TSHIRT-BLK-M", "atp": 8} in stock["atp"]  # 6 + 2 released from D-1001

    code = run(putback, "--home", home, "barcode", "4006381333931", "--json", cwd=tmp_path)
    (found,) = json.loads(code.stdout)["codes"]
    assert found["kind"] == "product"
    assert found["product"]["sku"] == "TSHIRT-BLK-M"

    doctor = run(putback, "--home", home, "doctor", cwd=tmp_path)
    assert "Nothing is wrong" in doctor.stdout

    rule = run(putback, "scanners", "udev-rule", cwd=tmp_path)
    assert 'GROUP="putback"' in rule.stdout

    # Shell completion as docs/installing.md sets it up (click's bash protocol).
    completion = {
        "_PUTBACK_COMPLETE": "bash_complete", "COMP_WORDS": "putback sc", "COMP_CWORD": "1"
    }
    assert run(putback, cwd=tmp_path, env=completion).stdout.split() == ["plain,scanners"]
    script = run(putback, cwd=tmp_path, env={"_PUTBACK_COMPLETE": "bash_source"}).stdout
    assert "_putback_completion" in script


def test_a_command_of_a_missing_extra_names_the_extra(installed: Path, tmp_path: Path) -> None:
    out = run(
        installed / "putback", "central", "import", "--db", tmp_path / "central.sqlite3",
        "--demo", cwd=tmp_path, check=False,
    )
    assert out.returncode == 1
    assert "needs putback's 'central' extra" in out.stderr
    assert "pip install 'putback[central]'" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "central.sqlite3").exists()
    # Reading a HID scanner without evdev: the scanner's state says which extra.
    probe = run(
        installed / "python", "-c",
        "from putback_tui.scanners.source import open_with_evdev\n"
        "try:\n    open_with_evdev('/dev/null', False)\nexcept OSError as e:\n    print(e)",
        cwd=tmp_path,
    )
    assert "needs putback's 'scanners' extra" in probe.stdout
    assert "pip install 'putback[scanners]'" in probe.stdout


@pytest.mark.parametrize("version", CLAIMED)
def test_every_claimed_python_installs_the_wheel_and_runs_it(
    version: str, dist: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    python = pythons().get(version)
    assert python, f"pyproject.toml claims Python {version}: scripts/wheelhouse found none"
    if version == CLAIMED[0]:
        bin_dir: Path = request.getfixturevalue("installed")  # made already: not twice
    else:
        bin_dir = fresh_venv(python, dist, tmp_path)
    out = run(bin_dir / "putback", "--version", cwd=tmp_path)
    assert out.stdout.strip() == f"putback, version {VERSION}"
    assert putback_tui.__version__ == VERSION
