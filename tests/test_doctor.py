"""putback doctor: every check once passing and once failing, with the fix it gives."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from putback_tui import doctor
from putback_tui.central.server import BackgroundServer, free_port
from putback_tui.cli import cli
from putback_tui.config import Paths, Settings, SyncSettings, resolve_paths, save_settings
from putback_tui.doctor import Check, Probes, Status
from putback_tui.ledger import Ledger
from putback_tui.ledger import sync as book
from putback_tui.ledger.schema import migrations
from putback_tui.scanners.discovery import list_input_devices
from putback_tui.scanners.events import RawEvent
from putback_tui.scanners.settings import ScannerSettings
from putback_tui.station import Station
from tests.central_support import Central
from tests.scanners.conftest import input_tree
from tests.scanners.scanner_helpers import SYMBOL_BY_ID, SYMBOL_NAME, InputTree
from tests.unavailable import unavailable

__all__ = ["input_tree"]  # the scanners' fixture: a /dev/input and sysfs of our own


def by_name(results: Sequence[Check]) -> dict[str, Check]:
    return {r.name: r for r in results}


def probes(**changes: object) -> Probes:
    """Probes that touch nothing of this machine unless a test says so."""
    base = Probes(
        list_devices=lambda: [],
        open_device=_no_open,
        disk_usage=lambda _p: (100_000_000_000, 0, 50_000_000_000),
        environ={"TERM": "linux"},
        terminal_size=lambda: os.terminal_size((128, 48)),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _no_open(path: str, grab: bool) -> FakeDevice:
    raise AssertionError("no device should be opened")


class FakeDevice:
    def __init__(self) -> None:
        self.closed = False

    def read_events(self, timeout: float) -> Sequence[RawEvent]:
        return []

    def close(self) -> None:
        self.closed = True


def configure(paths: Paths, **sync: object) -> None:
    save_settings(paths.config_file, Settings(sync=SyncSettings(**sync)))  # type: ignore[arg-type]


# -- configuration -----------------------------------------------------------------------------


def test_config_valid(demo_ledger: Ledger) -> None:
    check, settings = doctor.check_config(resolve_paths())
    assert check.status is Status.OK
    assert settings is not None
    assert "terminal PACK-01 at STORE-01" in check.detail


def test_config_counts_its_scanners_in_words(isolated_home: Path) -> None:
    paths = resolve_paths()
    for n, said in ((1, "1 scanner,"), (2, "2 scanners,")):
        scanners = [ScannerSettings(name=f"s{i}", device=f"/dev/input/event{i}") for i in range(n)]
        save_settings(paths.config_file, Settings(scanners=scanners))
        check, _ = doctor.check_config(paths)
        assert said in check.detail, check.detail


def test_the_verdict_counts_warnings_in_words() -> None:
    one = [Check("a", Status.WARN, "x"), Check("b", Status.OK, "y")]
    assert "0 failed, 1 warning, 1 OK, 0 skipped." in doctor.render_text(one)
    assert "0 failed, 0 warnings, 1 OK" in doctor.render_text(one[1:])


def test_config_missing_is_a_warning_with_the_command_to_write_it(isolated_home: Path) -> None:
    check, settings = doctor.check_config(resolve_paths())
    assert check.status is Status.WARN
    assert settings == Settings()
    assert "putback init" in (check.fix or "")


def test_config_invalid_names_the_setting_and_skips_what_depends_on_it(
    isolated_home: Path,
) -> None:
    paths = resolve_paths()
    paths.config_file.parent.mkdir(parents=True)
    paths.config_file.write_text('[scan]\ndouble_read_ms = "soon"\n')
    results = doctor.run_checks(paths, probes())
    found = by_name(results)
    assert found["configuration"].status is Status.FAIL
    assert "scan.double_read_ms" in found["configuration"].detail
    assert "putback config reference" in (found["configuration"].fix or "")
    assert found["central store"].status is Status.SKIP
    assert doctor.exit_code(results) == 1


def test_config_with_a_token_others_can_read_fails_with_chmod(isolated_home: Path) -> None:
    paths = resolve_paths()
    configure(paths, url="http://central:8700", token=SecretStr("pbk_secret"))
    assert doctor.check_config(paths)[0].status is Status.OK  # save_settings writes 0600
    paths.config_file.chmod(0o644)
    check, _ = doctor.check_config(paths)
    assert check.status is Status.FAIL
    assert check.fix == f"chmod 600 {paths.config_file}"
    assert "pbk_secret" not in check.detail


# -- database ----------------------------------------------------------------------------------


def test_database_opens(demo_ledger: Ledger) -> None:
    check, ledger = doctor.open_database(resolve_paths(), os.geteuid())
    assert check.status is Status.OK
    assert ledger is not None
    ledger.close()


def test_database_missing_says_init_or_restore(isolated_home: Path) -> None:
    check, ledger = doctor.open_database(resolve_paths(), os.geteuid())
    assert (check.status, ledger) == (Status.FAIL, None)
    assert "putback init" in (check.fix or "")
    assert "putback restore" in (check.fix or "")


def test_database_that_is_not_a_ledger_fails_and_is_left_alone(isolated_home: Path) -> None:
    db = resolve_paths().db_path
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE other (x)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    check, _ = doctor.open_database(resolve_paths(), os.geteuid())
    assert check.status is Status.FAIL
    assert "not a putback ledger" in check.detail
    assert db.read_bytes() == before


def test_database_of_another_user_is_not_opened_as_root(demo_ledger: Ledger) -> None:
    if os.geteuid() != 0:
        unavailable("root", "needs root to give the file to another user")
    db = resolve_paths().db_path
    os.chown(db, 4321, 4321)
    check, ledger = doctor.open_database(resolve_paths(), 0)
    assert (check.status, ledger) == (Status.SKIP, None)
    assert "sudo -u 4321" in (check.fix or "")


def test_schema_current(demo_ledger: Ledger) -> None:
    check = doctor.check_schema(demo_ledger)
    assert check.status is Status.OK
    # The newest migration this version knows, whichever it is (sqlite-utils keeps them private).
    newest = migrations._migrations[-1].name
    assert check.detail == f"version {len(migrations._migrations)} ({newest})."


def test_schema_from_a_newer_putback_fails(demo_ledger: Ledger) -> None:
    with demo_ledger.write() as tx:
        tx.conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
            "VALUES ('putback-ledger', 'm099_future', '2030-01-01')"
        )
    check = doctor.check_schema(demo_ledger)
    assert check.status is Status.FAIL
    assert "m099_future" in check.detail


def test_integrity_sound(demo_ledger: Ledger) -> None:
    assert doctor.check_integrity(demo_ledger).status is Status.OK


def test_integrity_of_a_damaged_index_fails_with_restore(demo_ledger: Ledger) -> None:
    db = demo_ledger.path
    with demo_ledger.read() as tx:
        (root,) = tx.conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'orders_by_status'"
        ).fetchone()
        (page_size,) = tx.conn.execute("PRAGMA page_size").fetchone()
    demo_ledger.close()
    # Replace the index's only page with an empty leaf: a valid page, but the rows are gone.
    with db.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes([0x0A, 0, 0, 0, 0, 0x10, 0, 0]) + bytes(page_size - 8))
    ledger = Ledger(db, create=False)
    try:
        check = doctor.check_integrity(ledger)
    finally:
        ledger.close()
    assert check.status is Status.FAIL
    assert "missing from index orders_by_status" in check.detail
    assert "putback restore" in (check.fix or "")


def test_stock_equals_its_rebuild(station: Station, demo_ledger: Ledger) -> None:
    station.open_order("D-1002")
    station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01")
    assert doctor.check_stock(demo_ledger).status is Status.OK


def test_stock_that_drifted_from_the_ledger_fails(demo_ledger: Ledger) -> None:
    with demo_ledger.write() as tx:
        tx.conn.execute(
            "UPDATE stock_qoh SET qoh = qoh + 5 WHERE sku = 'MUG-WHT' AND location = 'A-01-02'"
        )
    check = doctor.check_stock(demo_ledger)
    assert check.status is Status.FAIL
    assert "MUG-WHT@A-01-02: 10, rebuilt 5" in check.detail
    assert check.detail.startswith("1 stock figure differs from the rebuild from the ledger")
    assert "putback backup" in (check.fix or "")


def test_sync_queue_empty(demo_ledger: Ledger) -> None:
    check = doctor.check_sync_queue(demo_ledger, SyncSettings(), datetime.now(UTC))
    assert check.status is Status.OK
    assert check.detail.startswith("0 waiting, 0 refused")


def test_sync_queue_waiting_long_with_a_central_store_warns(
    station: Station, demo_ledger: Ledger
) -> None:
    station.open_order("D-1001")
    connected = SyncSettings(url="http://central:8700", token=SecretStr("t"))
    check = doctor.check_sync_queue(demo_ledger, connected, datetime.now(UTC))
    assert check.status is Status.WARN
    assert "1 waiting" in check.detail
    assert "never synced" in check.detail
    assert "putback-sync" in (check.fix or "")


def test_sync_queue_lists_refused_entries_with_their_reasons(
    station: Station, demo_ledger: Ledger
) -> None:
    station.open_order("D-1001")
    entry = demo_ledger.entries()[-1]
    with demo_ledger.write() as tx:
        book.record_answers(
            tx, [book.Answer(entry.seq, entry.entry_id, True, "would exceed what was picked")]
        )
    check = doctor.check_sync_queue(demo_ledger, SyncSettings(), datetime.now(UTC))
    assert check.status is Status.WARN
    assert "1 refused" in check.detail
    assert "D-1001: would exceed what was picked" in check.detail


def test_disk_with_room(isolated_home: Path) -> None:
    check = doctor.check_disk(resolve_paths(), lambda _p: (10**11, 0, 5 * 10**10))
    assert check.status is Status.OK


def test_disk_nearly_full_fails(isolated_home: Path) -> None:
    check = doctor.check_disk(resolve_paths(), lambda _p: (10**11, 0, 50_000_000))
    assert check.status is Status.FAIL
    assert "0.05 GB free" in check.detail
    assert "journalctl --vacuum-size" in (check.fix or "")


# -- central store (a real server on loopback) -------------------------------------------------


def central_checks(paths: Paths, **changes: object) -> dict[str, Check]:
    return by_name(doctor.run_checks(paths, probes(**changes)))


def test_central_not_configured_is_a_warning(demo_ledger: Ledger) -> None:
    found = central_checks(resolve_paths())
    assert found["central store"].status is Status.WARN
    assert "putback connect" in (found["central store"].fix or "")


def test_central_reachable_token_accepted_clock_and_sequence_fine(
    demo_ledger: Ledger, server: BackgroundServer, central: Central
) -> None:
    paths = resolve_paths()
    configure(paths, url=server.url, token=SecretStr(central.tokens["PACK-01"]))
    found = central_checks(paths)
    for name in ("central store", "token", "clock", "sequence"):
        assert found[name].status is Status.OK, found[name]
    assert "terminal PACK-01 at STORE-01" in found["token"].detail


def test_central_unreachable_fails_and_skips_the_rest(demo_ledger: Ledger) -> None:
    paths = resolve_paths()
    url = f"http://127.0.0.1:{free_port()}"
    configure(paths, url=url, token=SecretStr("pbk_x"))
    found = central_checks(paths)
    assert found["central store"].status is Status.FAIL
    assert "unreachable" in found["central store"].detail
    assert f"curl -sS {url}/openapi.json" in (found["central store"].fix or "")
    assert (found["token"].status, found["clock"].status) == (Status.SKIP, Status.SKIP)


def test_central_refuses_an_unknown_token(
    demo_ledger: Ledger, server: BackgroundServer, central: Central
) -> None:
    paths = resolve_paths()
    configure(paths, url=server.url, token=SecretStr("pbk_not_a_token"))
    found = central_checks(paths)
    assert found["central store"].status is Status.OK
    assert found["token"].status is Status.FAIL
    assert "401" in found["token"].detail
    assert "putback central add-terminal --facility STORE-01 PACK-01" in (found["token"].fix or "")


def test_central_token_of_another_terminal_fails(
    demo_ledger: Ledger, server: BackgroundServer, central: Central
) -> None:
    paths = resolve_paths()
    configure(paths, url=server.url, token=SecretStr(central.tokens["PACK-02"]))
    found = central_checks(paths)
    assert found["token"].status is Status.FAIL
    assert "belongs to terminal PACK-02" in found["token"].detail


@pytest.mark.parametrize(("offset_s", "status"), [(30, Status.WARN), (-600, Status.FAIL)])
def test_central_clock_skew(
    demo_ledger: Ledger,
    server: BackgroundServer,
    central: Central,
    offset_s: int,
    status: Status,
) -> None:
    paths = resolve_paths()
    configure(paths, url=server.url, token=SecretStr(central.tokens["PACK-01"]))
    found = central_checks(
        paths, clock=lambda: datetime.now(UTC) + timedelta(seconds=offset_s)
    )
    clock = found["clock"]
    assert clock.status is status
    assert ("ahead of" if offset_s > 0 else "behind") in clock.detail
    assert "timedatectl set-ntp true" in (clock.fix or "")


# -- scanners ----------------------------------------------------------------------------------


def scanner_probes(input_tree: InputTree, **changes: object) -> Probes:
    return probes(
        list_devices=lambda: list_input_devices(input_tree.dev, input_tree.sys), **changes
    )


LEFT = ScannerSettings(device=SYMBOL_BY_ID, name="left")


def test_no_scanners_configured() -> None:
    (check,) = doctor.check_scanners([], probes())
    assert check.status is Status.OK


def test_scanner_present_readable_and_free(input_tree: InputTree) -> None:
    input_tree.plug(5, SYMBOL_NAME, 0x05E0, 0x1200, by_id=SYMBOL_BY_ID)
    opened: list[tuple[str, bool]] = []
    devices: list[FakeDevice] = []

    def open_device(path: str, grab: bool) -> FakeDevice:
        opened.append((path, grab))
        devices.append(FakeDevice())
        return devices[-1]

    (check,) = doctor.check_scanners([LEFT], scanner_probes(input_tree, open_device=open_device))
    assert check.status is Status.OK, check
    assert check.name == "scanner left"
    assert opened == [(str(input_tree.dev / "event5"), True)]
    assert devices[0].closed  # released at once


def test_scanner_not_plugged_in(input_tree: InputTree) -> None:
    (check,) = doctor.check_scanners([LEFT], scanner_probes(input_tree))
    assert check.status is Status.FAIL
    assert "putback scanners list" in (check.fix or "")


def test_scanner_without_dev_input(tmp_path: Path) -> None:
    (check,) = doctor.check_scanners(
        [LEFT],
        probes(list_devices=lambda: list_input_devices(tmp_path / "none", tmp_path / "sys")),
    )
    assert check.status is Status.FAIL
    assert "does not exist" in check.detail


def test_scanner_without_permission_gives_the_udev_fix(input_tree: InputTree) -> None:
    input_tree.plug(5, SYMBOL_NAME, 0x05E0, 0x1200, by_id=SYMBOL_BY_ID)

    def denied(path: str, grab: bool) -> FakeDevice:
        raise PermissionError(errno.EACCES, "Permission denied", path)

    (check,) = doctor.check_scanners([LEFT], scanner_probes(input_tree, open_device=denied))
    assert check.status is Status.FAIL
    assert "may not read it" in check.detail
    assert "70-putback-scanner.rules" in (check.fix or "")


def fake_process(proc: Path, pid: int, device: str, *argv: str) -> None:
    (proc / str(pid) / "fd").mkdir(parents=True)
    (proc / str(pid) / "fd" / "7").symlink_to(device)
    (proc / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")


def busy(path: str, grab: bool) -> FakeDevice:
    raise OSError(errno.EBUSY, "Device or resource busy")


def test_scanner_grabbed_by_another_program_names_it(
    input_tree: InputTree, tmp_path: Path
) -> None:
    node = input_tree.plug(5, SYMBOL_NAME, 0x05E0, 0x1200, by_id=SYMBOL_BY_ID)
    proc = tmp_path / "proc"
    fake_process(proc, 4242, node, "evtest", "--grab", node)
    fake_process(proc, 4243, str(tmp_path / "elsewhere"), "bash")
    (check,) = doctor.check_scanners(
        [LEFT], scanner_probes(input_tree, open_device=busy, proc_dir=proc)
    )
    assert check.status is Status.FAIL
    assert f"pid 4242 (evtest --grab {node})" in check.detail
    assert "bash" not in check.detail
    assert f"fuser -v {node}" in (check.fix or "")


def test_scanner_held_by_the_running_app_is_fine(input_tree: InputTree, tmp_path: Path) -> None:
    node = input_tree.plug(5, SYMBOL_NAME, 0x05E0, 0x1200, by_id=SYMBOL_BY_ID)
    proc = tmp_path / "proc"
    fake_process(proc, 812, node, "/opt/putback/venv/bin/python", "/opt/putback/venv/bin/putback")
    (check,) = doctor.check_scanners(
        [LEFT], scanner_probes(input_tree, open_device=busy, proc_dir=proc)
    )
    assert check.status is Status.OK
    assert "in use by putback (pid 812" in check.detail


# -- terminal ----------------------------------------------------------------------------------


def test_terminal_console_big_enough() -> None:
    check = doctor.check_terminal({"TERM": "linux"}, os.terminal_size((128, 48)))
    assert check.status is Status.OK
    assert check.detail == "128x48, TERM=linux, 16 colours (Linux console)."


def test_terminal_too_small_fails() -> None:
    check = doctor.check_terminal({"TERM": "xterm-256color"}, os.terminal_size((70, 20)))
    assert check.status is Status.FAIL
    assert "at least 80x24" in check.detail


def test_terminal_smaller_than_designed_warns() -> None:
    check = doctor.check_terminal({"TERM": "linux"}, os.terminal_size((80, 25)))
    assert check.status is Status.WARN


def test_terminal_dumb_fails() -> None:
    check = doctor.check_terminal({"TERM": "dumb"}, os.terminal_size((128, 48)))
    assert check.status is Status.FAIL
    assert "TERM" in (check.fix or "")


def test_terminal_no_color_warns() -> None:
    env = {"TERM": "xterm-256color", "COLORTERM": "truecolor", "NO_COLOR": "1"}
    check = doctor.check_terminal(env, os.terminal_size((120, 40)))
    assert check.status is Status.WARN
    assert "true colour" in check.detail


def test_terminal_not_a_tty_is_skipped() -> None:
    assert doctor.check_terminal({"TERM": "linux"}, None).status is Status.SKIP


# -- the command -------------------------------------------------------------------------------


def test_cli_json_fails_without_a_database(isolated_home: Path) -> None:
    result = CliRunner().invoke(cli, ["doctor", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["ok"] is False
    assert {"name": "database", "status": "fail"}.items() <= next(
        c for c in data["checks"] if c["name"] == "database"
    ).items()


def test_cli_text_passes_on_a_fresh_demo_terminal(isolated_home: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--demo"]).exit_code == 0
    result = runner.invoke(cli, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "OK    integrity" in result.output
    assert "Nothing is wrong: 0 failed" in result.output
