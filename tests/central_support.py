"""Central-store and sync fixtures: a throwaway PostgreSQL cluster, central stores on both engines,
a real server on loopback, and demo terminals. Registered in conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from putback_tui.central import schema
from putback_tui.central.app import create_app
from putback_tui.central.imports import import_path
from putback_tui.central.server import BackgroundServer
from putback_tui.central.storage import CentralStore, open_store
from putback_tui.config import Settings, SyncSettings, TerminalSettings
from putback_tui.dataset import DEMO_DIR, Dataset
from putback_tui.domain.entries import (
    CENTRAL_TERMINAL,
    Entry,
    EntryDetails,
    EntryKind,
    new_entry_id,
)
from putback_tui.domain.models import LineChange, StockChange
from putback_tui.ledger import Ledger
from putback_tui.ledger.load import load_dataset
from putback_tui.station import Station
from putback_tui.wire import ClientKind
from tests.support.throwaway_pg import PostgresUnavailable, ThrowawayPostgres
from tests.unavailable import unavailable


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[ThrowawayPostgres]:
    try:
        cluster = ThrowawayPostgres().start()
    except PostgresUnavailable as exc:
        unavailable("postgres", f"no PostgreSQL for the throwaway cluster: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_url(pg_cluster: ThrowawayPostgres) -> str:
    """The throwaway cluster's maintenance database (session scope)."""
    return pg_cluster.url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CentralStore]:
    """An empty, migrated central store on each engine."""
    if request.param == "sqlite":
        s = open_store(str(tmp_path / "central.sqlite3"))
        yield s
        s.close()
        return
    cluster: ThrowawayPostgres = request.getfixturevalue("pg_cluster")
    url = cluster.create_database()
    s = open_store(url)
    yield s
    s.close()
    cluster.drop_database(url)


@pytest.fixture
def pg_store(pg_cluster: ThrowawayPostgres) -> Iterator[CentralStore]:
    """An empty, migrated central store on PostgreSQL alone (for what only PostgreSQL does)."""
    url = pg_cluster.create_database()
    s = open_store(url)
    yield s
    s.close()
    pg_cluster.drop_database(url)


def put_back_entry(
    terminal: str,
    facility: str,
    seq: int,
    order_id: str,
    sku: str,
    location: str,
    *,
    created_at: datetime | None = None,
    entry_id: str | None = None,
) -> Entry:
    """One unit of ``sku`` put back to storage ``location`` for line 1 of ``order_id``.

    By operator OP-1, claiming what the rules derive for it: QOH and ATP one up, the line's
    put-back count one up (a plain put-back, as the hot path reads it).
    """
    return Entry(
        kind=EntryKind.PUT_BACK, entry_id=entry_id or new_entry_id(), seq=seq,
        terminal=terminal, facility=facility, operator="OP-1",
        created_at=created_at or datetime.now(UTC), order_id=order_id,
        details=EntryDetails(sku=sku, quantity=1, location=location),
        changes=(StockChange(sku=sku, location=location, qoh=1), StockChange(sku=sku, atp=1)),
        line_changes=(LineChange(order_id=order_id, line_no=1, put_back=1),),
    )


class CentralClock:
    """The central store's clock (``create_app(clock=...)``), moved by the test."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Central:
    """A central store loaded with the demo data, and tokens for every kind of caller."""

    store: CentralStore
    tokens: dict[str, str]


@pytest.fixture
def central(store: CentralStore) -> Central:
    import_path(store, DEMO_DIR)
    tokens = {
        "PACK-01": store.add_client("PACK-01", ClientKind.TERMINAL, "STORE-01"),
        "PACK-02": store.add_client("PACK-02", ClientKind.TERMINAL, "STORE-01"),
        "FAR-01": store.add_client("FAR-01", ClientKind.TERMINAL, "STORE-99"),
        "OMS": store.add_client("OMS", ClientKind.SYSTEM, None),
    }
    return Central(store, tokens)


def from_terminals(store: CentralStore) -> list[tuple[str, str, str | None]]:
    """What the terminals sent, as the central store recorded it: its own releases left out."""
    own = set(store.recorded(CENTRAL_TERMINAL))
    return [r for r in store.recorded() if r not in own]


@pytest.fixture
def server(central: Central) -> Iterator[BackgroundServer]:
    """The central store's API served by uvicorn on 127.0.0.1 in a thread."""
    srv = BackgroundServer(create_app(central.store))
    srv.start()
    yield srv
    srv.stop()


@dataclass
class Terminal:
    """A demo terminal: its ledger file, settings and a signed-in station."""

    path: Path
    settings: Settings
    ledger: Ledger
    station: Station

    def sync_settings(
        self, url: str, token: str, batch_size: int = 200, max_batch_size: int | None = None
    ) -> SyncSettings:
        """Batches of ``batch_size`` (growing to ``max_batch_size`` when given)."""
        return SyncSettings(url=url, token=SecretStr(token), batch_size=batch_size,
                            max_batch_size=max_batch_size or batch_size, interval_s=0.05)


MakeTerminal = Callable[..., Terminal]


@pytest.fixture
def make_terminal(tmp_path: Path) -> Iterator[MakeTerminal]:
    """Build demo terminals (ledger initialised from data/demo, operator signed in)."""
    made: list[Ledger] = []

    def make(name: str = "PACK-01", facility: str = "STORE-01", badge: str = "SV-0001") -> Terminal:
        path = tmp_path / name / "putback.sqlite3"
        ledger = Ledger(path)
        made.append(ledger)
        load_dataset(ledger, Dataset(DEMO_DIR), facility)
        settings = Settings(terminal=TerminalSettings(id=name, facility=facility))
        station = Station(ledger, settings)
        station.sign_in(badge)
        return Terminal(path, settings, ledger, station)

    yield make
    for ledger in made:
        ledger.close()


def store_at_schema(url: str, version: int, monkeypatch: pytest.MonkeyPatch) -> CentralStore:
    """A central store opened (made, or upgraded) only as far as migration ``version``."""
    with monkeypatch.context() as m:
        m.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:version])
        return open_store(url)


_PROGRESS = ("rev", "units_to_put_back", "units_reserved")
"""Columns of ``orders`` before migration 13, kept in ``order_progress`` since."""


def rows_in_columns(
    store: CentralStore, tables: tuple[str, ...], columns: dict[str, list[str]]
) -> dict[str, list[tuple[object, ...]]]:
    """Each of ``tables``' rows in ``store``, in the ``columns`` an earlier schema gave it.

    An order's revision and sums, which this schema keeps in ``order_progress``, are read
    there (for ``orders`` as :func:`columns_at_schema` gives it before migration 13).
    """
    out: dict[str, list[tuple[object, ...]]] = {}
    with store.engine.read() as tx:
        for table in tables:
            if table == "orders":
                names = [f"p.{c}" if c in _PROGRESS else f"o.{c}" for c in columns[table]]
                source = ("orders o JOIN order_progress p "
                          "ON p.facility = o.facility AND p.order_id = o.order_id")
            else:
                names, source = columns[table], table
            out[table] = tx.all(f"SELECT {', '.join(names)} FROM {source}")
    return out


def columns_at_schema(
    path: Path, version: int, tables: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> dict[str, list[str]]:
    """Each of ``tables``' columns as ``version`` made them (read off a fresh SQLite database)."""
    store = store_at_schema(str(path), version, monkeypatch)
    try:
        with store.engine.read() as tx:
            return {
                t: [r[0] for r in tx.all("SELECT name FROM pragma_table_info(?)", (t,))]
                for t in tables
            }
    finally:
        store.close()
