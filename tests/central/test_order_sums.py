"""Each order's units to put back and reserved, kept for the backlog, always equal its lines.

The backlog reads the waiting orders alone (central migration 10): the sums must follow every
write of a line. Random work of two terminals (put-backs, undo, rejects, cancels, line edits,
refusals when they collide), the OMS's status changes (the central store's releases) and
re-imports are checked after every step, on SQLite and PostgreSQL, against the sums over the
lines in SQL (what `putback central doctor` checks) and against the domain's rules in Python.
An upgrade from a version-9 database with data fills the sums in.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from putback_tui.central import schema
from putback_tui.central.backlog import order_sums
from putback_tui.central.imports import import_path
from putback_tui.central.storage import CentralStore, Client, PostgresEngine, open_store
from putback_tui.cli import cli
from putback_tui.dataset import DEMO_DIR, Dataset
from putback_tui.domain.models import Order, OrderStatus, now_utc
from putback_tui.wire import ClientKind
from tests.central.test_derive_properties import ORDERS, _act, _terminal
from tests.central_support import (
    MakeTerminal,
    columns_at_schema,
    rows_in_columns,
    store_at_schema,
)
from tests.support.throwaway_pg import ThrowawayPostgres

ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
EXCEPTIONS = [OrderStatus.CANCELLED, OrderStatus.DELETED, OrderStatus.FAILED,
              OrderStatus.REJECTED]


def _kept(store: CentralStore) -> dict[str, tuple[int, int]]:
    with store.engine.read() as tx:
        return {
            str(r[0]): (int(r[1]), int(r[2]))
            for r in tx.all(
                "SELECT order_id, units_to_put_back, units_reserved FROM order_progress"
            )
        }


def _assert_sums_follow_the_lines(store: CentralStore) -> None:
    assert store.health().sums_astray == (0, [])
    kept = _kept(store)
    for order_id in kept:
        order = store.order(order_id)
        assert order is not None
        assert kept[order_id] == order_sums(order), order_id


@contextmanager
def _store_on(engine: str, root: Path, request: pytest.FixtureRequest) -> Iterator[CentralStore]:
    if engine == "sqlite":
        store = open_store(str(root / "central.sqlite3"))
        try:
            yield store
        finally:
            store.close()
        return
    cluster: ThrowawayPostgres = request.getfixturevalue("pg_cluster")
    url = cluster.create_database()
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()
        cluster.drop_database(url)


def _reimported(order_id: str, data: st.DataObject) -> Order:
    """A demo order as the OMS sends it again: its status and its lines' picked may change."""
    order = next(o for o in Dataset(DEMO_DIR).orders() if o.order_id == order_id)
    lines = []
    for line in order.lines:
        picked = data.draw(st.integers(0, line.quantity))
        lines.append(line.model_copy(update={"picked": picked}))
    status = data.draw(st.sampled_from([order.status, *EXCEPTIONS]))
    return order.model_copy(update={"lines": tuple(lines), "status": status})


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_kept_sums_equal_the_lines_after_any_work(
    engine: str, request: pytest.FixtureRequest, data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with _store_on(engine, root, request) as store:
            import_path(store, DEMO_DIR)
            _assert_sums_follow_the_lines(store)
            names = ["PACK-01", "PACK-02"]
            for name in names:
                store.add_client(name, ClientKind.TERMINAL, "STORE-01")
            stations = [_terminal(root, name) for name in names]
            sent = [0, 0]
            try:
                for _ in range(data.draw(st.integers(1, 20))):
                    step = data.draw(st.sampled_from(["act", "act", "push", "status", "import"]))
                    i = data.draw(st.integers(0, 1))
                    if step == "act":
                        _act(stations[i], data)
                        continue
                    if step == "push":
                        entries = stations[i].ledger.entries()[sent[i]:]
                        sent[i] += len(entries)
                        client = Client(names[i], ClientKind.TERMINAL, "STORE-01")
                        for r in store.ingest(client, entries) if entries else []:
                            event(f"answer: {r.code}")
                    elif step == "status":
                        # The OMS learns of an exception: the central store releases.
                        store.set_order_status(
                            data.draw(st.sampled_from(ORDERS)),
                            data.draw(st.sampled_from(EXCEPTIONS)),
                        )
                    else:
                        store.import_data(
                            orders=[_reimported(data.draw(st.sampled_from(ORDERS)), data)]
                        )
                    event(step)
                    _assert_sums_follow_the_lines(store)
            finally:
                for s in stations:
                    s.ledger.close()


# -- the upgrades from versions 9 and 12 ----------------------------------------------------

_TABLES = ("counters", "clients", "entries", "products", "locations", "operators", "orders",
           "order_lines", "stock_qoh", "stock_atp", "roles", "site_reasons", "viewers",
           "terminal_contacts", "reason_counts", "claims", "ingest_failures")


@pytest.mark.parametrize("version", [9, 12])
@pytest.mark.parametrize("engine", ENGINES)
def test_an_upgrade_keeps_every_order_s_sums_and_revision(
    engine: str, version: int, make_terminal: MakeTerminal, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> None:
    """A version-9 or version-12 database with orders at every stage (released at import,
    partly and wholly put back, force-cancelled, a refused entry, cancelled by the OMS, live)
    is migrated: each order's sums are its lines' (version 9 kept none: migration 10 fills
    them in; version 12 kept them on the order: migration 13 carries them over to
    ``order_progress`` with its revision), the backlog and the changes feed answer exactly as
    a store that was always at this version, and ingest keeps the sums from there.
    """
    # The old version's rows: this code's work, copied in that version's columns into a
    # database of the same engine migrated only as far as that version.
    (tmp_path / "now").mkdir()
    with _store_on(engine, tmp_path / "now", request) as now:
        import_path(now, DEMO_DIR)
        now.add_client("PACK-01", ClientKind.TERMINAL, "STORE-01")
        now.add_client("PACK-02", ClientKind.TERMINAL, "STORE-01")
        pack = Client("PACK-01", ClientKind.TERMINAL, "STORE-01")
        one, two = make_terminal("PACK-01"), make_terminal("PACK-02")
        one.station.force_cancel("D-1008")
        one.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
        one.station.put_back("D-1004", 1, "BOTTLE-1L", "B-01-01")
        now.ingest(pack, one.ledger.entries())
        two.station.put_back("D-1004", 1, "BOTTLE-1L", "B-01-01")  # done already: refused
        now.ingest(Client("PACK-02", ClientKind.TERMINAL, "STORE-01"), two.ledger.entries())
        now.set_order_status("D-1006", OrderStatus.CANCELLED)
        kept = _kept(now)
        assert any(n[0] for n in kept.values())
        assert any(n[1] for n in kept.values())  # D-1005, live
        at = now_utc() + timedelta(minutes=5)
        answer = now.backlog(["STORE-01"], at)
        changes = now.changes(pack, 0, 10_000)
        columns = columns_at_schema(tmp_path / "columns.sqlite3", version, _TABLES, monkeypatch)
        dump = rows_in_columns(now, _TABLES, columns)
        with now.engine.read() as tx:
            revision = tx.revision()
        url = (request.getfixturevalue("pg_cluster").create_database()
               if isinstance(now.engine, PostgresEngine) else str(tmp_path / "old.sqlite3"))
    target = store_at_schema(url, version, monkeypatch)
    try:
        with target.engine.write() as tx:
            tx.run("DELETE FROM counters")
            for table, rows in dump.items():
                if rows:
                    marks = ", ".join("?" * len(rows[0]))
                    tx.many(
                        f"INSERT INTO {table} ({', '.join(columns[table])}) VALUES ({marks})",
                        rows,
                    )
            if isinstance(target.engine, PostgresEngine):
                tx.run("SELECT setval('central_revs', ?, true)", (revision,))
            assert tx.all("SELECT MAX(version) FROM central_schema") == [(version,)]
            assert ("units_to_put_back" in columns["orders"]) == (version == 12)
    finally:
        target.close()
    upgraded = open_store(url)
    try:
        assert upgraded.health().schema_version == schema.MIGRATIONS[-1].version
        assert _kept(upgraded) == kept
        _assert_sums_follow_the_lines(upgraded)
        assert upgraded.backlog(["STORE-01"], at) == answer
        assert upgraded.changes(pack, 0, 10_000) == changes
        # D-1002's second line (2 units) put back after the upgrade: kept by ingest.
        one.station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01", 2)
        later = one.ledger.entries()[-1:]
        upgraded.ingest(pack, later)
        assert _kept(upgraded)["D-1002"][0] == kept["D-1002"][0] - 2
        _assert_sums_follow_the_lines(upgraded)
        # And `putback central doctor` says so.
        result = CliRunner().invoke(cli, ["central", "doctor", "--db", url])
        assert "order sums: every order's units to put back and reserved match its lines" in (
            result.output
        )
    finally:
        upgraded.close()


def test_central_doctor_names_an_order_whose_sums_are_astray(tmp_path: Path) -> None:
    """Lines written past the sums (by hand, in the database) fail the doctor, naming the order."""
    path = tmp_path / "central.sqlite3"
    store = open_store(str(path))
    try:
        import_path(store, DEMO_DIR)
        with store.engine.write() as tx:
            tx.run("UPDATE order_lines SET put_back = put_back + 1 "
                   "WHERE order_id = 'D-1002' AND line_no = 1")
    finally:
        store.close()
    result = CliRunner().invoke(cli, ["central", "doctor", "--db", str(path)])
    assert result.exit_code == 1
    assert "order sums: 1 order whose units to put back or reserved differ from the sums " \
           "over their lines (first: D-1002)" in result.output
