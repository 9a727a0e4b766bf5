"""``putback connect`` and ``putback sync --once`` end to end against a real server."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from putback_tui.central.server import BackgroundServer
from putback_tui.central.storage import PostgresEngine
from putback_tui.cli import cli
from putback_tui.config import load_settings
from putback_tui.sync.client import CentralRefused, SyncClient
from tests.central_support import Central


def test_connect_checks_the_token_then_writes_an_owner_only_config(
    server: BackgroundServer, central: Central, tmp_path: Path
) -> None:
    home = tmp_path / "term"
    runner = CliRunner()
    assert runner.invoke(cli, ["--home", str(home), "init", "--demo"]).exit_code == 0
    before = (home / "config.toml").read_bytes()
    bad = runner.invoke(cli, ["--home", str(home), "connect", server.url, "--token", "pbk_x"])
    assert bad.exit_code == 1
    assert "401" in bad.output
    other = runner.invoke(
        cli, ["--home", str(home), "connect", server.url, "--token", central.tokens["PACK-02"]]
    )
    assert other.exit_code == 1
    assert "PACK-02" in other.output
    assert (home / "config.toml").read_bytes() == before
    good = runner.invoke(
        cli, ["--home", str(home), "connect", server.url, "--token", central.tokens["PACK-01"]]
    )
    assert good.exit_code == 0, good.output
    config = home / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    settings = load_settings(config)
    assert settings.sync.url == server.url
    assert settings.sync.token is not None
    assert settings.sync.token.get_secret_value() == central.tokens["PACK-01"]
    once = runner.invoke(cli, ["--home", str(home), "sync", "--once"])
    assert once.exit_code == 0, once.output
    assert once.output.startswith("online, 0 waiting, 0 refused")
    server.stop()
    down = runner.invoke(cli, ["--home", str(home), "sync", "--once"])
    assert down.exit_code == 1
    assert down.stdout == ""
    assert down.stderr.startswith("Error: offline")


def test_add_terminal_replace_issues_a_new_token_and_the_old_one_stops_working(
    server: BackgroundServer, central: Central
) -> None:
    engine = central.store.engine
    db = engine.url if isinstance(engine, PostgresEngine) else str(engine.path)
    args = ["central", "add-terminal", "--db", db, "--facility", "STORE-01", "PACK-01"]
    taken = CliRunner().invoke(cli, args)
    assert taken.exit_code == 1
    assert "--replace" in taken.output
    result = CliRunner().invoke(cli, [*args[:-1], "--replace", "PACK-01"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("pbk_")
    with SyncClient(server.url, central.tokens["PACK-01"]) as old:
        with pytest.raises(CentralRefused) as refused:
            old.whoami()
        assert refused.value.status == 401
    with SyncClient(server.url, token) as new:
        assert new.whoami().name == "PACK-01"
