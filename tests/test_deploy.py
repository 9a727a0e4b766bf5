"""Kiosk deployment files: the units have what the kiosk needs, systemd accepts them, and the
installer's --dry-run says what it would do. The installer itself is only ever run with --dry-run
here: without it, as root, it really installs.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

from putback_tui.packaged import DEPLOY_DIR
from putback_tui.scanners.source import SCANNER_GROUP
from tests.unavailable import unavailable

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = DEPLOY_DIR
INSTALLER = ROOT / "scripts" / "install-terminal"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text())
    return parser


def dry_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(INSTALLER), "--dry-run", *args], capture_output=True, text=True, timeout=60
    )


def test_kiosk_unit_runs_the_app_on_the_console_as_putback_and_restarts_it() -> None:
    kiosk = unit("putback-kiosk@.service")
    service = kiosk["Service"]
    assert service["User"] == service["Group"] == SCANNER_GROUP == "putback"
    assert service["ExecStart"] == "/opt/putback/bin/putback-kiosk"
    assert service["TTYPath"] == "/dev/%I"
    assert service["StandardInput"].startswith("tty")
    assert service["StandardOutput"] == service["StandardError"] == "tty"  # Textual draws on stderr
    assert service["Restart"] == "always"
    assert "PUTBACK_HOME=/var/lib/putback" in service["Environment"]
    assert kiosk["Unit"]["Conflicts"] == "getty@%i.service"
    assert kiosk["Unit"]["StartLimitIntervalSec"] == "0"
    assert kiosk["Unit"]["Wants"] == "putback-sync.service"
    assert kiosk["Install"]["DefaultInstance"] == "tty1"


def test_sync_unit_runs_without_the_app_and_stops_cleanly() -> None:
    sync = unit("putback-sync.service")
    service = sync["Service"]
    assert service["User"] == "putback"
    assert service["ExecStart"] == "/opt/putback/venv/bin/putback sync"
    assert service["KillSignal"] == "SIGINT"  # `putback sync` ends its round on an interrupt
    assert service["Restart"] == "always"
    assert "PUTBACK_HOME=/var/lib/putback" in service["Environment"]
    assert service["ReadWritePaths"] == "/var/lib/putback"
    assert sync["Install"]["WantedBy"] == "multi-user.target"


def test_udev_rule_gives_scanners_to_the_group_the_installer_creates() -> None:
    rule = (DEPLOY / "70-putback-scanner.rules").read_text()
    assert f'GROUP="{SCANNER_GROUP}"' in rule


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    """systemd-analyze verify works without a running systemd; it wants the executables to
    exist, so they point at /bin/true in the copies.
    """
    if shutil.which("systemd-analyze") is None:
        unavailable("systemd-analyze", "systemd-analyze is not installed (apt-get install systemd)")
    copies = []
    for source, name in (
        ("putback-sync.service", "putback-sync.service"),
        ("putback-kiosk@.service", "putback-kiosk@tty1.service"),
    ):
        text = (DEPLOY / source).read_text()
        for exe in ("/opt/putback/venv/bin/putback", "/opt/putback/bin/putback-kiosk"):
            text = text.replace(exe, "/bin/true")
        (tmp_path / name).write_text(text)
        copies.append(str(tmp_path / name))
    out = subprocess.run(
        ["systemd-analyze", "verify", *copies], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert (out.stdout + out.stderr).strip() == ""  # an unknown key is only a warning


def test_installer_dry_run_lists_every_step() -> None:
    out = dry_run()
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    commands = [line[2:] for line in lines if line.startswith("+ ")]
    user_exists = "user putback exists" in lines
    assert user_exists or any(c.startswith("useradd --system --gid putback") for c in commands)
    assert any(c.startswith("apt-get") or "apt-get install" in c for c in commands)
    assert "/usr/bin/python3 -m venv /opt/putback/venv" in commands
    assert any(f"-c {ROOT}/constraints.txt {ROOT}\\[scanners\\]" in c for c in commands)
    assert (
        f"install -D -m 0644 {DEPLOY}/70-putback-scanner.rules "
        "/etc/udev/rules.d/70-putback-scanner.rules"
    ) in commands
    assert "systemctl enable putback-sync.service" in commands
    assert "systemctl mask getty@tty1.service autovt@tty1.service" in commands
    assert "systemctl enable putback-kiosk@tty1.service" in commands
    assert "runuser -u putback -- /opt/putback/venv/bin/putback --version" in commands


def test_installer_dry_run_other_console_and_no_kiosk() -> None:
    assert "systemctl enable putback-kiosk@tty3.service" in dry_run("--tty", "tty3").stdout
    no_kiosk = dry_run("--no-kiosk").stdout
    assert "putback-kiosk@" not in no_kiosk.replace("putback-kiosk@.service", "")
    assert "systemctl enable putback-sync.service" in no_kiosk


def test_installer_refuses_bad_options() -> None:
    assert dry_run("--tty", "console").returncode == 2
    assert dry_run("--frobnicate").returncode == 2
    assert dry_run("--wheel", "putback.tar.gz").returncode == 2


def test_installer_dry_run_installs_a_wheel_with_its_scanners_extra(tmp_path: Path) -> None:
    wheel = tmp_path / "putback-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    out = dry_run("--wheel", str(wheel))
    assert out.returncode == 0, out.stderr
    commands = [line[2:] for line in out.stdout.splitlines() if line.startswith("+ ")]
    assert any(c.endswith(f"-c {ROOT}/constraints.txt {wheel}\\[scanners\\]") for c in commands)
    assert any(c.endswith(f"--no-deps --force-reinstall {wheel}") for c in commands)


def test_kiosk_app_leaves_syncing_to_the_service() -> None:
    """Two workers on one ledger would send everything twice: the kiosk app only monitors."""
    wrapper = (DEPLOY / "putback-kiosk").read_text()
    assert '"$PUTBACK" app --no-sync' in wrapper
