"""``putback central dashboard``: bad input is refused in words, before anything starts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from putback_tui.cli import cli
from putback_tui.dashboard import web


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["central", "dashboard", *args], env=env or {})
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--token", "t"], "Missing option '--url'"),
        (["--url", "http://central:8700"], "Missing option '--token'"),
        (["--url", "central:8700", "--token", "t"],
         "'central:8700' is not an http:// or https:// address of a central store"),
        (["--url", "ftp://central", "--token", "t"], "is not an http:// or https:// address"),
        (["--url", "http://central:8700", "--token", "  "], "--token: is empty"),
        (["--url", "http://central:8700", "--token", "t", "--refresh", "0"],
         "Invalid value for '--refresh'"),
        (["--url", "http://central:8700", "--token", "t", "--web", "--port", "0"],
         "Invalid value for '--port'"),
    ],
)
def test_bad_input_is_refused_in_words(args: list[str], says: str) -> None:
    code, output = run(*args)
    assert code == 2
    assert says in output
    assert "Traceback" not in output


def test_the_url_and_token_come_from_the_environment_too() -> None:
    code, output = run(env={"PUTBACK_DASHBOARD_URL": "nowhere", "PUTBACK_DASHBOARD_TOKEN": "t"})
    assert code == 2
    assert "'nowhere' is not an http:// or https:// address" in output


def test_the_browser_command_carries_no_token() -> None:
    command = web.command("http://central:8700", 2.0)
    assert "-m putback_tui.dashboard --url http://central:8700 --refresh 2" in command
    assert "token" not in command


def test_help_lists_the_dashboard_under_central() -> None:
    result = CliRunner().invoke(cli, ["central", "--help"])
    assert result.exit_code == 0
    assert "dashboard" in result.output
