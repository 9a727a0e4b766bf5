"""Replacing a terminal: restore its backup and sync (nothing applied twice), or, when the backup
is older than what the central store has, doctor says so and a new terminal ID takes over.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from click.testing import CliRunner
from pydantic import SecretStr

from putback_tui import doctor
from putback_tui.central.server import BackgroundServer
from putback_tui.cli import cli
from putback_tui.config import (
    Settings,
    SyncSettings,
    TerminalSettings,
    resolve_paths,
    save_settings,
)
from putback_tui.dataset import DEMO_DIR, Dataset
from putback_tui.ledger import Ledger
from putback_tui.ledger.load import load_dataset
from putback_tui.station import Station
from putback_tui.sync.client import BatchAnswer
from putback_tui.sync.worker import SyncWorker
from putback_tui.wire import ClientKind
from tests.central_support import Central, MakeTerminal
from tests.sync.test_worker import projections, work


def sync_once(db: Path, settings: SyncSettings) -> None:
    worker = SyncWorker(db, settings)
    try:
        state = worker.run_once()
    finally:
        worker.stop()
    assert state.last_error is None, state.last_error


def restore(backup: Path) -> Path:
    result = CliRunner().invoke(cli, ["restore", str(backup)])
    assert result.exit_code == 0, result.output
    return resolve_paths().db_path


def test_restore_then_sync_applies_nothing_twice_and_sends_nothing_again(
    server: BackgroundServer,
    central: Central,
    make_terminal: MakeTerminal,
    tmp_path: Path,
    isolated_home: Path,
) -> None:
    old = make_terminal()
    n = work(old)
    backup = tmp_path / "pack-01.sqlite3"
    assert old.ledger.backup(backup) == n  # taken before the entries were sent
    settings = old.sync_settings(server.url, central.tokens["PACK-01"], batch_size=2)
    sync_once(old.path, settings)
    applied = central.store.recorded("PACK-01")
    central_stock = central.store.stock("STORE-01")
    assert len(applied) == n
    old.ledger.close()  # the old terminal dies here

    db = restore(backup)
    pushed: list[int] = []
    worker = SyncWorker(db, settings)
    real_client = worker._open_client()
    assert real_client is not None
    real_push = real_client.push_json

    def push_json(entry_ids: Sequence[str], entries_json: Sequence[str]) -> BatchAnswer:
        pushed.extend(json.loads(e)["seq"] for e in entries_json)
        return real_push(entry_ids, entries_json)

    real_client.push_json = push_json  # type: ignore[method-assign]
    try:
        assert worker.run_once().last_error is None
    finally:
        worker.stop()
    assert pushed == []  # the answers came from the central store: nothing sent again

    assert central.store.recorded("PACK-01") == applied  # nothing recorded twice
    assert central.store.stock("STORE-01") == central_stock  # nothing applied twice
    ledger = Ledger(db, create=False)
    try:
        assert ledger.refused_entries() == []
        assert len(ledger.entries()) == n
        assert projections(ledger) == central_stock
        assert projections(ledger) == ledger.rebuild_stock()
        station = Station(ledger, Settings())
        station.sign_in("SV-0001")
        station.force_cancel("D-1005")  # the replacement carries on at seq n + 1
    finally:
        ledger.close()
    sync_once(db, settings)
    recorded = central.store.recorded("PACK-01")
    assert len(recorded) > n
    assert all(outcome == "applied" for _, outcome, _ in recorded)


def test_a_backup_older_than_the_central_store_takes_its_lost_entries_back(
    server: BackgroundServer,
    central: Central,
    make_terminal: MakeTerminal,
    tmp_path: Path,
    isolated_home: Path,
) -> None:
    old = make_terminal()
    work(old)
    backup = tmp_path / "pack-01.sqlite3"
    old.ledger.backup(backup)
    settings = old.sync_settings(server.url, central.tokens["PACK-01"])
    old.station.force_cancel("D-1005")  # after the backup, sent before the terminal died
    sync_once(old.path, settings)
    central_last = central.store.last_seq("PACK-01")
    lost = old.ledger.entries()[-1]
    old.ledger.close()

    db = restore(backup)
    paths = resolve_paths()
    save_settings(paths.config_file, Settings(sync=settings))
    found = {c.name: c for c in doctor.run_checks(paths, doctor.Probes(terminal_size=lambda: None))}
    sequence = found["sequence"]
    assert sequence.status is doctor.Status.FAIL
    assert f"up to #{central_last}" in sequence.detail
    assert "putback sync --once" in (sequence.fix or "")

    sync_once(db, settings)  # takes the lost entry back instead of reusing its number
    ledger = Ledger(db, create=False)
    try:
        entries = ledger.entries()
        assert entries[-1] == lost
        assert len(entries) == central_last
        assert projections(ledger) == central.store.stock("STORE-01")
        assert projections(ledger) == ledger.rebuild_stock()
        order = ledger.order("D-1005")
        assert order is not None
        assert order.line(1).released == 2  # the lost release is counted again
        station = Station(ledger, Settings(sync=settings))
        station.sign_in("SV-0001")
        station.open_order("D-1004")
        station.put_back("D-1004", 1, "BOTTLE-1L", "B-01-01")
    finally:
        ledger.close()
    sync_once(db, settings)
    assert all(o == "applied" for _, o, _ in central.store.recorded("PACK-01"))
    found = {c.name: c for c in doctor.run_checks(paths, doctor.Probes(terminal_size=lambda: None))}
    assert found["sequence"].status is doctor.Status.OK


def test_a_stale_backup_used_before_syncing_is_reported_as_diverged_and_a_new_id_takes_over(
    server: BackgroundServer,
    central: Central,
    make_terminal: MakeTerminal,
    tmp_path: Path,
    isolated_home: Path,
) -> None:
    old = make_terminal()
    work(old)
    backup = tmp_path / "pack-01.sqlite3"
    old.ledger.backup(backup)
    settings = old.sync_settings(server.url, central.tokens["PACK-01"])
    old.station.open_order("D-1003")
    sync_once(old.path, settings)
    old.ledger.close()

    db = restore(backup)
    ledger = Ledger(db, create=False)
    station = Station(ledger, Settings(sync=settings))
    station.sign_in("SV-0001")
    station.open_order("D-1004")
    station.put_back("D-1004", 1, "BOTTLE-1L", "B-01-01")  # used before syncing: reuses a number
    ledger.close()
    worker = SyncWorker(db, settings)
    try:
        state = worker.run_once()
    finally:
        worker.stop()
    assert state.last_error is not None
    assert "restored from an older backup and then used" in state.last_error
    assert len(central.store.recorded("PACK-01")) == len(Ledger(db, create=False).entries())

    # The documented way out: the replacement is enrolled as a new terminal and pulls the
    # central store's stock, which already includes every entry of the old one.
    token = central.store.add_client("PACK-03", ClientKind.TERMINAL, "STORE-01")
    db = tmp_path / "pack-03.sqlite3"
    ledger = Ledger(db)
    load_dataset(ledger, Dataset(DEMO_DIR), "STORE-01")
    new_settings = Settings(
        terminal=TerminalSettings(id="PACK-03"),
        sync=SyncSettings(url=server.url, token=SecretStr(token)),
    )
    sync_once(db, new_settings.sync)
    assert projections(ledger) == central.store.stock("STORE-01")
    station = Station(ledger, new_settings)
    station.sign_in("SV-0001")
    station.open_order("D-1004")
    station.put_back("D-1004", 1, "BOTTLE-1L", "B-01-01")
    sync_once(db, new_settings.sync)
    assert [o for _, o, _ in central.store.recorded("PACK-03")] == ["applied"]
    assert projections(ledger) == central.store.stock("STORE-01")
    ledger.close()
