"""Configuration: where files live, validation with the setting named, token never shown."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from putback_tui.config import (
    ConfigError,
    Settings,
    SyncSettings,
    load_settings,
    resolve_paths,
    save_settings,
    settings_to_toml,
)


def test_home_puts_everything_under_one_directory(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path / "t1")
    assert paths.config_file == tmp_path / "t1" / "config.toml"
    assert paths.db_path == tmp_path / "t1" / "data" / "putback.sqlite3"


def test_env_home_is_used_when_no_flag(isolated_home: Path) -> None:
    assert resolve_paths().config_file == isolated_home / "config.toml"


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "none.toml") == Settings()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[terminal\n", "not valid TOML"),
        ("[terminal]\nnmae = 'x'\n", "terminal.nmae: Extra inputs are not permitted"),
        ("[roles]\noperator = ['fly']\n", "roles.operator.0"),
        ("[codes]\norder = '('\n", "codes"),
        ("[reasons]\ncancel_line = ['oops']\n", "'oops' is not a reason code"),
        ("[reasons]\nreduce_line = []\n", "reduce_line: list 1 to 9 reasons, not 0"),
        ("[reasons]\ncancel_line = ['A', 'A']\n", "cancel_line: a reason code is listed twice"),
        ("[[reasons.reject]]\ncode = 'SHORT'\neffect = 'lost'\n", "reasons.reject.0.effect"),
    ],
    ids=["bad-toml", "typo", "unknown-permission", "bad-regex", "bad-reason-code",
         "no-reasons", "reason-twice", "unknown-effect"],
)
def test_invalid_settings_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_settings(path)


def test_saved_config_is_owner_only_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    settings = Settings(sync=SyncSettings(url="http://127.0.0.1:8700", token="s3cret"))  # type: ignore[arg-type]
    save_settings(path, settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_settings(path) == settings
    shown = settings_to_toml(settings)
    assert "s3cret" not in shown
    assert "********" in shown


def test_a_written_file_takes_appended_scanner_tables(tmp_path: Path) -> None:
    """docs/scanners.md says to append [[scanners]] tables to that file."""
    path = tmp_path / "config.toml"
    save_settings(path, Settings())
    with path.open("a") as f:
        f.write('\n[[scanners]]\nname = "left"\ndevice = "05e0:1200"\n')
    assert [s.label for s in load_settings(path).scanners] == ["left"]
