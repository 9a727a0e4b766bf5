"""Bad input at scale: arbitrary text and bytes into barcode classification, the scanner decoder
and its recordings, the TOML configuration loader and the import commands. Never a crash:
always a result, or the specific error the function documents.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import string
import tempfile
from pathlib import Path

import pytest
import tomli_w
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from putback_tui.barcodes import CodePatterns, InvalidCode, classify, shown
from putback_tui.central.imports import import_path
from putback_tui.central.storage import open_store
from putback_tui.cli import cli
from putback_tui.config import ConfigError, Settings, load_settings
from putback_tui.dataset import DEMO_DIR, Dataset, DatasetError
from putback_tui.ledger import Ledger
from putback_tui.ledger.load import load_dataset
from putback_tui.scanners import events as ev
from putback_tui.scanners.decoder import ScanDecoder
from putback_tui.scanners.recordings import RecordingError, parse_recording

SLOW = settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=60)

any_text = st.one_of(
    st.text(),
    st.binary().map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.binary().map(lambda b: b.decode("latin-1")),
    st.text(alphabet=string.printable + "\x1b\x1d\x00\x7f\u2028\u202e", max_size=200),
)


# -- barcodes ---------------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(any_text)
@example("\udcff")
@example("]C1" + "\x1d" * 5000)
@example("0" * 100_000)
def test_classify_any_text_or_bytes_never_raises(raw: str) -> None:
    scan = classify(raw)
    assert scan.raw == raw
    if isinstance(scan, InvalidCode):
        assert scan.reason
        assert scan.shown.isprintable()


@settings(deadline=None)
@given(order=any_text, location=any_text, badge=any_text, prefix=any_text)
def test_site_code_patterns_are_accepted_or_refused_by_name(
    order: str, location: str, badge: str, prefix: str
) -> None:
    try:
        patterns = CodePatterns(order=order, location=location, badge=badge,
                                location_prefix=prefix)
    except ValidationError as exc:
        where = exc.errors()[0]["loc"]
    else:
        classify("D-1001", patterns)
        return
    assert where  # names the setting


@settings(deadline=None)
@given(any_text, st.integers(min_value=1, max_value=500))
def test_shown_makes_any_text_safe(text: str, limit: int) -> None:
    assert shown(text, limit).isprintable()


# -- the scanner decoder and recordings -------------------------------------------------------

raw_events = st.lists(
    st.builds(
        ev.RawEvent,
        type=st.sampled_from([ev.EV_SYN, ev.EV_KEY, ev.EV_KEY, ev.EV_KEY, ev.EV_MSC, 5, 0xFFFF]),
        code=st.one_of(st.integers(0, 260), st.sampled_from([ev.SYN_DROPPED, 0xFFFF, -1])),
        value=st.integers(-2, 3),
        timestamp=st.one_of(st.floats(0, 1e6), st.floats(allow_nan=True, allow_infinity=True)),
    ),
    max_size=300,
)


@SLOW
@given(raw_events, st.sampled_from(["us", "uk", "de", "fr"]), st.integers(0, 500))
def test_decoder_takes_any_event_stream(
    events: list[ev.RawEvent], layout: str, silence_ms: int
) -> None:
    decoder = ScanDecoder(layout, silence_ms=silence_ms)
    scans = decoder.feed_all(events) + decoder.finish()
    for scan in scans:
        assert isinstance(scan.text, str)
        classify(scan.text)  # and whatever it typed is classified, not crashed on


@SLOW
@given(any_text)
@example("E: 0.000001 0001 001e 0001\n")
@example("Event: time 1.0, type 1 (EV_KEY), code 30 (KEY_A), value 99999999999999999999\n")
def test_recordings_parse_or_say_where_they_are_wrong(text: str) -> None:
    try:
        recording = parse_recording(text)
    except RecordingError as exc:
        message = str(exc)
    else:
        ScanDecoder().feed_all(recording.events)
        return
    assert message


# -- configuration ----------------------------------------------------------------------------

toml_values = st.recursive(
    st.one_of(st.text(max_size=20), st.integers(), st.floats(allow_nan=False), st.booleans()),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=20,
)
known_keys = st.sampled_from(
    ["terminal", "codes", "scan", "sync", "roles", "reject_reasons", "scanners", "id", "facility",
     "order", "badge", "url", "token", "batch_size", "interval_s", "double_read_ms"]
)
toml_documents = st.dictionaries(
    st.one_of(known_keys, st.text(max_size=10)),
    st.one_of(toml_values, st.dictionaries(known_keys, toml_values, max_size=5)),
    max_size=6,
)


@SLOW
@given(st.one_of(st.binary(max_size=400), toml_documents.map(lambda d: tomli_w.dumps(d).encode())))
@example(b"\xff\xfe")
@example(b"[sync]\nbatch_size = -1\n")
@example(b"[codes]\norder = '('\n")
@example(b"[[scanners]]\ndevice = 1\n")
def test_any_config_file_loads_or_names_what_is_wrong(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.toml"
        path.write_bytes(data)
        try:
            loaded = load_settings(path)
        except ConfigError as exc:
            message = str(exc)
        else:
            assert isinstance(loaded, Settings)
            return
        assert message.startswith(str(path))


# -- import commands --------------------------------------------------------------------------

FILES = ["products", "locations", "operators", "orders", "order_lines", "stock", "atp"]


def _damaged_demo(tmp: Path, name: str, data: bytes, keep_header: bool) -> Path:
    root = tmp / "data"
    shutil.copytree(DEMO_DIR, root)
    path = root / f"{name}.csv"
    if keep_header:
        header = path.read_bytes().split(b"\n", 1)[0]
        data = header + b"\n" + data
    path.write_bytes(data)
    return root


csv_junk = st.one_of(
    st.binary(max_size=300),
    st.lists(st.lists(st.text(alphabet=string.printable + "é\x00", max_size=12), max_size=8),
             max_size=5).map(lambda rows: "\n".join(",".join(r) for r in rows).encode()),
)


@SLOW
@given(st.sampled_from(FILES), csv_junk, st.booleans())
def test_a_damaged_data_set_loads_or_names_the_file_and_line(
    name: str, data: bytes, keep_header: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = _damaged_demo(Path(tmp), name, data, keep_header)
        ledger = Ledger(Path(tmp) / "putback.sqlite3")
        try:
            load_dataset(ledger, Dataset(root), "STORE-01")
            message = f"{name}.csv"
        except DatasetError as exc:
            message = str(exc)
        finally:
            ledger.close()
        assert f"{name}.csv" in message
        store = open_store(str(Path(tmp) / "central.sqlite3"))
        try:
            import_path(store, root)
        except DatasetError as exc:
            message = str(exc)
            left = store.stock("STORE-01")
        else:
            return
        finally:
            store.close()
        assert f"{name}.csv" in message
        assert left == ({}, {})  # one transaction: nothing imported


json_junk = st.one_of(
    st.binary(max_size=300),
    st.dictionaries(st.sampled_from(["products", "locations", "operators", "orders", "stock",
                                     "atp", "x"]), toml_values, max_size=4).map(
        lambda d: json.dumps(d).encode()),
    st.just(b"[]"),
    st.just(b'{"stock": [{"facility": "S", "sku": "X", "location": "L", "qoh": -1}]}'),
)


def _rows_by_table(db: Path) -> dict[str, int]:
    """How many rows each table of a central store's SQLite file holds."""
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        conn.close()


@SLOW
@given(json_junk)
@example(b'{"products": [{"sku": "OK-1", "description": "fine"}], '
         b'"stock": [{"facility": "S", "sku": "X", "location": "L", "qoh": -1}]}')
def test_a_bad_json_import_document_is_refused_whole(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upstream.json"
        path.write_bytes(data)
        db = Path(tmp) / "central.sqlite3"
        store = open_store(str(db))
        empty = _rows_by_table(db)
        try:
            import_path(store, path)
        except DatasetError as exc:
            message = str(exc)
        else:
            return  # a valid document (an empty one, or lists that validate): imported
        finally:
            store.close()
        # Refused: the message names the file and what is wrong in it, and nothing was imported.
        assert message.startswith(f"{path}:"), message  # the file, and a line where there is one
        assert len(message) > len(f"{path}:") + 5, message
        assert _rows_by_table(db) == empty


def test_a_bad_row_in_a_json_import_names_it_and_imports_nothing(tmp_path: Path) -> None:
    path = tmp_path / "upstream.json"
    path.write_text(json.dumps({
        "products": [{"sku": "OK-1", "description": "fine"}],
        "stock": [{"facility": "STORE-01", "sku": "OK-1", "location": "A-01-01", "qoh": -1}],
    }))
    db = tmp_path / "central.sqlite3"
    store = open_store(str(db))
    empty = _rows_by_table(db)
    try:
        with pytest.raises(DatasetError) as refused:
            import_path(store, path)
    finally:
        store.close()
    assert str(refused.value) == f"{path}: stock[0].qoh: Input should be greater than or equal to 0"
    assert _rows_by_table(db) == empty  # not even the valid product before it


@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=25)
@given(st.sampled_from(FILES), csv_junk, st.booleans())
def test_the_import_commands_answer_bad_files_with_an_error_not_a_traceback(
    name: str, data: bytes, keep_header: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = _damaged_demo(Path(tmp), name, data, keep_header)
        runner = CliRunner()
        for args in (
            ["--home", str(Path(tmp) / "home"), "init", "--data", str(root)],
            ["central", "import", "--db", str(Path(tmp) / "central.sqlite3"), str(root)],
        ):
            result = runner.invoke(cli, args)
            assert result.exit_code in (0, 1), result.output
            if result.exit_code:
                assert result.exception is None or isinstance(result.exception, SystemExit), (
                    result.exception
                )
                assert "Error:" in result.output
