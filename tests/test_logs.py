"""The log file: one JSON line per action, rotated, never a token."""

from __future__ import annotations

import json
import logging
import logging.handlers
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
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
    # logs.RotatingLog formats each record once and never stats the file, and the app writes
    # through it from a thread of its own (logs.LogWriter): the same lines, in the same files,
    # rotated at the same records as the stdlib's handler.
    handlers: list[logging.Handler] = []
    stdlib = logging.handlers.RotatingFileHandler
    kinds = (("ours", logs.RotatingLog), ("stdlib", stdlib), ("thread", logs.RotatingLog))
    for name, kind in kinds:
        (tmp_path / name).mkdir()
        handler = kind(tmp_path / name / logs.LOG_NAME, maxBytes=1_000, backupCount=2,
                       encoding="utf-8")
        handler.addFilter(logs.RedactingFilter(["s3cr3t"]))
        handler.setFormatter(logs.JsonFormatter())
        handlers.append(logs.LogWriter(handler, max_pending=7) if name == "thread" else handler)
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
    for ours in ("ours", "thread"):
        assert sorted(p.name for p in (tmp_path / ours).iterdir()) == names
        for name in names:
            assert (tmp_path / ours / name).read_text() == (tmp_path / "stdlib" / name).read_text()


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


class Gate(logging.Handler):
    """A handler that writes (keeps) a record's message only once the gate is opened."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = threading.Event()
        self.entered = threading.Event()
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.entered.set()
        self.opened.wait()
        self.lines.append(record.getMessage())
        self.records.append(record)


@pytest.fixture
def gated() -> Iterator[tuple[Gate, logs.LogWriter]]:
    """The ``putback`` loggers sent through a LogWriter to a closed :class:`Gate`."""
    gate = Gate()
    writer = logs.LogWriter(gate)
    logs.attach(writer)
    try:
        yield gate, writer
    finally:
        gate.opened.set()
        logs.close()


@pytest.fixture
def demo_home(isolated_home: Path) -> Path:
    """The demo's terminal, set up by ``putback init --demo`` (which configures the log)."""
    assert CliRunner().invoke(cli, ["init", "--demo"]).exit_code == 0
    return isolated_home


def test_an_action_does_not_wait_for_its_log_line(
    demo_home: Path, gated: tuple[Gate, logs.LogWriter]
) -> None:
    # The line is written by the log's own thread: with its file stuck (the gate shut), the
    # put-back is made and returns; the line follows once the file takes it.
    gate, writer = gated
    ledger = Ledger(resolve_paths().db_path)
    station = Station(ledger, Settings())
    station.sign_in("OP-0001")
    entry = station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    assert ledger.entries()[-1].entry_id == entry.entry_id
    assert gate.lines == []
    gate.opened.set()
    writer.flush()
    assert gate.lines == ["entry put_back"]
    ledger.close()


def test_a_busy_writer_makes_the_logging_thread_wait_and_drops_nothing(
    gated: tuple[Gate, logs.LogWriter],
) -> None:
    gate, writer = gated
    writer.max_pending = 2
    log = logging.getLogger("putback.test")
    done: list[int] = []

    def produce() -> None:
        for i in range(6):
            log.info("line %s", i)
            done.append(i)

    producer = threading.Thread(target=produce)
    producer.start()
    assert gate.entered.wait(timeout=30)
    # The writer holds the first line; past two waiting, the producer waits for it (it cannot
    # finish while the file takes nothing).
    producer.join(timeout=0.5)
    assert producer.is_alive()
    assert len(done) < 6
    gate.opened.set()
    producer.join()
    writer.flush()
    assert gate.lines == [f"line {i}" for i in range(6)]


def test_two_threads_handing_over_at_once_still_wake_the_writer(
    gated: tuple[Gate, logs.LogWriter],
) -> None:
    # The writer waits on an empty queue. Thread B appends its record and, before B looks
    # whether the queue was empty, thread A logs: each sees two records waiting. Woken only
    # "when the queue was empty", the writer slept on, and the lines waited for the next
    # warning (in a running terminal, possibly never).
    gate, writer = gated
    gate.opened.set()
    log = logging.getLogger("putback.test")
    log.info("first")
    writer.flush()
    b = log.makeRecord(log.name, logging.INFO, __file__, 0, "from B", None, None)
    writer._pending.append(b)  # B's append; B's look at the queue comes later (or never)
    log.info("from A")
    deadline = time.monotonic() + 30  # a bound on the wait, not a figure
    while len(gate.lines) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gate.lines == ["first", "from B", "from A"]


def test_lines_of_many_threads_are_all_written_each_in_its_order(tmp_path: Path) -> None:
    path = logs.configure(tmp_path)
    log = logging.getLogger("putback.test")

    def produce(name: str) -> None:
        for i in range(300):
            log.info("line", extra={"producer": name, "i": i})

    threads = [threading.Thread(target=produce, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logs.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 1_200
    for n in range(4):
        assert [r["i"] for r in records if r["producer"] == f"t{n}"] == list(range(300))


def test_a_warning_is_in_the_file_when_the_call_returns(tmp_path: Path) -> None:
    path = logs.configure(tmp_path)
    log = logging.getLogger("putback.test")
    log.info("first")
    log.warning("second")
    assert [json.loads(line)["msg"] for line in path.read_text().splitlines()] == [
        "first", "second"]
    logs.close()


def test_a_line_says_what_its_values_were_when_it_was_logged(
    tmp_path: Path, gated: tuple[Gate, logs.LogWriter]
) -> None:
    # The writer formats later: what could change meanwhile is taken as it is at the call.
    gate, writer = gated
    items = ["a"]
    where = {"path": "before"}

    class Where:
        def __str__(self) -> str:
            return where["path"]

    logging.getLogger("putback.test").info("items %s", items, extra={"where": Where()})
    items.append("b")
    where["path"] = "after"
    gate.opened.set()
    writer.flush()
    assert gate.lines == ["items ['a']"]
    logs.close()
    path = logs.configure(tmp_path)
    logging.getLogger("putback.test").info("x", extra={"where": Where()})
    where["path"] = "later"
    logs.close()
    assert json.loads(path.read_text())["where"] == "after"


def test_lines_are_written_at_exit_and_by_a_forked_child(tmp_path: Path) -> None:
    # A command's last lines reach the file at the interpreter's exit (logging.shutdown); a
    # child forked from a process with the log writes its own lines, once each.
    script = textwrap.dedent(f"""
        import logging, os
        from pathlib import Path
        from putback_tui import logs
        logs.configure(Path({str(tmp_path)!r}))
        log = logging.getLogger("putback.test")
        log.info("parent before")
        pid = os.fork()
        if pid == 0:
            log.info("child")
            logs.close()
            os._exit(0)
        os.waitpid(pid, 0)
        log.info("parent after")
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    lines = (tmp_path / logs.LOG_NAME).read_text().splitlines()
    assert [json.loads(line)["msg"] for line in lines] == ["parent before", "child", "parent after"]


def test_a_line_logged_later_is_the_line_logged_now_at_the_time_of_the_call(
    tmp_path: Path, gated: tuple[Gate, logs.LogWriter]
) -> None:
    # logs.later hands the call to the writer, which makes the record: the same line as
    # log.info would write, with the time of the call, not of the writing.
    gate, writer = gated
    log = logging.getLogger("putback.station")
    fields: dict[str, object] = {"seq": 7, "entry_id": "e-1", "order_id": None, "ratio": 0.5}
    log.info("first")  # the writer waits in the gate with it
    assert gate.entered.wait(timeout=30)
    logs.later(log, logging.INFO, "entry %s", "put_back", extra=fields)
    returned = time.time()
    logs.later(log, logging.DEBUG, "not enabled %s", "x")
    gate.opened.set()
    writer.flush()
    assert gate.lines == ["first", "entry put_back"]
    record = gate.records[1]
    assert record.created <= returned
    assert (record.name, record.levelname, record.seq) == ("putback.station", "INFO", 7)  # type: ignore[attr-defined]

    path = logs.configure(tmp_path)
    logs.later(log, logging.INFO, "entry %s", "put_back", extra=fields)
    log.info("entry %s", "put_back", extra=fields)
    logs.close()
    later, now = (json.loads(line) for line in path.read_text().splitlines())
    assert later.pop("ts")[:16] == now.pop("ts")[:16]  # the same minute, to the millisecond's
    assert later == now == {"level": "INFO", "logger": "putback.station", "msg": "entry put_back",
                            "seq": 7, "entry_id": "e-1", "order_id": None, "ratio": 0.5}


def test_a_filter_on_the_writer_keeps_its_records_out(gated: tuple[Gate, logs.LogWriter]) -> None:
    gate, writer = gated
    writer.addFilter(lambda record: "secret" not in record.getMessage())
    log = logging.getLogger("putback.test")
    log.info("kept")
    log.info("a secret line")
    gate.opened.set()
    writer.flush()
    assert gate.lines == ["kept"]
