"""Set-up mistakes are named, never a traceback, a hang or a silent success; exit codes agree.

Issue #14 points 5 and 6, through the real command line: errors on stderr, 1 for a failure,
2 for a usage error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from putback_tui.cli import cli
from putback_tui.config import resolve_paths
from putback_tui.ledger import Ledger


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def configure(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text)


def assert_failed(result: Result, message: str, code: int = 1) -> None:
    """Exit ``code``, the message on stderr, nothing on stdout, no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    assert message in result.stderr


# -- 5. configuration that must not crash or hang ------------------------------------------------


def test_a_deeply_nested_toml_array_is_a_configuration_error(isolated_home: Path) -> None:
    configure(isolated_home, "x = " + "[" * 3000 + "]" * 3000 + "\n")
    assert_failed(run("config", "show"), "nested too deeply")


@pytest.mark.timeout(60)  # only a guard: a backtracking matcher would not finish for hours
def test_a_catastrophic_site_pattern_cannot_hang_a_scan(isolated_home: Path) -> None:
    configure(isolated_home, '[codes]\norder = "^(D+)+-\\\\d$"\n')
    result = run("barcode", "D" * 32, "DD-1")
    assert result.exit_code == 1  # the 32 D's are not an order; DD-1 is
    assert "DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD: invalid" in result.stdout
    assert "DD-1: order" in result.stdout


def test_a_pattern_with_a_look_around_is_refused_when_loaded(isolated_home: Path) -> None:
    configure(isolated_home, '[codes]\nbadge = "^(?=OP)OP-\\\\d{4}$"\n')
    assert_failed(run("config", "show"), "codes.badge")
    assert "RE2" in run("config", "show").stderr


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://central:21", "http://"])
def test_the_central_store_is_reached_over_http_only(
    isolated_home: Path, tmp_path: Path, url: str
) -> None:
    assert_failed(run("connect", url, "--token", "pbk_x"), "http:// or https://", code=2)
    configure(isolated_home, f'[sync]\nurl = "{url}"\n')
    assert_failed(run("config", "show"), "sync.url")


# -- 6. set-up mistakes that passed silently -----------------------------------------------------


def test_a_named_configuration_file_must_exist(isolated_home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent.toml"
    assert_failed(run("--config", str(missing), "config", "show"), f"{missing}: no such file")
    assert_failed(run("config", "show", "--config", str(missing)), f"{missing}: no such file")


def test_init_refuses_a_data_set_with_nothing_for_the_facility(isolated_home: Path) -> None:
    configure(isolated_home, '[terminal]\nfacility = "STORE-99"\n')
    result = run("init", "--demo")
    assert_failed(result, "has no orders, stock or ATP for facility STORE-99 (it has: STORE-01)")
    ledger = Ledger(resolve_paths().db_path, create=False)
    try:
        with ledger.read() as tx:
            assert tx.product("MUG-WHT") is None
    finally:
        ledger.close()


def test_doctor_fails_a_ledger_set_up_for_another_facility(isolated_home: Path) -> None:
    assert run("init", "--demo").exit_code == 0
    configure(isolated_home, '[terminal]\nid = "PACK-01"\nfacility = "STORE-99"\n')
    result = run("doctor", "--json")
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["facility"]["status"] == "fail"
    assert "set up for STORE-01" in checks["facility"]["detail"]


def test_home_is_accepted_after_the_command_too(tmp_path: Path) -> None:
    home = tmp_path / "elsewhere"
    assert run("init", "--demo", "--home", str(home)).exit_code == 0
    result = run("stock", "--home", str(home), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["facility"] == "STORE-01"
    assert run("scanners", "list", "--home", str(home)).exit_code == 0


def test_no_database_is_the_same_failure_for_the_app_and_every_command(
    isolated_home: Path,
) -> None:
    for args in ([], ["stock"], ["ledger"], ["sync", "--once"]):
        result = run(*args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stdout == "", args
        assert "No local database" in result.stderr, args


def test_a_failed_sync_round_is_reported_on_stderr(isolated_home: Path) -> None:
    assert run("init", "--demo").exit_code == 0
    configure(
        isolated_home,
        '[terminal]\nid = "PACK-01"\nfacility = "STORE-01"\n'
        '[sync]\nurl = "http://127.0.0.1:9"\ntoken = "pbk_x"\n',
    )
    assert_failed(run("sync", "--once"), "Error: offline")


def test_a_usage_mistake_exits_2(isolated_home: Path) -> None:
    assert_failed(run("init"), "Give exactly one of --demo or --data DIR.", code=2)
    assert_failed(run("report", "--json", "--csv"), "Give at most one of", code=2)
