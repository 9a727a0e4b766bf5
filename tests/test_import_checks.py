"""Data sets and JSON imports: a bad file is refused with file, line and field, and imports nothing.

The same rows go through ``putback init --data`` (the terminal) and ``putback central import``
(both engines): each case of issue #14 point 4, then hypothesis over both formats.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from putback_tui.central.imports import import_path
from putback_tui.central.storage import CentralStore, PostgresEngine, open_store
from putback_tui.cli import cli
from putback_tui.config import resolve_paths
from putback_tui.dataset import DEMO_DIR, Dataset, DatasetError
from putback_tui.ledger import Ledger

Edit = Callable[[Path], None]


def replace_line(name: str, line: int, text: str) -> Edit:
    def edit(root: Path) -> None:
        path = root / name
        lines = path.read_text().splitlines()
        lines[line - 1] = text
        path.write_text("\n".join(lines) + "\n")

    return edit


def append_line(name: str, text: str) -> Edit:
    def edit(root: Path) -> None:
        with (root / name).open("a") as f:
            f.write(text + "\n")

    return edit


def demo_line(name: str, line: int) -> str:
    return (DEMO_DIR / name).read_text().splitlines()[line - 1]


def second_products_line_with_first_barcode() -> str:
    first = demo_line("products.csv", 2).split(",")
    second = demo_line("products.csv", 3)
    # products.csv quotes descriptions with commas: swap the barcode column from the right.
    head, _, rest = second.rpartition('",')
    fields = rest.split(",")
    fields[0] = first[-3]
    return f'{head}",{",".join(fields)}'


REFUSED = {
    "huge qoh": (
        replace_line("stock.csv", 2, "STORE-01,TSHIRT-BLK-M,A-01-01," + "1" + "0" * 23),
        "stock.csv:2: qoh: 100000000000000000000000 is too large",
    ),
    "NUL in a field": (
        replace_line("operators.csv", 2, "OP-0001,Oli\x00via,operator"),
        "operators.csv:2: name: contains a NUL character",
    ),
    "duplicate order": (
        append_line("orders.csv", "D-1002,STORE-02,cancelled,0,2026-11-20T09:30:00+00:00"),
        "orders.csv:10: order_id: D-1002 appears a second time (first at ",
    ),
    "GTIN on two SKUs": (
        lambda root: replace_line("products.csv", 3, second_products_line_with_first_barcode())(
            root
        ),
        "products.csv:3: barcodes: 04006381333931 is also a barcode of TSHIRT-BLK-M",
    ),
    "unknown role": (
        replace_line("operators.csv", 2, "OP-0001,Olivia Operator,god"),
        "operators.csv:2: role: 'god' is not a role here (known: operator, supervisor)",
    ),
    "empty number": (
        replace_line("stock.csv", 2, "STORE-01,TSHIRT-BLK-M,A-01-01,"),
        "stock.csv:2: qoh: empty; give a whole number",
    ),
}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(DEMO_DIR, root)
    return root


def init(root: Path) -> Result:
    return CliRunner().invoke(cli, ["init", "--data", str(root)])


@pytest.mark.parametrize("case", REFUSED)
def test_init_refuses_a_bad_data_set_naming_file_line_and_field(
    data: Path, isolated_home: Path, case: str
) -> None:
    edit, message = REFUSED[case]
    edit(data)
    result = init(data)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert str(data) in result.output
    assert message in result.output
    ledger = Ledger(resolve_paths().db_path, create=False)
    try:
        with ledger.read() as tx:
            assert tx.product("MUG-WHT") is None
        assert ledger.stock() == ([], [])
    finally:
        ledger.close()


def db_url(store: CentralStore) -> str:
    engine = store.engine
    return engine.url if isinstance(engine, PostgresEngine) else str(engine.path)


def products_in(store: CentralStore) -> int:
    with store.engine.read() as tx:
        return int(tx.all("SELECT COUNT(*) FROM products")[0][0])


@pytest.mark.parametrize("case", REFUSED)
def test_central_import_refuses_a_bad_data_set_and_imports_nothing(
    data: Path, store: CentralStore, case: str
) -> None:
    edit, message = REFUSED[case]
    edit(data)
    result = CliRunner().invoke(cli, ["central", "import", "--db", db_url(store), str(data)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert message in result.output
    assert "nothing was imported" in result.output
    assert products_in(store) == 0


def test_a_byte_order_mark_is_not_part_of_the_first_column(
    data: Path, isolated_home: Path
) -> None:
    for name in ("operators.csv", "stock.csv"):
        path = data / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    result = init(data)
    assert result.exit_code == 0, result.output
    ledger = Ledger(resolve_paths().db_path, create=False)
    try:
        with ledger.read() as tx:
            assert tx.operator("OP-0001") is not None
    finally:
        ledger.close()


JSON_REFUSED = {
    "huge qoh": (
        '{"stock": [{"facility": "STORE-01", "sku": "MUG-WHT", "location": "A-01-02", '
        '"qoh": 100000000000000000000000}]}',
        "stock[0].qoh: 100000000000000000000000 is too large",
    ),
    "duplicate key": (
        '{"stock": [{"facility": "STORE-01", "sku": "MUG-WHT", "location": "A-01-02", '
        '"qoh": 1, "qoh": 2}]}',
        "the key 'qoh' appears twice",
    ),
    "NUL": (
        '{"operators": [{"badge": "OP-9", "name": "N\\u0000", "role": "operator"}]}',
        "operators[0].name: contains a NUL character",
    ),
    "duplicate stock row": (
        '{"atp": [{"facility": "S", "sku": "A", "atp": 1}, {"facility": "S", "sku": "A", '
        '"atp": 2}]}',
        "atp[1]: sku: S A appears a second time",
    ),
    "NaN": ('{"atp": [{"facility": "S", "sku": "A", "atp": NaN}]}', "NaN is not a number"),
    "deep": ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
}


@pytest.mark.parametrize("case", JSON_REFUSED)
def test_central_json_import_refuses_with_the_place_named(
    tmp_path: Path, store: CentralStore, case: str
) -> None:
    text, message = JSON_REFUSED[case]
    doc = tmp_path / "import.json"
    doc.write_text(text)
    result = CliRunner().invoke(cli, ["central", "import", "--db", db_url(store), str(doc)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert f"{doc}" in result.output
    assert message in result.output
    assert products_in(store) == 0


def test_central_json_import_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    doc = tmp_path / "import.json"
    doc.write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps({"products": [{"sku": "A", "description": "a"}]}).encode()
    )
    store = open_store(str(tmp_path / "central.sqlite3"))
    try:
        assert import_path(store, doc)["products"] == 1
    finally:
        store.close()


# -- hypothesis: a result or a DatasetError, never anything else --------------------------------

NASTY_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "\x00", "\ufeff", "1" + "0" * 30, "-1", " 7 ", "1e3", "\uff19", "NaN"]),
    st.integers().map(str),
)
CSV_COLUMNS = {
    "stock.csv": 4,
    "atp.csv": 3,
    "operators.csv": 3,
    "products.csv": 5,
    "orders.csv": 5,
    "order_lines.csv": 7,
    "locations.csv": 4,
}


@hsettings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from(sorted(CSV_COLUMNS)),
    fields=st.lists(NASTY_TEXT, min_size=1, max_size=8),
    repeat=st.booleans(),
    bom=st.booleans(),
)
def test_any_csv_row_gives_a_result_or_a_dataset_error(
    tmp_path_factory: pytest.TempPathFactory, name: str, fields: list[str], repeat: bool, bom: bool
) -> None:
    root = tmp_path_factory.mktemp("data") / "set"
    shutil.copytree(DEMO_DIR, root)
    row = ",".join('"' + f.replace('"', '""') + '"' for f in fields)
    path = root / name
    body = path.read_text() + row + "\n" + (demo_line(name, 2) + "\n" if repeat else "")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8", "surrogatepass"))
    data = Dataset(root)
    message = None
    try:
        for read in (data.products, data.locations, data.operators, data.orders, data.stock,
                     data.atp):
            for _ in read():
                pass
    except DatasetError as exc:
        message = str(exc)
    assert message is None or str(root) in message


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=8),
        st.sampled_from([10**23, -(10**23), "\x00", "\ufeff"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
STOCK_ROW = st.fixed_dictionaries(
    {"facility": st.sampled_from(["STORE-01", "S\x00"]), "sku": st.sampled_from(["A", "B"]),
     "location": st.just("L"), "qoh": st.one_of(st.integers(), st.just(10**23), JSON_VALUES)}
)


@hsettings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    doc=st.one_of(
        st.fixed_dictionaries({"stock": st.lists(STOCK_ROW, max_size=3)}),
        st.dictionaries(
            st.sampled_from(["products", "locations", "operators", "orders", "stock", "atp"]),
            st.lists(JSON_VALUES, max_size=3),
            max_size=2,
        ),
        JSON_VALUES,
    ),
    duplicate_key=st.booleans(),
    bom=st.booleans(),
)
def test_any_json_document_gives_a_result_or_a_dataset_error(
    tmp_path_factory: pytest.TempPathFactory, doc: object, duplicate_key: bool, bom: bool
) -> None:
    directory = tmp_path_factory.mktemp("json")
    text = json.dumps(doc)
    if duplicate_key and text.startswith("{") and text != "{}":
        text = text[:-1] + ', "stock": []}'
    path = directory / "import.json"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8", "surrogatepass"))
    store = open_store(str(directory / "central.sqlite3"))
    message = None
    try:
        import_path(store, path)
    except DatasetError as exc:
        message = str(exc)
    finally:
        store.close()
    assert message is None or str(path) in message
