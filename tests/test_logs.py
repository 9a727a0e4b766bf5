"""The log file: one JSON line per action, rotated, never a token."""

from __future__ import annotations

import json
import logging
import logging.handlers
from pathlib import Path

from click.testing import CliRunner

from putback_tui import logs
from putback_tui.cli import cli
from putback_tui.config import Settings, resolve_paths
from putback_tui.ledger import Ledger
from putback_tui.station import Station


def test_actions_are_logged_as_json_lines_and_shown_by_putback_logs(isolated_home: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--demo"]).exit_code == 0
    paths = resolve_paths()
    ledger = Ledger(paths.db_path)
    station = Station(ledger, Settings())
    station.sign_in("OP-0001")
    station.open_order("D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    ledger.close()
    result = runner.invoke(cli, ["logs", "-n", "5"])
    records = [json.loads(line) for line in result.output.splitlines()]
    last = records[-1]
    assert last["msg"] == "entry put_back"
    assert last["order_id"] == "D-1002"
    assert last["level"] == "INFO"


def test_tokens_never_reach_the_log(tmp_path: Path) -> None:
    logs.configure(tmp_path, secrets=["s3cr3t-t0ken-value"])
    log = logging.getLogger("putback.test")
    log.warning("sending with token s3cr3t-t0ken-value")
    log.warning("header Authorization: Bearer abcdefghijkl", extra={"url": "token=zzzzzzzz"})
    text = (tmp_path / logs.LOG_NAME).read_text()
    assert "s3cr3t" not in text
    assert "abcdefghijkl" not in text
    assert "zzzzzzzz" not in text
    assert text.count("***") == 3


def test_no_log_yet_says_where_it_would_be(isolated_home: Path) -> None:
    result = CliRunner().invoke(cli, ["logs"])
    assert "No log yet at" in result.output


def test_the_log_writes_and_rotates_as_the_stdlib_handler_does(tmp_path: Path) -> None:
    # logs.RotatingLog formats each record once and never stats the file: the same lines, in
    # the same files, rotated at the same records as the stdlib's handler.
    handlers: list[logging.handlers.RotatingFileHandler] = []
    stdlib = logging.handlers.RotatingFileHandler
    for name, kind in (("ours", logs.RotatingLog), ("stdlib", stdlib)):
        (tmp_path / name).mkdir()
        handler = kind(tmp_path / name / logs.LOG_NAME, maxBytes=1_000, backupCount=2,
                       encoding="utf-8")
        handler.addFilter(logs.RedactingFilter(["s3cr3t"]))
        handler.setFormatter(logs.JsonFormatter())
        handlers.append(handler)
    for i in range(40):
        for handler in handlers:
            record = logging.LogRecord("putback.station", logging.INFO, __file__, 1,
                                       "entry %s é s3cr3t", ("put_back",), None)
            record.created = 1_800_000_000 + i
            record.entry_id = f"entry-{i}"  # type: ignore[attr-defined]
            handler.handle(record)
    for handler in handlers:
        handler.close()
    names = sorted(p.name for p in (tmp_path / "stdlib").iterdir())
    assert names == ["putback.log", "putback.log.1", "putback.log.2"]
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == names
    for name in names:
        assert (tmp_path / "ours" / name).read_text() == (tmp_path / "stdlib" / name).read_text()


def test_a_log_line_is_the_json_of_its_fields() -> None:
    record = logging.LogRecord("putback.station", logging.INFO, __file__, 1, "entry %s",
                               ("put_back",), None)
    record.created = 1_800_000_000.1234
    extra = {"seq": 7, "entry_id": "e-1", "order_id": None, "ratio": 0.5, "ok": True,
             "operator": "SV-0001", "where": Path("/tmp/é"), "_private": "not written"}
    record.__dict__.update(extra)
    line = logs.JsonFormatter().format(record)
    assert line == json.dumps(
        {"ts": "2027-01-15T08:00:00.123+00:00", "level": "INFO", "logger": "putback.station",
         "msg": "entry put_back", "seq": 7, "entry_id": "e-1", "order_id": None, "ratio": 0.5,
         "ok": True, "operator": "SV-0001", "where": "/tmp/é"},
        ensure_ascii=False,
    )
