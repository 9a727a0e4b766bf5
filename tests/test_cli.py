"""The command line: init, stock and ledger, with their documented JSON shapes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from putback_tui.cli import cli


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_help_lists_the_commands() -> None:
    code, out = _run("--help")
    assert code == 0
    for command in ("init", "stock", "ledger"):
        assert command in out


def test_init_demo_then_stock_json_has_the_demo_figures(isolated_home: Path) -> None:
    code, out = _run("init", "--demo")
    assert code == 0, out
    assert (
        "6 products, 8 locations, 2 operators, 8 orders, 6 stock rows, 6 ATP rows, "
        "2 released orders"
    ) in out
    code, out = _run("stock", "--json")
    data = json.loads(out)
    assert data["facility"] == "STORE-01"
    assert {"sku": "TSHIRT-BLK-M", "location": "A-01-01", "qoh": 10} in data["qoh"]
    # Loading counts as learning of the exceptions: D-1001 (2 T-shirts, 1 mug) and D-1003's
    # unpicked mug and cap are released at load; docs/operator-guide.md's table shows these.
    assert {"sku": "TSHIRT-BLK-M", "atp": 8} in data["atp"]
    assert {"sku": "MUG-WHT", "atp": 5} in data["atp"]
    assert {"sku": "CAP-RED", "atp": 3} in data["atp"]
    assert (isolated_home / "config.toml").exists()


def test_stock_for_one_sku_as_text(isolated_home: Path) -> None:
    _run("init", "--demo")
    code, out = _run("stock", "--sku", "CAP-RED")
    assert code == 0
    assert "CAP-RED              A-02-02           3" in out
    assert "TSHIRT" not in out


def test_init_twice_after_work_refuses_to_reload_stock(isolated_home: Path) -> None:
    from putback_tui.config import Settings, resolve_paths
    from putback_tui.ledger import Ledger
    from putback_tui.station import Station

    _run("init", "--demo")
    ledger = Ledger(resolve_paths().db_path)
    station = Station(ledger, Settings())
    station.sign_in("OP-0001")
    station.open_order("D-1001")
    ledger.close()
    result = CliRunner().invoke(cli, ["init", "--demo"])
    assert result.exit_code == 1
    assert "already has entries" in result.output


def test_ledger_json_lists_entries_in_order(isolated_home: Path) -> None:
    from putback_tui.config import Settings, resolve_paths
    from putback_tui.ledger import Ledger
    from putback_tui.station import Station

    _run("init", "--demo")
    ledger = Ledger(resolve_paths().db_path)
    station = Station(ledger, Settings())
    station.sign_in("OP-0001")
    station.open_order("D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    ledger.close()
    _, out = _run("ledger", "--json")
    *released, entry = json.loads(out)["entries"]
    assert [(e["kind"], e["order_id"], e["operator"]) for e in released] == [
        ("release", "D-1001", "system"),
        ("release", "D-1003", "system"),
    ]
    assert entry["kind"] == "put_back"
    assert entry["seq"] == 3
    assert entry["operator"] == "OP-0001"
    assert entry["changes"] == [
        {"sku": "TSHIRT-BLK-M", "location": "A-01-01", "qoh": 1, "atp": 0},
        {"sku": "TSHIRT-BLK-M", "location": None, "qoh": 0, "atp": 1},
    ]
    code, out = _run("ledger")
    assert code == 0
    assert "put_back" in out
    assert "TSHIRT-BLK-M@A-01-01+1" in out


def test_stock_without_init_says_what_to_run(isolated_home: Path) -> None:
    result = CliRunner().invoke(cli, ["stock"])
    assert result.exit_code == 1
    assert "putback init --demo" in result.output


def test_bad_config_names_the_setting(isolated_home: Path) -> None:
    isolated_home.mkdir(parents=True)
    (isolated_home / "config.toml").write_text('[scan]\ndouble_read_ms = "soon"\n')
    result = CliRunner().invoke(cli, ["stock"])
    assert result.exit_code == 1
    assert "scan.double_read_ms" in result.output


def test_init_demo_as_of_moves_every_order_time_by_the_same_amount(isolated_home: Path) -> None:
    """scripts/demo loads the demo 'as of now': its exceptions are as old as on the day the data
    set describes (dataset.json's as_of, 2026-11-20 13:36), whatever the date.
    """
    from datetime import UTC, datetime

    from putback_tui.config import resolve_paths
    from putback_tui.ledger import Ledger

    code, out = _run("init", "--demo", "--as-of", "2027-03-01T09:00:00+00:00")
    assert code == 0, out
    ledger = Ledger(resolve_paths().db_path)
    try:
        with ledger.read() as tx:
            d1002, d1007 = tx.order("D-1002"), tx.order("D-1007")
    finally:
        ledger.close()
    assert d1002 is not None
    assert d1007 is not None
    # 09:30 and 13:10 on the data set's day: 4 h 06 and 26 min before its as_of.
    assert d1002.status_changed_at == datetime(2027, 3, 1, 4, 54, tzinfo=UTC)
    assert d1007.status_changed_at == datetime(2027, 3, 1, 8, 34, tzinfo=UTC)


def test_init_with_a_bad_as_of_says_what_it_takes_and_creates_nothing(isolated_home: Path) -> None:
    result = CliRunner().invoke(cli, ["init", "--demo", "--as-of", "yesterday"])
    assert result.exit_code == 2
    assert "--as-of: 'yesterday' is not a timestamp like 2026-11-20T08:15:00+00:00" in (
        result.output
    )
    assert not (isolated_home / "config.toml").exists()


def test_central_import_as_of_is_for_a_data_set_directory(tmp_path: Path) -> None:
    doc = tmp_path / "orders.json"
    doc.write_text('{"orders": []}')
    result = CliRunner().invoke(
        cli,
        ["central", "import", "--db", str(tmp_path / "c.sqlite3"), "--as-of", "now", str(doc)],
    )
    assert result.exit_code == 1
    assert f"{doc}: --as-of moves the times of a data-set directory only" in result.output
